"""Traces: a paginated, sortable, filterable list; selecting a row opens the trace."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd
import streamlit as st

from dashboard import _format as fmt
from dashboard import _store
from dashboard._nav import TRACE_PAGE, trace_link
from llmtrace.exceptions import FilterSyntaxError, LlmtraceError
from llmtrace.semconv import SpanType
from llmtrace.store import TraceInfo, filter_literal

TIME_RANGES = {
    "Any time": None,
    "Last 15 minutes": timedelta(minutes=15),
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
}
STATUSES = ("Any", "OK", "ERROR", "UNSET")
ORDERS = {
    "Newest first": "start_time desc",
    "Oldest first": "start_time asc",
    "Slowest first": "latency_ms desc",
    "Most tokens first": "tokens desc",
    "Most expensive first": "cost desc",
    "Name A→Z": "name asc",
}
PAGE_SIZES = (25, 50, 100, 200)
ANY = "Any"


@dataclass(frozen=True)
class Query:
    """What the user asked for; the effective filter is computed once per distinct query, so
    that page tokens stay valid (a token only works with the query that produced it)."""

    text: str
    time_range: str
    status: str
    model: str
    span_type: str
    order: str
    limit: int


def build_filter(query: Query, now: datetime) -> str | None:
    """The filter-language text of the query: the user's filter and the quick filters."""
    parts: list[str] = []
    if query.text.strip():
        parts.append(f"({query.text.strip()})")
    window = TIME_RANGES.get(query.time_range)
    if window is not None:
        since = (now - window).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(f"start_time >= '{since}'")
    if query.status != ANY:
        parts.append(f"status = {filter_literal(query.status)}")
    if query.model != ANY:
        parts.append(f"span.model = {filter_literal(query.model)}")
    if query.span_type != ANY:
        parts.append(f"span.type = {filter_literal(query.span_type)}")
    return " and ".join(parts) or None


def _state() -> tuple[Query, str | None, list[str | None]]:
    """The current query, its effective filter and the stack of page tokens."""
    query = Query(
        text=st.session_state.get("traces_filter", ""),
        time_range=st.session_state.get("traces_time", "Any time"),
        status=st.session_state.get("traces_status", ANY),
        model=st.session_state.get("traces_model", ANY),
        span_type=st.session_state.get("traces_type", ANY),
        order=st.session_state.get("traces_order", "Newest first"),
        limit=int(st.session_state.get("traces_limit", 50)),
    )
    # Compared as a tuple: the page script (and so the class) is re-executed on every rerun.
    if st.session_state.get("traces_query") != astuple(query):
        st.session_state["traces_query"] = astuple(query)
        st.session_state["traces_effective"] = build_filter(query, datetime.now(timezone.utc))
        st.session_state["traces_tokens"] = [None]
    return query, st.session_state["traces_effective"], st.session_state["traces_tokens"]


def _controls(url: str) -> None:
    st.text_input(
        "Filter",
        key="traces_filter",
        placeholder="status = 'ERROR' and latency_ms > 500 and tag.env = 'prod'",
        help="The filter language of `search_traces`: fields such as name, status, latency_ms, "
        "tokens, cost, session_id, user_id, tag.<key>, metadata.<key>, span.model, span.type, "
        "text; operators = != < <= > >= like ilike in, is null; and/or/not.",
    )
    cols = st.columns(6)
    cols[0].selectbox("Time range", list(TIME_RANGES), key="traces_time")
    cols[1].selectbox("Status", STATUSES, key="traces_status")
    cols[2].selectbox("Model", [ANY, *_store.model_names(url)], key="traces_model")
    cols[3].selectbox("Span type", [ANY, *(t.value for t in SpanType)], key="traces_type")
    cols[4].selectbox("Order", list(ORDERS), key="traces_order")
    cols[5].selectbox("Per page", PAGE_SIZES, index=1, key="traces_limit")


