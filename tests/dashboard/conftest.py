"""Fixtures for the dashboard tests: a seeded SQLite store and an `AppTest` of the app.

The seeded store holds, newest last:
  * a chat trace (session `s-1`, user `u-1`): a CHAIN root `answer` with a RETRIEVER span
    (`retrieve`, scored documents) and an LLM span (`chat gpt-test`, chat messages, tokens, cost);
  * a second turn of session `s-1` (`answer`, "And shipping?");
  * an error trace `failing` (session `s-2`) whose TOOL span `lookup` raised;
  * `bulk` traces `bulk-000`… (no session) for pagination, older than the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from llmtrace import semconv as sc
from llmtrace.store import SpanRecord, SqlStore

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
BASE_NS = int(datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc).timestamp() * 1e9)
MS = 1_000_000
TIMEOUT_S = 30


@dataclass(frozen=True)
class Seeded:
    """Ids of the seeded traces."""

    url: str
    chat: str
    chat2: str
    failing: str
    bulk: list[str]


def tid(n: int) -> str:
    return f"{n:032x}"


def sid(trace: int, n: int) -> str:
    return f"{trace:08x}{n:08x}"


def span(
    trace: int,
    n: int,
    parent: int | None,
    name: str,
    *,
    start_ms: float,
    dur_ms: float,
    status: str = "OK",
    message: str | None = None,
    attrs: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> SpanRecord:
    start = BASE_NS + int(start_ms * MS)
    return SpanRecord(
        trace_id=tid(trace),
        span_id=sid(trace, n),
        parent_span_id=sid(trace, parent) if parent is not None else None,
        name=name,
        start_time_ns=start,
        end_time_ns=start + int(dur_ms * MS),
        status=status,
        status_message=message,
        attributes=attrs or {},
        events=events or [],
        resource={sc.RESOURCE_PROJECT: "demo"},
        is_local_root=parent is None,
    )


def chat_trace(trace: int, at_ms: float, question: str, answer: str) -> list[SpanRecord]:
    docs = [
        {"id": "doc-1", "score": 0.91, "content": "Refunds within 30 days."},
        {"id": "doc-2", "score": 0.42, "content": "Shipping takes 3 days."},
    ]
    messages = [
        {"role": "system", "content": "You are a support bot."},
        {"role": "user", "content": question},
    ]
    root = {
        sc.SPAN_TYPE: "CHAIN",
        sc.SPAN_INPUTS: json.dumps({"question": question}),
        sc.SPAN_OUTPUTS: json.dumps(answer),
        sc.TRACE_SESSION_ID: "s-1",
        sc.TRACE_USER_ID: "u-1",
        sc.TRACE_TAG_PREFIX + "env": "prod",
    }
    retriever = {
        sc.SPAN_TYPE: "RETRIEVER",
        sc.SPAN_INPUTS: json.dumps({"query": question}),
        sc.SPAN_OUTPUTS: json.dumps(docs),
    }
    llm = {
        sc.SPAN_TYPE: "LLM",
        sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 120,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
        sc.COST_TOTAL: 0.0021,
        sc.SPAN_INPUTS: json.dumps({"messages": messages}),
        sc.SPAN_OUTPUTS: json.dumps({"role": "assistant", "content": answer}),
    }
    return [
        span(trace, 1, None, "answer", start_ms=at_ms, dur_ms=900, attrs=root),
        span(trace, 2, 1, "retrieve", start_ms=at_ms + 10, dur_ms=80, attrs=retriever),
        span(trace, 3, 1, "chat gpt-test", start_ms=at_ms + 100, dur_ms=700, attrs=llm),
    ]


def failing_trace(trace: int, at_ms: float) -> list[SpanRecord]:
    error_event = {
        "name": "exception",
        "timestamp_ns": BASE_NS + int((at_ms + 20) * MS),
        "attributes": {
            "exception.type": "KeyError",
            "exception.message": "'order-42'",
            "exception.stacktrace": "Traceback (most recent call last):\nKeyError: 'order-42'",
        },
    }
    root = {
        sc.SPAN_TYPE: "AGENT",
        sc.SPAN_INPUTS: json.dumps({"question": "Where is order 42?"}),
        sc.TRACE_SESSION_ID: "s-2",
    }
    return [
        span(trace, 1, None, "failing", start_ms=at_ms, dur_ms=50, status="ERROR",
             message="KeyError: 'order-42'", attrs=root),
        span(trace, 2, 1, "lookup", start_ms=at_ms + 5, dur_ms=20, status="ERROR",
             message="KeyError: 'order-42'", attrs={sc.SPAN_TYPE: "TOOL"}, events=[error_event]),
    ]  # fmt: skip


def seed(url: str, bulk: int = 0) -> Seeded:
    """Fill the store at `url` (see the module docstring)."""
    store = SqlStore(url)
    try:
        records: list[SpanRecord] = []
        for i in range(bulk):
            attrs = {sc.SPAN_TYPE: "CHAIN", sc.SPAN_INPUTS: json.dumps({"i": i})}
            records.append(span(1000 + i, 1, None, f"bulk-{i:03d}", start_ms=i, dur_ms=5,
                                attrs=attrs))  # fmt: skip
        records += chat_trace(1, 10_000, "What is the refund policy?", "30 days, no questions.")
        records += chat_trace(2, 20_000, "And shipping?", "Three days.")
        records += failing_trace(3, 30_000)
        store.log_spans(records)
    finally:
        store.close()
    return Seeded(url, tid(1), tid(2), tid(3), [tid(1000 + i) for i in range(bulk)])


@pytest.fixture
def seeded(migrated_sqlite_url: str) -> Seeded:
    return seed(migrated_sqlite_url)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A factory: `app(url)` -> an `AppTest` of the dashboard over the store at `url`."""

    def make(url: str) -> AppTest:
        monkeypatch.setenv("LLMTRACE_DASHBOARD_STORE", url)
        return AppTest.from_file(APP, default_timeout=TIMEOUT_S)

    yield make
    # The caches are process-wide: drop this test's store and results.
    st.cache_data.clear()
    st.cache_resource.clear()
