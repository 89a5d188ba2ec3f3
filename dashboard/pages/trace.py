"""Trace detail (`?trace_id=…[&span_id=…]`, linkable): span tree, waterfall, the selected
span's inputs/outputs, attributes and events, assessments and a human-feedback form."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import _feedback, _store, _tree
from dashboard import _format as fmt
from dashboard import _render as render
from dashboard._nav import session_link
from llmtrace.exceptions import LlmtraceError, NotFoundError
from llmtrace.store import Span, Trace, TraceInfo, filter_literal

MAX_ERRORS_LISTED = 5


def _resolve(url: str) -> str | None:
    """The trace id from the URL, or asked for (a unique prefix is enough)."""
    trace_id = st.query_params.get("trace_id")
    if trace_id:
        return trace_id
    st.title("Trace")
    prefix = st.text_input("Trace id (or a unique prefix)").strip().lower()
    if not prefix:
        st.info("Open a trace from the Traces or Sessions page, or paste its id.")
        return None
    if not all(c in "0123456789abcdef" for c in prefix):
        st.error("A trace id is hexadecimal.")
        return None
    page = _store.search_traces(url, f"trace_id like {filter_literal(prefix + '%')}", (), 2, None)
    if len(page.traces) != 1:
        st.error("No trace has this id." if not page.traces else "Several traces match.")
        return None
    st.query_params["trace_id"] = page.traces[0].trace_id
    return page.traces[0].trace_id


def _header(info: TraceInfo) -> None:
    st.title(info.name or "(unnamed trace)")
    st.caption(f"trace `{info.trace_id}` · project `{info.project}` · {fmt.when(info.start_time)}")
    cols = st.columns(6)
    cols[0].metric("Status", fmt.status(info.status))
    cols[1].metric("Latency", fmt.ms(info.duration_ms))
    cols[2].metric("Spans", f"{info.span_count:,}")
    cols[3].metric(
        "Tokens",
        fmt.tokens(info.total_tokens),
        help=f"input {info.input_tokens:,} · output {info.output_tokens:,}",
    )
    cols[4].metric("Cost", fmt.usd(info.cost))
    cols[5].metric("Errors", f"{info.error_count:,}")
    details = []
    if info.session_id:
        details.append(f"session [`{info.session_id}`]({session_link(info.session_id)})")
    if info.user_id:
        details.append(f"user `{info.user_id}`")
    if info.run_id:
        details.append(f"run `{info.run_id}`")
    if info.tags:
        details.append("tags " + ", ".join(f"`{k}={v}`" for k, v in sorted(info.tags.items())))
    if details:
        st.markdown(" · ".join(details))
    if info.metadata:
        with st.expander("Metadata"):
            st.json(info.metadata, expanded=False)
    if info.status == "UNSET":
        st.info("The root span of this trace has not arrived yet: totals may grow.")


def _errors(trace: Trace) -> None:
    failed = [s for s in trace.spans if s.status == "ERROR"]
    if not failed:
        return
    lines = [f"- **{s.name}**: {s.status_message or 'error'}" for s in failed[:MAX_ERRORS_LISTED]]
    more = len(failed) - MAX_ERRORS_LISTED
    if more > 0:
        lines.append(f"- … and {more:,} more (find them with the span filter)")
    st.error(f"{len(failed):,} span(s) failed:\n" + "\n".join(lines))


def _tree_controls(trace: Trace) -> tuple[list[_tree.Row], int]:
    key = trace.trace_id
    collapsed: set[str] = st.session_state.setdefault(f"collapsed_{key}", set())
    expanded: set[str] = st.session_state.setdefault(f"expanded_{key}", set())
    cols = st.columns([2, 1, 1])
    find = cols[0].text_input("Find span", key=f"find_{key}", placeholder="name contains…")
    depth = cols[1].number_input(
        "Max depth",
        min_value=0,
        value=_tree.default_depth(trace),
        step=1,
        key=f"depth_{key}",
        help="Deepest level shown (0 = the root only); deeper spans are collapsed under ▸. "
        "Empty for the whole tree.",
    )
    rows = _tree.visible_rows(
        trace,
        collapsed=collapsed,
        expanded=expanded,
        max_depth=None if depth is None else int(depth),
        find=find,
    )
    pages = _tree.page_count(rows)
    page = int(
        cols[2].number_input("Tree page", min_value=1, max_value=pages, value=1, key=f"tp_{key}")
    )
    shown = _tree.page_of(rows, page)
    if pages > 1 or len(rows) < len(trace.spans):
        st.caption(
            f"Showing rows {(page - 1) * _tree.PAGE_ROWS + 1:,} to "
            f"{(page - 1) * _tree.PAGE_ROWS + len(shown):,} of {len(rows):,} visible "
            f"({len(trace.spans):,} spans in the trace; at most {_tree.PAGE_ROWS} rows are drawn "
            "at a time, collapsed spans are marked ▸)."
        )
    return shown, page


def _toggle_button(trace: Trace, rows: list[_tree.Row], span: Span) -> None:
    """Collapse or expand the selected span's children."""
    row = next((r for r in rows if r.span is span), None)
    if row is None or not span.children:
        return
    collapsed: set[str] = st.session_state[f"collapsed_{trace.trace_id}"]
    expanded: set[str] = st.session_state[f"expanded_{trace.trace_id}"]

    def toggle() -> None:
        if row.collapsed:
            collapsed.discard(span.span_id)
            expanded.add(span.span_id)
        else:
            collapsed.add(span.span_id)
            expanded.discard(span.span_id)

    label = "Expand" if row.collapsed else "Collapse"
    st.button(f"{label} {span.name} ({len(span.children)} children)", on_click=toggle)


