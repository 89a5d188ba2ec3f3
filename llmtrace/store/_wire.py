"""The JSON wire form of traces, spans, assessments, model usage and span records, both ways.

The server answers with these dicts and `RestStore` decodes them with the `*_from_dict`
functions, which invert the entities' `to_dict`, so that a `RestStore` returns values equal to
those a `SqlStore` returns: timestamps as timezone-aware UTC datetimes, floats bit for bit (JSON
numbers are written with `repr`).

One departure from `Trace.to_dict`: on the wire a trace's spans are a flat list in start order,
each naming its parent (`parent_span_id`), not a nested tree. Flat lists have no depth limit
(nesting JSON one level per span fails on deep agent loops) and are how OpenTelemetry ships
spans; `Trace` rebuilds the tree. `trace_from_dict` reads the nested form too.

Example:
    >>> data = trace_to_dict(store.get_trace(trace_id))
    >>> trace_from_dict(data) == store.get_trace(trace_id)
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store.entities import Assessment, ModelUsage, Span, Trace, TraceInfo, TraceList
from llmtrace.store.records import SpanRecord

_SPAN_FIELDS = tuple(f.name for f in dataclasses.fields(Span) if f.name != "children")
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(SpanRecord))


# --- scalars -------------------------------------------------------------------------------------


def datetime_to_wire(value: datetime | None) -> str | None:
    """ISO-8601 text of a datetime (None stays None), as the entities' `to_dict` write it."""
    return None if value is None else value.isoformat()


