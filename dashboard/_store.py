"""The store the dashboard reads, and cached queries over it.

The URL comes from `$LLMTRACE_DASHBOARD_STORE` (set by `llmtrace ui --store URL`), else
`$LLMTRACE_STORE`. Pages read only through the `Store` API, never SQL, so the dashboard works
on a local database file and against an llmtrace server alike.

Query results are cached for a few seconds: a rerun (every click) must not query the store again,
while new traces still show up on the next interaction after that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from llmtrace.store import Assessment, Store, Trace, TraceInfo, open_store

STORE_ENV = "LLMTRACE_DASHBOARD_STORE"
FALLBACK_ENV = "LLMTRACE_STORE"
LIST_TTL_S = 5
TRACE_TTL_S = 30
MODELS_TTL_S = 300


@dataclass(frozen=True)
class TracePage:
    """One page of `search_traces`, as plain data (cacheable, picklable)."""

    traces: list[TraceInfo]
    next_page_token: str | None


def store_url() -> str | None:
    """The URL of the store to show, or None when the dashboard was started without one."""
    return os.environ.get(STORE_ENV) or os.environ.get(FALLBACK_ENV) or None


def display_url(url: str) -> str:
    """`url` without its password, for the sidebar."""
    if url.startswith(("http://", "https://")):
        scheme, _, rest = url.partition("://")
        host = rest.rpartition("@")[2] if "@" in rest.split("/", 1)[0] else rest
        return f"{scheme}://{host}"
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL fails later with its own message
        return url


@st.cache_resource(show_spinner=False)
def _open(url: str) -> Store:
    return open_store(url)


def get_store() -> Store:
    """The open store; stops the page with a message when none is configured or it fails."""
    url = store_url()
    if url is None:
        st.error(
            f"No store configured. Start the dashboard with `llmtrace ui --store URL`, or set "
            f"`{STORE_ENV}`."
        )
        st.stop()
    try:
        return _open(url)
    except Exception as exc:  # shown, not raised: a bad URL is a user mistake
        st.error(f"Cannot open the store `{display_url(url)}`: {exc}")
        st.stop()


@st.cache_data(ttl=LIST_TTL_S, show_spinner=False, max_entries=256)
def search_traces(
    url: str,
    filter: str | None,
    order_by: tuple[str, ...],
    limit: int,
    page_token: str | None,
) -> TracePage:
    """A page of traces (cached by every argument; `url` keys the store)."""
    page = _open(url).search_traces(
        filter, order_by=list(order_by) or None, limit=limit, page_token=page_token
    )
    return TracePage(list(page), page.next_page_token)


# A trace can hold 10,000 spans: kept as the object itself (no pickling, no deep copy) and
# shared by sessions; pages only read it.
@st.cache_resource(ttl=TRACE_TTL_S, max_entries=16, show_spinner="Loading the trace…")
def get_trace(url: str, trace_id: str) -> Trace:
    """One trace with its spans (cached briefly)."""
    return _open(url).get_trace(trace_id)


def get_assessments(url: str, trace_id: str) -> list[Assessment]:
    """The trace's assessments, fresh (feedback added on this page must show at once)."""
    return _open(url).get_assessments(trace_id)


# `model_usage` aggregates every span (~60 ms at 100k traces in SQLite): kept for minutes.
@st.cache_data(ttl=MODELS_TTL_S, show_spinner=False)
def model_names(url: str, since: datetime | None = None) -> list[str]:
    """Models seen in stored spans, for the model quick filter."""
    try:
        return sorted(u.model for u in _open(url).model_usage(since=since) if u.model)
    except Exception:  # the quick filter is a convenience: a failure leaves it empty
        return []


def refresh() -> None:
    """Forget cached query results of every page (the "Refresh" button); the open store and
    anything else cached as a resource stay."""
    st.cache_data.clear()
    get_trace.clear()


__all__ = [
    "STORE_ENV",
    "TracePage",
    "display_url",
    "get_assessments",
    "get_store",
    "get_trace",
    "model_names",
    "refresh",
    "search_traces",
    "store_url",
]