def error_position(exc: FilterSyntaxError, text: str) -> tuple[str, int]:
    """The filter text and 0-based position to show for a syntax error: positions in the
    user's own text, which the effective filter wraps as `(text) and …`."""
    text = text.strip()
    if text and exc.filter.startswith(f"({text})"):
        return text, min(max(exc.position - 1, 0), len(text))
    return exc.filter, exc.position


def _show_error(exc: LlmtraceError, text: str) -> None:
    if isinstance(exc, FilterSyntaxError):
        shown, position = error_position(exc, text)
        st.error(f"Invalid filter: {exc.reason} at position {position}.")
        st.code(f"{shown}\n{' ' * position}^", language=None)
    else:
        st.error(f"The search failed: {exc}")


def table(traces: list[TraceInfo]) -> pd.DataFrame:
    """The rows of the traces table."""
    frame: pd.DataFrame = pd.DataFrame(
        {
            "open": [trace_link(t.trace_id) for t in traces],
            "time": [fmt.when(t.start_time) for t in traces],
            "name": [t.name for t in traces],
            "status": [fmt.status(t.status) for t in traces],
            "latency_ms": [round(t.duration_ms, 1) for t in traces],
            "tokens": [t.total_tokens for t in traces],
            "cost": [t.cost for t in traces],
            "spans": [t.span_count for t in traces],
            "session": [t.session_id or "" for t in traces],
            "user": [t.user_id or "" for t in traces],
            "tags": [fmt.tags(t.tags) for t in traces],
            "input": [fmt.preview(t.input_preview) for t in traces],
            "output": [fmt.preview(t.output_preview) for t in traces],
            "trace_id": [t.trace_id for t in traces],
        }
    )
    return frame


COLUMNS = {
    "open": st.column_config.LinkColumn("", display_text="open", width="small"),
    "latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.1f"),
    "cost": st.column_config.NumberColumn("cost ($)", format="%.6f"),
    "tokens": st.column_config.NumberColumn("tokens", format="%d"),
    "trace_id": st.column_config.TextColumn("trace id", width="small"),
}


def _pager(tokens: list[str | None], next_token: str | None) -> None:
    # Callbacks replace the token stack in the session state (run before the next rerun).
    def previous() -> None:
        st.session_state["traces_tokens"] = tokens[:-1] or [None]

    def following() -> None:
        st.session_state["traces_tokens"] = [*tokens, next_token]

    left, middle, right = st.columns([1, 2, 1])
    left.button("← Previous", on_click=previous, disabled=len(tokens) <= 1, key="traces_prev")
    middle.caption(f"Page {len(tokens)}")
    right.button("Next →", on_click=following, disabled=next_token is None, key="traces_next")


def main() -> None:
    """Render the page."""
    _store.get_store()
    url = _store.store_url() or ""
    st.title("Traces")
    _controls(url)
    query, effective, tokens = _state()
    try:
        page = _store.search_traces(url, effective, (ORDERS[query.order],), query.limit, tokens[-1])
    except LlmtraceError as exc:
        _show_error(exc, query.text)
        return
    if not page.traces:
        if len(tokens) == 1:
            st.info(
                "No traces match."
                if effective
                else "No traces yet: trace a function with "
                "`@llmtrace.trace` or send OTLP to the server, then press Refresh."
            )
        else:
            st.info("No more traces.")
        _pager(tokens, None)
        return
    st.caption(
        f"{len(page.traces)} traces on this page"
        + (f" · filter: `{effective}`" if effective else "")
    )
    event = st.dataframe(
        table(page.traces),
        hide_index=True,
        column_config=COLUMNS,
        on_select="rerun",
        selection_mode="single-row",
        key="traces_table",
        width="stretch",
    )
    rows = event.selection.rows
    if rows:
        trace_id = page.traces[rows[0]].trace_id
        st.switch_page(TRACE_PAGE.path, query_params={"trace_id": trace_id})
    _pager(tokens, page.next_page_token)


main()
