"""Pure conversion of `SpanRecord`s into span rows and per-trace rollup deltas.

No I/O here: `SqlStore.log_spans` merges the deltas into stored traces in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from llmtrace import semconv as sc
from llmtrace.store.records import SpanRecord

PREVIEW_CHARS = 1000
_UTC = timezone.utc

# Attributes that become columns (or are trace-level) and are not repeated in `attributes`.
_COLUMN_KEYS = frozenset(
    {
        sc.SPAN_TYPE,
        sc.SPAN_INPUTS,
        sc.SPAN_OUTPUTS,
        sc.SPAN_MODEL,
        sc.COST_TOTAL,
        sc.USAGE_INPUT_TOKENS,
        sc.USAGE_OUTPUT_TOKENS,
        sc.TRACE_SESSION_ID,
        sc.TRACE_USER_ID,
        sc.TRACE_RUN_ID,
        sc.TRACE_PROJECT,
    }
)
_KNOWN_TYPES = frozenset(t.value for t in sc.SpanType)
_TYPE_BY_OPERATION = {
    "chat": "CHAT_MODEL",
    "text_completion": "LLM",
    "generate_content": "CHAT_MODEL",
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
}


@dataclass
class TraceDelta:
    """What one batch contributes to a trace's rollups."""

    trace_id: str
    project: str
    start_ns: int
    end_ns: int
    span_count: int = 0
    error_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    # Set when the batch holds the trace's local root span.
    root_name: str | None = None
    root_status: str | None = None
    input_preview: str | None = None
    output_preview: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


_NAIVE_EPOCH = datetime(1970, 1, 1)


