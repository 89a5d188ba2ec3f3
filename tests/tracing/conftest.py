"""Fixtures for tracing tests: a fresh runtime writing to a temporary SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import llmtrace
from llmtrace.tracing import _runtime


@pytest.fixture
def configure_tracing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., str]]:
    """Call with configure() overrides; returns the store URL. Resets the runtime afterwards."""
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    for var in ("LLMTRACE_STORE", "LLMTRACE_SAMPLE_RATE", "LLMTRACE_ENABLED"):
        monkeypatch.delenv(var, raising=False)

    def configure(**overrides: Any) -> str:
        overrides.setdefault("store", f"sqlite:///{tmp_path / 'traces.db'}")
        overrides.setdefault("flush_interval", 0.05)
        llmtrace.configure(**overrides)
        return str(overrides["store"])

    yield configure
    _runtime.reset()


@pytest.fixture
def traced(configure_tracing: Callable[..., str]) -> str:
    """Tracing into a temporary SQLite file with default settings; yields the URL."""
    return configure_tracing()


def stored_traces(filter: str | None = None) -> list[llmtrace.Trace]:
    """Flush, then every stored trace (oldest first) with its spans."""
    assert llmtrace.flush(10)
    page = llmtrace.search_traces(filter, order_by="start_time asc", limit=1000)
    return [llmtrace.get_trace(t.trace_id) for t in page]


def only_trace() -> llmtrace.Trace:
    """Flush and return the single stored trace."""
    traces = stored_traces()
    assert len(traces) == 1, [t.info.name for t in traces]
    return traces[0]