def _tree_table(trace: Trace, rows: list[_tree.Row], page: int) -> Span | None:
    start = trace.info.start_time
    frame = pd.DataFrame(
        {
            "span": [r.label for r in rows],
            "type": [r.span.span_type for r in rows],
            "status": [fmt.status(r.span.status) for r in rows],
            "start_ms": [(r.span.start_time - start).total_seconds() * 1000 for r in rows],
            "duration_ms": [r.span.duration_ms for r in rows],
            "tokens": [
                (r.span.input_tokens or 0) + (r.span.output_tokens or 0) or None for r in rows
            ],
            "model": [r.span.model or "" for r in rows],
        }
    )
    event = st.dataframe(
        frame,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=f"tree_{trace.trace_id}_{page}",
        width="stretch",
        height=min(38 + 35 * len(rows), 600),
        column_config={
            "start_ms": st.column_config.NumberColumn("start (ms)", format="%.1f"),
            "duration_ms": st.column_config.NumberColumn("duration (ms)", format="%.1f"),
        },
    )
    if event.selection.rows:
        chosen = rows[event.selection.rows[0]].span
        st.query_params["span_id"] = chosen.span_id
        return chosen
    wanted = st.query_params.get("span_id")
    by_id = {s.span_id: s for s in trace.spans} if wanted else {}
    return by_id.get(wanted or "") or trace.root


def waterfall(trace: Trace, rows: list[_tree.Row]) -> alt.Chart:
    """Start/end bars of the spans of `rows`, in tree order."""
    start = trace.info.start_time
    frame = pd.DataFrame(
        {
            "order": range(len(rows)),
            "span": [f"{i + 1:>4} {r.span.name}" for i, r in enumerate(rows)],
            "start_ms": [(r.span.start_time - start).total_seconds() * 1000 for r in rows],
            "end_ms": [(r.span.end_time - start).total_seconds() * 1000 for r in rows],
            "duration_ms": [r.span.duration_ms for r in rows],
            "type": [r.span.span_type for r in rows],
            "status": [r.span.status for r in rows],
        }
    )
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("start_ms:Q", title="ms since trace start"),
            x2="end_ms:Q",
            y=alt.Y("span:N", sort=alt.EncodingSortField("order"), title=None),
            color=alt.Color("type:N", title="span type"),
            stroke=alt.condition("datum.status == 'ERROR'", alt.value("red"), alt.value(None)),
            tooltip=["span", "type", "status", "start_ms", "duration_ms"],
        )
        .properties(height=max(120, 18 * len(rows)))
    )
    return chart


def _span_detail(span: Span) -> None:
    st.subheader(span.name or "(unnamed span)")
    st.caption(
        f"{span.span_type} · {fmt.status(span.status)} · span `{span.span_id}`"
        + (f" · model `{span.model}`" if span.model else "")
    )
    cols = st.columns(4)
    cols[0].metric("Duration", fmt.ms(span.duration_ms))
    cols[1].metric("Input tokens", fmt.tokens(span.input_tokens))
    cols[2].metric("Output tokens", fmt.tokens(span.output_tokens))
    cols[3].metric("Cost", fmt.usd(span.cost))
    if span.status == "ERROR":
        st.error(f"Error: {span.status_message or 'the span failed'}")
    tabs = st.tabs(["Inputs", "Outputs", "Attributes", f"Events ({len(span.events)})"])
    with tabs[0]:
        render.render_payload(span.inputs)
    with tabs[1]:
        docs = render.span_documents(span.attributes)
        if docs is not None and render.documents(span.outputs) is None:
            render.render_documents(docs)
        render.render_payload(span.outputs)
    with tabs[2]:
        st.json(span.attributes, expanded=False)
    with tabs[3]:
        render.render_events(span.events) if span.events else st.caption("(no events)")


def _assessments(url: str, trace_id: str, selected: Span | None) -> None:
    st.subheader("Assessments")
    listing = st.container()
    _feedback.form(_store.get_store(), trace_id, selected)
    found = _store.get_assessments(url, trace_id)
    if not found:
        listing.caption("No assessments yet.")
        return
    listing.dataframe(
        pd.DataFrame(
            {
                "name": [a.name for a in found],
                "value": [repr(a.value) for a in found],
                "source": [a.source_type for a in found],
                "source_id": [a.source_id or "" for a in found],
                "span": [a.span_id or "(trace)" for a in found],
                "rationale": [a.rationale or "" for a in found],
                "error": [a.error or "" for a in found],
                "created": [fmt.when(a.created_at) for a in found],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def main() -> None:
    """Render the page."""
    _store.get_store()
    url = _store.store_url() or ""
    trace_id = _resolve(url)
    if trace_id is None:
        return
    try:
        trace = _store.get_trace(url, trace_id)
    except NotFoundError:
        st.title("Trace")
        st.error(f"No trace `{trace_id}` in this store.")
        return
    except LlmtraceError as exc:
        st.error(f"Cannot load trace `{trace_id}`: {exc}")
        return
    _header(trace.info)
    _errors(trace)
    st.subheader("Spans")
    rows, page = _tree_controls(trace)
    left, right = st.columns([2, 3])
    with left:
        selected = _tree_table(trace, rows, page) if rows else None
        if not rows:
            st.caption("No span matches.")
        elif selected is not None:
            _toggle_button(trace, rows, selected)
    with right:
        if selected is not None:
            _span_detail(selected)
    st.subheader("Timeline")
    if rows:
        st.caption(f"The {len(rows)} spans of the tree rows shown above, in the same order.")
        st.altair_chart(waterfall(trace, rows), width="stretch")
    _assessments(url, trace.trace_id, selected)


main()
