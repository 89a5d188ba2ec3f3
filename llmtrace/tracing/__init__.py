"""Tracing: the `@trace` decorator, `span()` blocks and the export pipeline."""

from __future__ import annotations

from llmtrace.tracing._decorator import trace
from llmtrace.tracing._span import (
    LiveSpan,
    current_span,
    current_trace_id,
    span,
    update_current_trace,
)
from llmtrace.tracing._threads import ContextThreadPoolExecutor, with_context

__all__ = [
    "ContextThreadPoolExecutor",
    "LiveSpan",
    "current_span",
    "current_trace_id",
    "span",
    "trace",
    "update_current_trace",
    "with_context",
]
