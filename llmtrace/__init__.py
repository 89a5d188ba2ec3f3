"""llmtrace: OpenTelemetry-native tracing, evaluation and tracking for LLM applications.

Example:
    >>> import llmtrace
    >>> @llmtrace.trace
    ... def answer(question: str) -> str:
    ...     return "42"
    >>> answer("meaning of life?")
    >>> llmtrace.flush(); llmtrace.search_traces(limit=5)
"""

from __future__ import annotations

from llmtrace._api import (
    configure,
    delete_traces,
    flush,
    get_store,
    get_trace,
    search_traces,
    shutdown,
    stats,
)
from llmtrace._version import __version__
from llmtrace.context import trace_defaults
from llmtrace.exceptions import (
    ConfigError,
    FilterSyntaxError,
    InvalidQueryError,
    LlmtraceError,
    MigrationError,
    NotFoundError,
    StoreError,
)
from llmtrace.integrations import instrument, uninstrument
from llmtrace.pricing import set_price
from llmtrace.semconv import SpanStatus, SpanType
from llmtrace.store import Assessment, Span, SqlStore, Store, Trace, TraceInfo, TraceList
from llmtrace.tracing import (
    ContextThreadPoolExecutor,
    LiveSpan,
    current_span,
    current_trace_id,
    span,
    trace,
    update_current_trace,
    with_context,
)

__all__ = [
    "Assessment",
    "ConfigError",
    "ContextThreadPoolExecutor",
    "FilterSyntaxError",
    "InvalidQueryError",
    "LiveSpan",
    "LlmtraceError",
    "MigrationError",
    "NotFoundError",
    "Span",
    "SpanStatus",
    "SpanType",
    "SqlStore",
    "Store",
    "StoreError",
    "Trace",
    "TraceInfo",
    "TraceList",
    "__version__",
    "configure",
    "current_span",
    "current_trace_id",
    "delete_traces",
    "flush",
    "get_store",
    "get_trace",
    "instrument",
    "search_traces",
    "set_price",
    "shutdown",
    "span",
    "stats",
    "trace",
    "trace_defaults",
    "uninstrument",
    "update_current_trace",
    "with_context",
]
