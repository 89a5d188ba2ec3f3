"""Builders for OTLP test requests: protobuf spans, their OTLP/JSON form, SDK span producers,
and store fakes for the ingest queue (a store whose writes can be held or made to fail)."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

from llmtrace.store import SpanRecord, SqlStore

NOW_NS = 1_750_000_000_000_000_000  # 2025-06-15
_ids = itertools.count(1)


def trace_id() -> bytes:
    """A fresh, valid 16-byte trace id."""
    return next(_ids).to_bytes(16, "big")


def span_id() -> bytes:
    """A fresh, valid 8-byte span id."""
    return next(_ids).to_bytes(8, "big")


def any_value(value: Any) -> AnyValue:
    """The OTLP `AnyValue` of a Python value (lists and dicts nest)."""
    out = AnyValue()
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, (list, tuple)):
        out.array_value.values.extend(any_value(v) for v in value)
    elif isinstance(value, dict):
        out.kvlist_value.values.extend(key_values(value))
    return out


def key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    """OTLP attributes of a dict."""
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def make_span(
    name: str = "span",
    *,
    trace: bytes | None = None,
    span: bytes | None = None,
    parent: bytes = b"",
    attrs: Mapping[str, Any] | None = None,
    events: Sequence[tuple[str, Mapping[str, Any]]] = (),
    start_ns: int = NOW_NS,
    duration_ns: int = 5_000_000,
    status: int = 0,
    message: str = "",
    flags: int = 0,
) -> Span:
    """A protobuf span (fresh ids unless given)."""
    out = Span(
        trace_id=trace_id() if trace is None else trace,
        span_id=span_id() if span is None else span,
        parent_span_id=parent,
        name=name,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + duration_ns,
        status=Status(code=status, message=message),  # type: ignore[arg-type]
        flags=flags,
    )
    out.attributes.extend(key_values(attrs or {}))
    for i, (event_name, event_attrs) in enumerate(events):
        event = out.events.add(name=event_name, time_unix_nano=start_ns + i)
        event.attributes.extend(key_values(event_attrs))
    return out


def make_request(
    *spans: Span,
    resource: Mapping[str, Any] | None = None,
    scope: str = "tests",
) -> ExportTraceServiceRequest:
    """One resource with one scope holding `spans`."""
    request = ExportTraceServiceRequest()
    rs: ResourceSpans = request.resource_spans.add()
    rs.resource.attributes.extend(key_values(resource or {"service.name": "tests"}))
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.spans.extend(spans)
    return request


def to_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP/JSON form of a request: protobuf's JSON mapping with ids in hex (the spec)."""
    doc: dict[str, Any] = json_format.MessageToDict(request)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return doc


class HeldStore:
    """Wraps a `SqlStore`: `log_spans` waits while `hold()` is active, and raises `fail_with`
    (an exception, or a function of the records returning one or None) when set."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.calls: list[int] = []
        self.fail_with: Any = None
        self._open = threading.Event()
        self._open.set()
        self.entered = threading.Event()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Writes block inside this block (the writer thread waits at its next write)."""
        self._open.clear()
        self.entered.clear()
        try:
            yield
        finally:
            self._open.set()

    def log_spans(self, records: Sequence[SpanRecord]) -> None:
        self.entered.set()
        assert self._open.wait(30), "held write never released"
        self.calls.append(len(records))
        error = self.fail_with(records) if callable(self.fail_with) else self.fail_with
        if error is not None:
            raise error
        self.store.log_spans(records)


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    """Poll `predicate` until true (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


__all__ = [
    "NOW_NS",
    "HeldStore",
    "any_value",
    "key_values",
    "make_request",
    "make_span",
    "span_id",
    "to_json",
    "trace_id",
    "wait_until",
]
