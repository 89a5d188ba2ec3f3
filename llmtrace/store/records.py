"""`SpanRecord`: the neutral form in which finished spans reach the store.

The SQL exporter builds records from OpenTelemetry SDK spans; the server builds them from OTLP
requests. The store turns them into rows (`llmtrace.store._ingest`). Keeping this form free of
OpenTelemetry types keeps the store independent of the tracing layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SpanRecord:
    """One finished span. Ids are lowercase hex (32 chars for traces, 16 for spans)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_time_ns: int
    end_time_ns: int
    status: str = "UNSET"
    status_message: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # Each event: {"name": str, "timestamp_ns": int, "attributes": {...}}
    events: list[dict[str, Any]] = field(default_factory=list)
    resource: Mapping[str, Any] = field(default_factory=dict)
    # True for the trace's root in this process: no parent, or a parent in another process.
    is_local_root: bool = False


__all__ = ["SpanRecord"]
