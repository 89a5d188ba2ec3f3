"""The Analytics page under AppTest, over a real SQLite store with traces of the last hour."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from streamlit.testing.v1 import AppTest

from llmtrace import semconv as sc
from llmtrace.store import SpanRecord, SqlStore
from tests.server.conftest import live_server

__all__ = ["live_server"]

App = Callable[[str], AppTest]
MS = 1_000_000


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [
        str(getattr(node, "value", ""))
        for kind in ("markdown", "caption", "error", "title", "subheader", "info", "warning")
        for node in getattr(at, kind)
    ]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def open_analytics(url: str, app: App) -> AppTest:
    at = no_exception(app(url).run())
    at.switch_page("pages/analytics.py")
    return no_exception(at.run())


def seed_recent(url: str) -> None:
    """Three traces started minutes ago: two calls of `gpt-a` (one failing trace), a tool."""
    now = time.time_ns()
    records: list[SpanRecord] = []
    for n, (status, model) in enumerate((("OK", "gpt-a"), ("ERROR", "gpt-a"), ("OK", None)), 1):
        start = now - (10 - n) * 60 * 1_000_000_000
        trace_id, root = f"{n:032x}", f"{n:016x}"
        records.append(
            SpanRecord(trace_id, root, None, "answer", start, start + 100 * n * MS, status,
                       attributes={sc.SPAN_TYPE: "CHAIN"}, is_local_root=True)
        )  # fmt: skip
        attrs = (
            {sc.SPAN_TYPE: "LLM", sc.GEN_AI_REQUEST_MODEL: model,
             sc.GEN_AI_USAGE_INPUT_TOKENS: 100, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
             sc.COST_TOTAL: 0.5}
            if model
            else {sc.SPAN_TYPE: "TOOL"}
        )  # fmt: skip
        records.append(
            SpanRecord(trace_id, f"{n:08x}{1:08x}", root, "step", start, start + 50 * MS,
                       attributes=attrs)
        )  # fmt: skip
    store = SqlStore(url)
    store.log_spans(records)
    store.close()


def test_renders_on_an_empty_store(migrated_sqlite_url: str, app: App) -> None:
    at = open_analytics(migrated_sqlite_url, app)
    assert "No traces in this time range" in texts(at)
    assert at.metric[0].value == "0"


def test_shows_totals_charts_and_breakdowns(migrated_sqlite_url: str, app: App) -> None:
    seed_recent(migrated_sqlite_url)
    at = open_analytics(migrated_sqlite_url, app)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Requests"] == "3"
    assert metrics["Errors"] == "1"
    assert metrics["Error rate"] == "33.3%"
    assert metrics["Tokens"] == "240"
    assert metrics["Cost"] == "$1.0000"
    by_model, by_type = at.dataframe[0].value, at.dataframe[1].value
    assert list(by_model["model"]) == ["gpt-a"]
    assert list(by_model["calls"]) == [2]
    assert dict(zip(by_type["span type"], by_type["calls"], strict=True)) == {
        "CHAIN": 3,
        "LLM": 2,
        "TOOL": 1,
    }
    # The filter narrows everything to the failing trace.
    at.text_input(key="analytics_filter").input("status = 'ERROR'").run()
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["Requests"] == "1"
    # An unknown project has nothing.
    at.text_input(key="analytics_filter").input("").run()
    at.text_input(key="analytics_project").input("elsewhere").run()
    assert "No traces in this time range" in texts(no_exception(at))


def test_bad_input_is_an_error_message(migrated_sqlite_url: str, app: App) -> None:
    at = open_analytics(migrated_sqlite_url, app)
    at.text_input(key="analytics_filter").input("status = ").run()
    assert "Cannot compute the analytics" in texts(no_exception(at))
    at.text_input(key="analytics_filter").input("").run()
    # 90 days of one-minute buckets is over the store's cap.
    at.selectbox(key="analytics_range").select("Last 90 days").run()
    at.selectbox(key="analytics_bucket").select("1 minute").run()
    assert "at most 2000" in texts(no_exception(at))
    # A new range brings its usual bucket size back.
    at.selectbox(key="analytics_range").select("Last hour").run()
    assert at.selectbox(key="analytics_bucket").value == "1 minute"
    at.selectbox(key="analytics_range").select("Last 7 days").run()
    assert at.selectbox(key="analytics_bucket").value == "1 hour"
    assert not at.error


def test_custom_dates(migrated_sqlite_url: str, app: App) -> None:
    seed_recent(migrated_sqlite_url)
    at = open_analytics(migrated_sqlite_url, app)
    at.selectbox(key="analytics_range").select("Custom dates").run()
    no_exception(at)
    assert at.date_input(key="analytics_dates")
    assert {m.label: m.value for m in at.metric}["Requests"] == "3"


def test_works_against_a_server(migrated_sqlite_url: str, app: App, live_server: Any) -> None:
    seed_recent(migrated_sqlite_url)
    at = open_analytics(live_server(migrated_sqlite_url).url, app)
    assert {m.label: m.value for m in at.metric}["Requests"] == "3"
    assert list(at.dataframe[0].value["model"]) == ["gpt-a"]