def datetime_from_wire(value: Any) -> datetime | None:
    """An aware datetime from ISO-8601 text (None stays None). UTC comes back as
    `timezone.utc`, as the SQL store returns it; text without an offset is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterError(f"expected an ISO-8601 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameterError(f"expected an ISO-8601 time, got {value!r}") from None
    offset = parsed.utcoffset()
    if offset is None or not offset:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed


def _time(data: Mapping[str, Any], key: str) -> datetime:
    parsed = datetime_from_wire(data.get(key))
    if parsed is None:
        raise InvalidParameterError(f"{key} is missing")
    return parsed


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


# --- traces --------------------------------------------------------------------------------------


def trace_info_from_dict(data: Mapping[str, Any]) -> TraceInfo:
    """The inverse of `TraceInfo.to_dict`."""
    return TraceInfo(
        trace_id=str(data["trace_id"]),
        project=str(data["project"]),
        name=str(data["name"]),
        start_time=_time(data, "start_time"),
        end_time=_time(data, "end_time"),
        duration_ms=float(data["duration_ms"]),
        status=str(data["status"]),
        session_id=_str_or_none(data.get("session_id")),
        user_id=_str_or_none(data.get("user_id")),
        run_id=_str_or_none(data.get("run_id")),
        input_tokens=int(data.get("input_tokens") or 0),
        output_tokens=int(data.get("output_tokens") or 0),
        total_tokens=int(data.get("total_tokens") or 0),
        cost=_float_or_none(data.get("cost")),
        input_preview=_str_or_none(data.get("input_preview")),
        output_preview=_str_or_none(data.get("output_preview")),
        span_count=int(data.get("span_count") or 0),
        error_count=int(data.get("error_count") or 0),
        tags=_str_dict(data.get("tags")),
        metadata=_str_dict(data.get("metadata")),
    )


def span_to_dict(span: Span) -> dict[str, Any]:
    """`Span.to_dict()` without the children, built without recursing into the subtree (a
    dataclass `asdict` of a span copies its whole subtree)."""
    data = {name: getattr(span, name) for name in _SPAN_FIELDS}
    data["start_time"] = datetime_to_wire(span.start_time)
    data["end_time"] = datetime_to_wire(span.end_time)
    return data


def span_from_dict(data: Mapping[str, Any]) -> Span:
    """The inverse of `Span.to_dict` (a "children" entry is ignored: see `trace_from_dict`)."""
    return Span(
        trace_id=str(data["trace_id"]),
        span_id=str(data["span_id"]),
        parent_span_id=_str_or_none(data.get("parent_span_id")),
        name=str(data["name"]),
        span_type=str(data["span_type"]),
        status=str(data["status"]),
        start_time=_time(data, "start_time"),
        end_time=_time(data, "end_time"),
        duration_ms=float(data["duration_ms"]),
        status_message=_str_or_none(data.get("status_message")),
        model=_str_or_none(data.get("model")),
        input_tokens=_int_or_none(data.get("input_tokens")),
        output_tokens=_int_or_none(data.get("output_tokens")),
        cost=_float_or_none(data.get("cost")),
        inputs=data.get("inputs"),
        outputs=data.get("outputs"),
        attributes=dict(data.get("attributes") or {}),
        events=list(data.get("events") or []),
    )


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """`{"info": ..., "spans": [flat, start order], "assessments": [...]}` (see the module)."""
    spans = sorted(trace.spans, key=lambda s: (s.start_time, s.span_id))
    return {
        "info": trace.info.to_dict(),
        "spans": [span_to_dict(s) for s in spans],
        "assessments": [a.to_dict() for a in trace.assessments],
    }


def _flatten(spans: Any) -> Iterator[Mapping[str, Any]]:
    stack = list(reversed(spans or []))
    while stack:
        item = stack.pop()
        yield item
        stack.extend(reversed(item.get("children") or []))


def trace_from_dict(data: Mapping[str, Any]) -> Trace:
    """The inverse of `trace_to_dict`, and of `Trace.to_dict` (nested "children"); spans come
    back in start order (span id on ties), as `SqlStore.get_trace` returns them."""
    spans = [span_from_dict(item) for item in _flatten(data.get("spans"))]
    spans.sort(key=lambda s: (s.start_time, s.span_id))
    assessments = [assessment_from_dict(a) for a in data.get("assessments") or ()]
    return Trace(trace_info_from_dict(data["info"]), spans, assessments)


def trace_list_to_dict(page: TraceList) -> dict[str, Any]:
    """`{"traces": [TraceInfo.to_dict(), ...], "next_page_token": str | None}`."""
    return {"traces": page.to_dict(), "next_page_token": page.next_page_token}


def trace_list_from_dict(data: Mapping[str, Any]) -> TraceList:
    """The inverse of `trace_list_to_dict`."""
    infos = [trace_info_from_dict(item) for item in data.get("traces") or ()]
    return TraceList(infos, _str_or_none(data.get("next_page_token")))


# --- assessments and usage -----------------------------------------------------------------------


def assessment_from_dict(data: Mapping[str, Any]) -> Assessment:
    """The inverse of `Assessment.to_dict`."""
    return Assessment(
        assessment_id=str(data["assessment_id"]),
        trace_id=str(data["trace_id"]),
        name=str(data["name"]),
        source_type=str(data["source_type"]),
        value=data.get("value"),
        span_id=_str_or_none(data.get("span_id")),
        source_id=_str_or_none(data.get("source_id")),
        rationale=_str_or_none(data.get("rationale")),
        error=_str_or_none(data.get("error")),
        metadata=dict(data.get("metadata") or {}),
        created_at=datetime_from_wire(data.get("created_at")),
        updated_at=datetime_from_wire(data.get("updated_at")),
    )


def model_usage_from_dict(data: Mapping[str, Any]) -> ModelUsage:
    """The inverse of `ModelUsage.to_dict`."""
    return ModelUsage(
        model=str(data["model"]),
        calls=int(data["calls"]),
        input_tokens=int(data["input_tokens"]),
        output_tokens=int(data["output_tokens"]),
        cost=_float_or_none(data.get("cost")),
        unpriced_calls=int(data["unpriced_calls"]),
    )


# --- span records --------------------------------------------------------------------------------


def span_record_to_dict(record: SpanRecord) -> dict[str, Any]:
    """A `SpanRecord` as a JSON-ready dict (attribute sequences become lists in JSON)."""
    data = {name: getattr(record, name) for name in _RECORD_FIELDS}
    data["attributes"] = dict(record.attributes)
    data["resource"] = dict(record.resource)
    return data


def span_record_from_dict(data: Mapping[str, Any]) -> SpanRecord:
    """The inverse of `span_record_to_dict`; InvalidParameterError names what is wrong."""
    if not isinstance(data, Mapping):
        raise InvalidParameterError(f"a span record must be an object, got {data!r:.100}")
    unknown = set(data) - set(_RECORD_FIELDS)
    if unknown:
        raise InvalidParameterError(f"unknown span record field(s): {', '.join(sorted(unknown))}")
    try:
        record = SpanRecord(**data)
    except TypeError as exc:
        raise InvalidParameterError(f"invalid span record: {exc}") from None
    checks = (
        ("trace_id", isinstance(record.trace_id, str)),
        ("span_id", isinstance(record.span_id, str)),
        ("parent_span_id", record.parent_span_id is None or isinstance(record.parent_span_id, str)),
        ("name", isinstance(record.name, str)),
        ("start_time_ns", _is_int(record.start_time_ns)),
        ("end_time_ns", _is_int(record.end_time_ns)),
        ("status", isinstance(record.status, str)),
        ("attributes", isinstance(record.attributes, Mapping)),
        ("events", isinstance(record.events, list)),
        ("resource", isinstance(record.resource, Mapping)),
        ("is_local_root", isinstance(record.is_local_root, bool)),
    )
    for name, ok in checks:
        if not ok:
            raise InvalidParameterError(
                f"span record field {name!r} has the wrong type: {getattr(record, name)!r:.100}"
            )
    return record


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "assessment_from_dict",
    "datetime_from_wire",
    "datetime_to_wire",
    "model_usage_from_dict",
    "span_from_dict",
    "span_record_from_dict",
    "span_record_to_dict",
    "span_to_dict",
    "trace_from_dict",
    "trace_info_from_dict",
    "trace_list_from_dict",
    "trace_list_to_dict",
    "trace_to_dict",
]
