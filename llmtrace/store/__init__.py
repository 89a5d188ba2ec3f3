"""The llmtrace store: traces, spans, assessments and experiment tracking in SQL (SQLite,
PostgreSQL, MySQL).

Example:
    >>> from llmtrace.store import open_store
    >>> store = open_store("sqlite:///traces.db")
"""

from __future__ import annotations

from llmtrace.store._base import Store
from llmtrace.store._sql import SqlStore
from llmtrace.store.entities import Assessment, ModelUsage, Span, Trace, TraceInfo, TraceList
from llmtrace.store.records import SpanRecord
from llmtrace.store.run_entities import Experiment, Metric, Param, Run, RunInfo, RunList


def open_store(url: str) -> Store:
    """Open the store at `url` (any SQLAlchemy URL), creating and migrating it if needed."""
    return SqlStore(url)


__all__ = [
    "Assessment",
    "Experiment",
    "Metric",
    "ModelUsage",
    "Param",
    "Run",
    "RunInfo",
    "RunList",
    "Span",
    "SpanRecord",
    "SqlStore",
    "Store",
    "Trace",
    "TraceInfo",
    "TraceList",
    "open_store",
]
