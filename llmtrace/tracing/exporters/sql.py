"""The one bridge from spans to the database: OpenTelemetry SDK spans -> `SpanRecord` -> store.

Runs on the export worker thread. The store is opened (and migrated) on the first batch, so the
first traced call in a program pays nothing for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan

from llmtrace import semconv as sc
from llmtrace.store import SpanRecord, Store
from llmtrace.tracing import _deferred

logger = logging.getLogger("llmtrace")

_DEFERRED_SLOTS = (
    (_deferred.INPUTS, sc.SPAN_INPUTS, "inputs"),
    (_deferred.OUTPUTS, sc.SPAN_OUTPUTS, "outputs"),
)
Capture = Callable[[str, object], "str | None"]


def span_to_record(span: ReadableSpan, capture: Capture | None = None) -> SpanRecord:
    """Convert one finished SDK span; `capture` serializes payloads the decorator deferred."""
    ctx = span.context
    parent = span.parent
    attributes = dict(span.attributes or {})
    deferred = _deferred.PENDING.get(ctx.span_id) if capture is not None else None
    if deferred is not None and capture is not None:
        base = deferred[_deferred.STATIC]
        if len(deferred) > _deferred.CALLS and deferred[_deferred.CALLS]:
            base = dict(base or {})
            for produce in deferred[_deferred.CALLS]:
                try:
                    base.update(produce())
                except Exception:  # an integration's reader failed: keep the rest
                    logger.debug("llmtrace could not read a deferred result", exc_info=True)
        if base:
            # Attributes set on the span itself win over those that travelled beside it.
            attributes = {**base, **attributes}
        for slot, key, kind in _DEFERRED_SLOTS:
            raw = deferred[slot]
            # An explicit set_inputs()/set_outputs() on the span wins over the automatic capture.
            if raw is not _deferred.MISSING and key not in attributes:
                text = capture(kind, raw)
                if text is not None:
                    attributes[key] = text
        if len(deferred) > _deferred.LATE:
            for key, kind, raw in deferred[_deferred.LATE]:
                if key not in attributes:
                    text = capture(kind, raw)
                    if text is not None:
                        attributes[key] = text
    events = [
        {"name": e.name, "timestamp_ns": e.timestamp, "attributes": dict(e.attributes or {})}
        for e in span.events
    ]
    return SpanRecord(
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        start_time_ns=span.start_time or 0,
        end_time_ns=span.end_time or span.start_time or 0,
        status=span.status.status_code.name,
        status_message=span.status.description,
        attributes=attributes,
        events=events,
        resource=span.resource.attributes,
        is_local_root=(
            parent is None or parent.is_remote or bool(attributes.get(sc.SPAN_FOREIGN_PARENT))
        ),
    )


class SqlSink:
    """A `SpanSink` writing to a `Store` created lazily by `open_store`."""

    def __init__(self, open_store: Callable[[], Store], capture: Capture | None = None) -> None:
        self._open_store = open_store
        self._capture = capture
        self._store: Store | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def export(self, spans: Sequence[ReadableSpan]) -> None:
        """Write one batch in one transaction; raises so the processor can retry."""
        capture = self._capture
        self.store.log_spans([span_to_record(s, capture) for s in spans])
        # Only now: a failed write is retried with the same spans and needs the payloads.
        pending = _deferred.PENDING
        for s in spans:
            pending.pop(s.context.span_id, None)

    def shutdown(self) -> None:
        """Nothing to release: the store belongs to the runtime, which closes it."""


__all__ = ["SqlSink", "span_to_record"]
