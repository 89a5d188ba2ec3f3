"""Sessions: recent sessions, and one session (`?session_id=…`) as a conversation with totals.

The store has no session aggregate, so both views are built from `search_traces`: the list
groups a window of recent traces that have a session; a session's totals are summed over its
first `SESSION_TRACES` traces (the page says when a session has more).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from dashboard import _format as fmt
from dashboard import _store
from dashboard._nav import session_link, trace_link
from llmtrace.exceptions import LlmtraceError
from llmtrace.store import TraceInfo, filter_literal

SCAN_TRACES = 500  # traces read per page of the session list
SESSION_TRACES = 500  # traces a session's totals are computed over
SHOWN_TURNS = 100  # turns of a conversation drawn at once


@dataclass
class SessionRow:
    """A session as seen in a window of traces."""

    session_id: str
    last_seen: str
    user: str
    traces: int = 0
    errors: int = 0
    tokens: int = 0
    first_input: str = ""


@dataclass
class Totals:
    """Sums over a session's traces."""

    traces: int = 0
    tokens: int = 0
    cost: float | None = None
    unpriced: int = 0
    latency_ms: float = 0.0
    errors: int = 0
    users: set[str] = field(default_factory=set)


def group_sessions(traces: list[TraceInfo]) -> list[SessionRow]:
    """Sessions in order of their most recent trace (traces come newest first)."""
    sessions: dict[str, SessionRow] = {}
    for t in traces:
        if not t.session_id:
            continue
        row = sessions.get(t.session_id)
        if row is None:
            row = sessions[t.session_id] = SessionRow(
                t.session_id, fmt.when(t.start_time), t.user_id or ""
            )
        row.traces += 1
        row.errors += t.status == "ERROR"
        row.tokens += t.total_tokens
        row.first_input = fmt.preview(t.input_preview, 80)  # the oldest seen wins
    return list(sessions.values())


def totals(traces: list[TraceInfo]) -> Totals:
    """Traces, tokens, cost (None when no trace has one), latency and errors."""
    out = Totals()
    for t in traces:
        out.traces += 1
        out.tokens += t.total_tokens
        out.latency_ms += t.duration_ms
        out.errors += t.status == "ERROR"
        if t.cost is None:
            out.unpriced += 1
        else:
            out.cost = (out.cost or 0.0) + t.cost
        if t.user_id:
            out.users.add(t.user_id)
    return out


def _session_list(url: str) -> None:
    st.title("Sessions")
    tokens: list[str | None] = st.session_state.setdefault("sessions_tokens", [None])
    try:
        page = _store.search_traces(
            url, "session_id is not null", ("start_time desc",), SCAN_TRACES, tokens[-1]
        )
    except LlmtraceError as exc:
        st.error(f"The search failed: {exc}")
        return
    rows = group_sessions(page.traces)
    if not rows:
        st.info(
            "No sessions yet: traces join a session through "
            "`llmtrace.update_current_trace(session_id=...)` or `trace_defaults(session_id=...)`."
            if len(tokens) == 1
            else "No more sessions."
        )
    else:
        st.caption(
            f"Sessions of the {len(page.traces):,} most recent traces with a session on this "
            "page (counts are over those traces; open a session for its totals)."
        )
        event = st.dataframe(
            pd.DataFrame(
                {
                    "open": [session_link(r.session_id) for r in rows],
                    "session": [r.session_id for r in rows],
                    "last activity": [r.last_seen for r in rows],
                    "user": [r.user for r in rows],
                    "traces": [r.traces for r in rows],
                    "errors": [r.errors for r in rows],
                    "tokens": [r.tokens for r in rows],
                    "first question": [r.first_input for r in rows],
                }
            ),
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key=f"sessions_table_{len(tokens)}",
            width="stretch",
            column_config={
                "open": st.column_config.LinkColumn("", display_text="open", width="small")
            },
        )
        if event.selection.rows:
            st.query_params["session_id"] = rows[event.selection.rows[0]].session_id
            st.rerun()
    left, _, right = st.columns([1, 2, 1])
    if left.button("← Newer", disabled=len(tokens) <= 1, key="sessions_prev"):
        tokens.pop()
        st.rerun()
    if right.button("Older →", disabled=page.next_page_token is None, key="sessions_next"):
        tokens.append(page.next_page_token)
        st.rerun()


def _session(url: str, session_id: str) -> None:
    if st.button("← All sessions"):
        del st.query_params["session_id"]
        st.rerun()
    st.title(f"Session {session_id}")
    try:
        page = _store.search_traces(
            url,
            f"session_id = {filter_literal(session_id)}",
            ("start_time asc",),
            SESSION_TRACES,
            None,
        )
    except LlmtraceError as exc:
        st.error(f"The search failed: {exc}")
        return
    traces = page.traces
    if not traces:
        st.info("No trace belongs to this session.")
        return
    sums = totals(traces)
    cols = st.columns(5)
    cols[0].metric("Traces", f"{sums.traces:,}")
    cols[1].metric("Tokens", fmt.tokens(sums.tokens))
    cols[2].metric(
        "Cost",
        fmt.usd(sums.cost),
        help=f"{sums.unpriced} trace(s) without a known cost" if sums.unpriced else None,
    )
    cols[3].metric(
        "Latency", fmt.ms(sums.latency_ms), help=f"mean {fmt.ms(sums.latency_ms / sums.traces)}"
    )
    cols[4].metric("Errors", f"{sums.errors:,}")
    if sums.users:
        st.caption("user: " + ", ".join(f"`{u}`" for u in sorted(sums.users)))
    if page.next_page_token is not None:
        st.warning(
            f"This session has more than {SESSION_TRACES:,} traces: the totals and the "
            f"conversation cover its first {SESSION_TRACES:,}."
        )
    st.caption("Each turn shows the stored previews of the trace's input and output.")
    for t in traces[:SHOWN_TURNS]:
        with st.chat_message("user"):
            st.markdown(t.input_preview or "*(no input)*")
        with st.chat_message("assistant"):
            if t.status == "ERROR":
                st.error(t.output_preview or "The trace failed.")
            else:
                st.markdown(t.output_preview or "*(no output)*")
            st.caption(
                f"{fmt.when(t.start_time)} · {t.name} · {fmt.status(t.status)} · "
                f"{fmt.ms(t.duration_ms)} · {fmt.tokens(t.total_tokens)} tokens · "
                f"{fmt.usd(t.cost)} · [open trace]({trace_link(t.trace_id)})"
            )
    if len(traces) > SHOWN_TURNS:
        st.caption(f"… {len(traces) - SHOWN_TURNS:,} more turns not shown.")


def main() -> None:
    """Render the page."""
    _store.get_store()
    url = _store.store_url() or ""
    session_id = st.query_params.get("session_id")
    if session_id:
        _session(url, session_id)
    else:
        _session_list(url)


main()
