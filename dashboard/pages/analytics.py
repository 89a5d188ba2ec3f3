"""Analytics: requests, errors, latency percentiles, tokens and cost over time, and a breakdown
by model and by span type. Every number is an aggregate the store computes
(`trace_timeseries`, `span_breakdown`); no trace is loaded here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import streamlit as st

from dashboard import _charts, _store
from dashboard import _format as fmt
from llmtrace.exceptions import LlmtraceError
from llmtrace.store import Store

CUSTOM = "Custom dates"
BREAKDOWN_LIMIT = 100


def _follow_range() -> None:
    # A new range brings its usual bucket size (the user may change it afterwards).
    chosen = st.session_state.get("analytics_range")
    if chosen in _charts.DEFAULT_BUCKET:
        st.session_state["analytics_bucket"] = _charts.DEFAULT_BUCKET[chosen]


def _window(bucket_seconds: int) -> tuple[datetime, datetime] | None:
    """The (since, until) chosen, or None after showing why the dates are unusable."""
    chosen = st.session_state.get("analytics_range", "Last 24 hours")
    now = datetime.now(timezone.utc)
    if chosen != CUSTOM:
        return _charts.window(now, _charts.RANGES[chosen], bucket_seconds)
    picked = tuple(st.session_state.get("analytics_dates") or ())
    if len(picked) != 2 or not all(isinstance(d, date) for d in picked):
        st.info("Pick a first and a last day (UTC).")
        return None
    first, last = picked[0], picked[1]
    since = datetime.combine(first, time(), timezone.utc)
    return since, datetime.combine(last, time(), timezone.utc) + timedelta(days=1)


def _controls() -> None:
    st.session_state.setdefault("analytics_bucket", _charts.DEFAULT_BUCKET["Last 24 hours"])
    cols = st.columns([2, 2, 2, 4])
    cols[0].selectbox(
        "Time range",
        [*_charts.RANGES, CUSTOM],
        index=2,
        key="analytics_range",
        on_change=_follow_range,
    )
    cols[1].selectbox("Bucket", list(_charts.BUCKETS), key="analytics_bucket")
    cols[2].text_input("Project", key="analytics_project", placeholder="all projects")
    cols[3].text_input(
        "Filter",
        key="analytics_filter",
        placeholder="tag.env = 'prod'",
        help="The trace filter language of the Traces page.",
    )
    if st.session_state.get("analytics_range") == CUSTOM:
        today = datetime.now(timezone.utc).date()
        st.date_input("Days (UTC)", value=(today - timedelta(days=6), today), key="analytics_dates")


def _charts_of(store: Store, since: datetime, until: datetime, bucket_seconds: int) -> None:
    text = st.session_state.get("analytics_filter", "").strip() or None
    project = st.session_state.get("analytics_project", "").strip() or None
    try:
        buckets = store.trace_timeseries(
            text, since=since, until=until, bucket_seconds=bucket_seconds, project=project
        )
        by_model = store.span_breakdown(
            text, since=since, until=until, by="model", project=project, limit=BREAKDOWN_LIMIT
        )
        by_type = store.span_breakdown(
            text, since=since, until=until, by="span_type", project=project, limit=BREAKDOWN_LIMIT
        )
    except LlmtraceError as exc:
        st.error(f"Cannot compute the analytics: {exc}")
        return
    total = _charts.totals(buckets)
    cols = st.columns(5)
    cols[0].metric("Requests", f"{total['requests']:,.0f}")
    cols[1].metric("Errors", f"{total['errors']:,.0f}")
    rate = total["error_rate"]
    cols[2].metric("Error rate", "-" if rate is None else f"{rate:.1%}")
    cols[3].metric("Tokens", fmt.tokens(int(total["tokens"] or 0)))
    cols[4].metric("Cost", fmt.usd(total["cost"]))
    st.caption(
        f"{fmt.when(since)} → {fmt.when(until)} · {len(buckets)} buckets · latency percentiles "
        "are nearest-rank"
    )
    if not total["requests"]:
        st.info("No traces in this time range.")
        return
    frame = _charts.series_frame(buckets)
    left, right = st.columns(2)
    with left:
        st.subheader("Requests and errors")
        st.line_chart(frame[["requests", "errors"]])
        st.subheader("Tokens")
        st.area_chart(frame[["input tokens", "output tokens"]])
    with right:
        st.subheader("Latency (ms)")
        st.line_chart(frame[["p50 (ms)", "p95 (ms)", "p99 (ms)"]])
        st.subheader("Cost ($)")
        st.line_chart(frame[["cost ($)"]])
    for title, groups, label in (
        ("By model", by_model, "model"),
        ("By span type", by_type, "span type"),
    ):
        st.subheader(title)
        if not groups:
            st.caption("No spans.")
            continue
        table = _charts.breakdown_frame(groups, label)
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "error rate": st.column_config.NumberColumn(format="percent"),
                "cost ($)": st.column_config.NumberColumn(format="%.6f"),
            },
        )
        st.bar_chart(table.set_index(label)[["calls"]], horizontal=True)


def main() -> None:
    """Render the page."""
    store = _store.get_store()
    st.title("Analytics")
    _controls()
    bucket_seconds = _charts.BUCKETS[st.session_state.get("analytics_bucket", "15 minutes")]
    chosen = _window(bucket_seconds)
    if chosen is not None:
        _charts_of(store, chosen[0], chosen[1], bucket_seconds)


main()
