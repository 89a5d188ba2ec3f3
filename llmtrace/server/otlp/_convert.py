"""`ExportTraceServiceRequest` -> `SpanRecord`s: validation, project routing, normalisation.

Invalid spans (bad ids, missing or impossible timestamps) are rejected one by one and counted,
so the rest of the request is stored (OTLP partial success).

Project of a span, first found: the `x-llmtrace-project` header (or gRPC metadata), the span's
`llmtrace.project` attribute, the resource's `llmtrace.project`, the resource's
`openinference.project.name`, else "default". `service.name` is not used: every SDK sets it
(`unknown_service:python` by default), so it would scatter traces over accidental projects.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from llmtrace import semconv as sc
from llmtrace.server.otlp._normalise import normalise
from llmtrace.store import SpanRecord

logger = logging.getLogger("llmtrace.server")

OPENINFERENCE_PROJECT = "openinference.project.name"
SERVICE_NAME = "service.name"
# Where the instrumentation scope is kept (the OpenTelemetry name for non-OTLP formats).
SCOPE_NAME = "otel.scope.name"

_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
_REMOTE_KNOWN = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
# Status messages are clipped to what every backend's plain text column holds (MySQL's TEXT
# stops at 64 KiB, 4 bytes a character at worst); payloads have no such limit.
_MAX_STATUS_MESSAGE = 16_000
# Rejection messages kept in the partial-success answer.
_MAX_MESSAGES = 3


@dataclass
class Batch:
    """The spans of one request: records to store, and what was rejected and why."""

    records: list[SpanRecord] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        """The partial-success message ("" when nothing was rejected)."""
        if not self.rejected:
            return ""
        more = self.rejected - len(self.errors)
        tail = f" (and {more} more)" if more > 0 else ""
        return f"{self.rejected} span(s) rejected: " + "; ".join(self.errors) + tail

    def reject(self, message: str) -> None:
        """Count one rejected span."""
        self.rejected += 1
        if len(self.errors) < _MAX_MESSAGES:
            self.errors.append(message)


def any_value(value: AnyValue) -> Any:
    """The Python value of an OTLP `AnyValue` (bytes as base64 text, like OTLP/JSON)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """Key/value pairs as a dict (a repeated key keeps its last value)."""
    out: dict[str, Any] = {}
    for kv in pairs:
        value = kv.value
        # The common scalar cases inline: this runs for every attribute of every span.
        kind = value.WhichOneof("value")
        if kind == "string_value":
            out[kv.key] = value.string_value
        elif kind == "int_value":
            out[kv.key] = value.int_value
        else:
            out[kv.key] = any_value(value)
    return out


def resource_project(resource: Mapping[str, Any]) -> str | None:
    """The project a resource names, if any."""
    for key in (sc.RESOURCE_PROJECT, OPENINFERENCE_PROJECT):
        value = resource.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def to_records(request: ExportTraceServiceRequest, project: str | None = None) -> Batch:
    """Convert and normalise every valid span; `project` (from the request's headers) wins over
    what spans and resources say."""
    batch = Batch()
    project = project.strip() if project else None
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        routed = project or resource_project(resource)
        if routed:
            resource[sc.RESOURCE_PROJECT] = routed
        service = resource.get(SERVICE_NAME)
        for ss in rs.scope_spans:
            stamps = {SCOPE_NAME: ss.scope.name or None, SERVICE_NAME: service}
            for span in ss.spans:
                record = _record(span, resource, batch, project, stamps)
                if record is not None:
                    batch.records.append(record)
    return batch


def _record(
    span: Span,
    resource: dict[str, Any],
    batch: Batch,
    project: str | None,
    stamps: dict[str, Any],
) -> SpanRecord | None:
    """One valid, normalised record, or None (counted in `batch`) for an invalid span.
    `stamps` are attributes added unless the span has them (service and scope names)."""
    trace_id = span.trace_id
    span_id = span.span_id
    parent = span.parent_span_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        batch.reject(f"span {span.name[:100]!r}: invalid trace id ({len(trace_id)} bytes)")
        return None
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        batch.reject(f"span {span.name[:100]!r}: invalid span id ({len(span_id)} bytes)")
        return None
    if parent and len(parent) != 8:
        batch.reject(f"span {span.name[:100]!r}: invalid parent span id ({len(parent)} bytes)")
        return None
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    # fixed64 nanoseconds end in 2554, which every backend's datetime holds; 0 is "unset".
    if not start:
        batch.reject(f"span {span.name[:100]!r}: missing start time")
        return None
    end = max(end, start)  # unset or skewed end: a zero-length span
    attrs = attributes(span.attributes)
    for key, value in stamps.items():
        if value is not None and key not in attrs:
            attrs[key] = value
    if project:
        attrs[sc.TRACE_PROJECT] = project
    events = [
        {"name": e.name, "timestamp_ns": e.time_unix_nano, "attributes": attributes(e.attributes)}
        for e in span.events
    ]
    has_parent = bool(parent) and parent != _ZERO_SPAN
    flags = span.flags
    remote_parent = flags & _REMOTE_KNOWN and flags & _REMOTE
    status = span.status
    record = SpanRecord(
        trace_id=trace_id.hex(),
        span_id=span_id.hex(),
        parent_span_id=parent.hex() if has_parent else None,
        name=_clean(span.name),
        start_time_ns=start,
        end_time_ns=end,
        status=_STATUS.get(status.code, "UNSET"),
        status_message=_clean(status.message[:_MAX_STATUS_MESSAGE]) or None,
        attributes=attrs,
        events=events,
        resource=resource,
        # As llmtrace's own exporter decides: no parent, a parent in another process, or a
        # parent llmtrace never stores.
        is_local_root=(
            not has_parent or bool(remote_parent) or bool(attrs.get(sc.SPAN_FOREIGN_PARENT))
        ),
    )
    _normalise_safely(attrs, record)
    return record


def _normalise_safely(attrs: dict[str, Any], record: SpanRecord) -> None:
    """Normalise; on an unexpected failure keep the span with its raw attributes (what the
    mappers added so far may stay) rather than refuse the request."""
    global _normalise_failed
    try:
        normalise(attrs, record.events, record.start_time_ns)
    except Exception:
        level = logging.DEBUG if _normalise_failed else logging.WARNING
        _normalise_failed = True
        logger.log(level, "could not normalise span %r; stored as sent", record.name, exc_info=True)


_normalise_failed = False


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL characters; they never mean anything in a name.
    return text.replace("\x00", "") if "\x00" in text else text


__all__ = ["Batch", "any_value", "attributes", "resource_project", "to_records"]