def ns_to_naive_utc(ns: int) -> datetime:
    """Nanoseconds since the epoch -> naive UTC datetime, for the bulk span insert."""
    return _NAIVE_EPOCH + timedelta(microseconds=ns // 1000)


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch -> aware UTC datetime (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=_UTC)


def json_text(value: Any) -> str:
    """Compact JSON for attribute bags; never raises."""
    try:
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(str(value))


# Payloads above this size are previewed from their text, without being parsed.
_PREVIEW_PARSE_MAX = 256 * 1024


def _clip(text: str, limit: int, *, force_ellipsis: bool = False) -> str:
    if len(text) <= limit and not force_ellipsis:
        return text
    return text[: max(limit - 1, 0)] + "…"


def payload_preview(json_text: str | None, limit: int = PREVIEW_CHARS) -> str | None:
    """A short, human-oriented preview of a captured payload, at most `limit` characters.

    A JSON string is shown without quotes; an object with a single key is shown as its value
    (``{"query": "hi"}`` -> ``hi``); a truncation marker shows its preview text. Anything else
    is shown as compact JSON. Longer results end with an ellipsis. Never raises.

    >>> payload_preview('{"question": "What is 2+2?"}')
    'What is 2+2?'
    >>> payload_preview('[1, 2, 3]', limit=5)
    '[1,2…'
    """
    if json_text is None:
        return None
    try:
        if limit <= 0:
            return ""
        text = json_text
        if len(json_text) <= _PREVIEW_PARSE_MAX:
            try:
                obj = json.loads(json_text)
            except ValueError:
                return _clip(json_text, limit)
            if isinstance(obj, dict):
                marker = obj.get("__truncated__") is True and obj.get("preview")
                if isinstance(marker, str):
                    return _clip(marker, limit, force_ellipsis=True)
                if len(obj) == 1:
                    obj = next(iter(obj.values()))
            text = obj if isinstance(obj, str) else _compact_json(obj)
        return _clip(text, limit)
    except Exception:
        return ""


def _compact_json(value: Any) -> str:
    """Compact JSON keeping non-ASCII characters as they are."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _span_type(attrs: Mapping[str, Any]) -> str:
    value = attrs.get(sc.SPAN_TYPE)
    if isinstance(value, str) and value.upper() in _KNOWN_TYPES:
        return value.upper()
    op = attrs.get(sc.GEN_AI_OPERATION_NAME)
    if isinstance(op, str):
        return _TYPE_BY_OPERATION.get(op, "UNKNOWN")
    return "UNKNOWN"


def _project(record: SpanRecord) -> str:
    value = record.attributes.get(sc.TRACE_PROJECT) or record.resource.get(sc.RESOURCE_PROJECT)
    return str(value) if value else "default"


def span_status(record: SpanRecord) -> str:
    """A finished span's status; OpenTelemetry's UNSET on a finished span means it succeeded."""
    status = record.status.upper()
    return "ERROR" if status == "ERROR" else "OK"


def span_row(record: SpanRecord) -> dict[str, Any]:
    """The `spans` row of one record."""
    attrs = record.attributes
    model = (
        attrs.get(sc.SPAN_MODEL)
        or attrs.get(sc.GEN_AI_RESPONSE_MODEL)
        or attrs.get(sc.GEN_AI_REQUEST_MODEL)
    )
    inputs = attrs.get(sc.SPAN_INPUTS)
    outputs = attrs.get(sc.SPAN_OUTPUTS)
    rest = {k: v for k, v in attrs.items() if k not in _COLUMN_KEYS}
    return {
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "parent_span_id": record.parent_span_id,
        "name": record.name[:255],
        "span_type": _span_type(attrs),
        "status": span_status(record),
        "status_message": record.status_message,
        # Naive UTC: `SqlStore` inserts span rows in bulk, bypassing the UtcDateTime type.
        "start_time": ns_to_naive_utc(record.start_time_ns),
        "end_time": ns_to_naive_utc(record.end_time_ns),
        "duration_ms": (record.end_time_ns - record.start_time_ns) / 1e6,
        "model": str(model)[:255] if model else None,
        "input_tokens": _tokens(attrs, sc.USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_INPUT_TOKENS),
        "output_tokens": _tokens(attrs, sc.USAGE_OUTPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS),
        "cost": _float(attrs.get(sc.COST_TOTAL)),
        "inputs": inputs if isinstance(inputs, str) or inputs is None else json_text(inputs),
        "outputs": outputs if isinstance(outputs, str) or outputs is None else json_text(outputs),
        "attributes": json_text(rest) if rest else "{}",
        "events": json_text(record.events) if record.events else "[]",
    }


def _tokens(attrs: Mapping[str, Any], own: str, genai: str) -> int | None:
    value = _int(attrs.get(own))
    return value if value is not None else _int(attrs.get(genai))


def convert(records: Iterable[SpanRecord]) -> tuple[list[dict[str, Any]], dict[str, TraceDelta]]:
    """Span rows and one `TraceDelta` per trace for a batch of records."""
    rows: list[dict[str, Any]] = []
    deltas: dict[str, TraceDelta] = {}
    for record in records:
        row = span_row(record)
        rows.append(row)
        delta = deltas.get(record.trace_id)
        if delta is None:
            delta = deltas[record.trace_id] = TraceDelta(
                record.trace_id, _project(record), record.start_time_ns, record.end_time_ns
            )
        _accumulate(delta, record, row)
    return rows, deltas


def _accumulate(delta: TraceDelta, record: SpanRecord, row: dict[str, Any]) -> None:
    attrs = record.attributes
    delta.start_ns = min(delta.start_ns, record.start_time_ns)
    delta.end_ns = max(delta.end_ns, record.end_time_ns)
    delta.span_count += 1
    if row["status"] == "ERROR":
        delta.error_count += 1
    if attrs.get(sc.USAGE_AGGREGATE) is not False:
        delta.input_tokens += row["input_tokens"] or 0
        delta.output_tokens += row["output_tokens"] or 0
        if row["cost"] is not None:
            delta.cost = round((delta.cost or 0.0) + row["cost"], 12)
    if record.is_local_root:
        delta.root_name = row["name"]
        delta.root_status = row["status"]
        delta.input_preview = payload_preview(row["inputs"])
        delta.output_preview = payload_preview(row["outputs"])
    for key, attr in (
        ("session_id", sc.TRACE_SESSION_ID),
        ("user_id", sc.TRACE_USER_ID),
        ("run_id", sc.TRACE_RUN_ID),
    ):
        value = attrs.get(attr)
        if value is not None:
            setattr(delta, key, str(value)[:255])
    if delta.session_id is None and attrs.get(sc.SESSION_ID) is not None:
        delta.session_id = str(attrs[sc.SESSION_ID])[:255]
    if delta.user_id is None and attrs.get(sc.USER_ID) is not None:
        delta.user_id = str(attrs[sc.USER_ID])[:255]
    for key, value in attrs.items():
        if key.startswith("llmtrace.trace."):
            if key.startswith(sc.TRACE_TAG_PREFIX):
                delta.tags[key[len(sc.TRACE_TAG_PREFIX) :][:255]] = str(value)[:500]
            elif key.startswith(sc.TRACE_METADATA_PREFIX):
                delta.metadata[key[len(sc.TRACE_METADATA_PREFIX) :][:255]] = str(value)[:500]


__all__ = [
    "TraceDelta",
    "convert",
    "json_text",
    "ns_to_datetime",
    "ns_to_naive_utc",
    "payload_preview",
    "span_row",
]
