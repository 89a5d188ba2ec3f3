"""Request and response models of the traces, spans, assessments and usage routes, and the
JSON response they are sent in.

Requests are validated by these models (unknown fields refused, types strict: a 400 names
the field). Responses are built by the store's wire functions (`llmtrace.store._wire`) and sent
as they are; the response models document them in the OpenAPI description, and the tests check
real responses against them.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmtrace.store._sql import MAX_LIMIT
from llmtrace.store.records import SpanRecord

# Records one POST /spans takes; `RestStore.log_spans` sends larger batches in several requests.
MAX_SPANS_PER_REQUEST = 10_000
TRACE_ID = r"^[0-9a-f]{32}$"
SPAN_ID = r"^[0-9a-f]{16}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- requests ------------------------------------------------------------------------------------


class SearchTracesRequest(_Strict):
    """The body of POST /traces/search: the same query as GET /traces, for long filters."""

    filter: str | None = Field(None, description="filter expression, e.g. status = 'ERROR'")
    order_by: list[str] | str | None = Field(None, description="e.g. ['latency_ms desc']")
    limit: int = Field(100, description=f"traces per page, 1 to {MAX_LIMIT}")
    page_token: str | None = Field(None, description="next_page_token of the previous page")
    project: str | None = None


class TagRequest(_Strict):
    """The body of PUT /traces/{trace_id}/tags/{key} (optional: the value defaults to "true")."""

    value: str = "true"


class AssessmentRequest(_Strict):
    """A score or piece of feedback to attach to a trace (or one of its spans)."""

    name: str
    value: Any = Field(description="any JSON value: number, boolean, string, object, null")
    source_type: str = Field("HUMAN", description="HUMAN, LLM_JUDGE or CODE")
    source_id: str | None = None
    span_id: str | None = None
    rationale: str | None = None
    error: str | None = None
    metadata: dict[str, Any] | None = None


class AssessmentPatch(_Strict):
    """Fields to change; fields left out keep their value, null clears rationale, error and
    metadata (metadata given replaces the stored one)."""

    value: Any = None
    rationale: str | None = None
    metadata: dict[str, Any] | None = None
    error: str | None = None


MAX_TIME_NS = 2**64 - 1


class SpanRecordIn(_Strict):
    """One finished span, in `llmtrace.store.SpanRecord` form."""

    trace_id: Annotated[str, Field(pattern=TRACE_ID, description="32 lowercase hex digits")]
    span_id: Annotated[str, Field(pattern=SPAN_ID, description="16 lowercase hex digits")]
    parent_span_id: Annotated[str, Field(pattern=SPAN_ID)] | None = None
    name: str
    # OTLP's range (unsigned 64-bit nanoseconds, up to the year 2554): every backend holds it.
    start_time_ns: Annotated[
        int, Field(ge=0, le=MAX_TIME_NS, description="nanoseconds since the Unix epoch")
    ]
    end_time_ns: Annotated[int, Field(ge=0, le=MAX_TIME_NS)]
    status: Literal["UNSET", "OK", "ERROR"] = "UNSET"
    status_message: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(
        default_factory=list, description='each {"name", "timestamp_ns", "attributes"}'
    )
    resource: dict[str, Any] = Field(default_factory=dict)
    is_local_root: bool = False

    @model_validator(mode="after")
    def _ends_after_start(self) -> SpanRecordIn:
        if self.end_time_ns < self.start_time_ns:
            raise ValueError("end_time_ns is before start_time_ns")
        return self

    def to_record(self) -> SpanRecord:
        """The store's `SpanRecord`."""
        return SpanRecord(
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            name=self.name,
            start_time_ns=self.start_time_ns,
            end_time_ns=self.end_time_ns,
            status=self.status,
            status_message=self.status_message,
            attributes=self.attributes,
            events=self.events,
            resource=self.resource,
            is_local_root=self.is_local_root,
        )


SpanBatch = Annotated[list[SpanRecordIn], Field(max_length=MAX_SPANS_PER_REQUEST)]


# --- responses -----------------------------------------------------------------------------------


class TraceInfoOut(BaseModel):
    """A trace's rollups (`llmtrace.store.TraceInfo`); times are ISO-8601 UTC."""

    trace_id: str
    project: str
    name: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: str
    session_id: str | None
    user_id: str | None
    run_id: str | None
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: float | None
    input_preview: str | None
    output_preview: str | None
    span_count: int
    error_count: int
    tags: dict[str, str]
    metadata: dict[str, str]


class TraceListOut(BaseModel):
    """A page of traces; pass `next_page_token` back as `page_token` (null on the last page)."""

    traces: list[TraceInfoOut]
    next_page_token: str | None


class SpanOut(BaseModel):
    """One span (`llmtrace.store.Span`); `inputs`/`outputs` are the captured JSON values."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: str
    status: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status_message: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None
    inputs: Any
    outputs: Any
    attributes: dict[str, Any]
    events: list[dict[str, Any]]


class AssessmentOut(BaseModel):
    """A stored assessment (`llmtrace.store.Assessment`)."""

    assessment_id: str
    trace_id: str
    name: str
    source_type: str
    value: Any
    span_id: str | None
    source_id: str | None
    rationale: str | None
    error: str | None
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


class TraceOut(BaseModel):
    """A trace: rollups, every span (a flat list in start order; `parent_span_id` links them
    into a tree) and its assessments."""

    info: TraceInfoOut
    spans: list[SpanOut]
    assessments: list[AssessmentOut]


class AssessmentListOut(BaseModel):
    """The assessments of a trace, oldest first."""

    assessments: list[AssessmentOut]


class ModelUsageOut(BaseModel):
    """Calls, tokens and cost of one model (`llmtrace.store.ModelUsage`)."""

    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float | None
    unpriced_calls: int


class ModelUsageListOut(BaseModel):
    """Usage per model, most calls first."""

    models: list[ModelUsageOut]


class DeletedOut(BaseModel):
    """How many traces a bulk delete removed."""

    deleted: int


class AcceptedOut(BaseModel):
    """How many span records were received (spans already stored are skipped, not counted
    apart)."""

    accepted: int


# --- the response --------------------------------------------------------------------------------


def wire_json(content: Any, status_code: int = 200) -> Response:
    """`content` as standard JSON. Stored payloads may hold NaN or infinities (valid Python
    floats, invalid JSON): those, and only in that case, are sent as the strings "NaN",
    "Infinity" and "-Infinity"."""
    try:
        text = _dumps(content)
    except ValueError:
        text = _dumps(_finite(content))
    return Response(text.encode("utf-8"), status_code=status_code, media_type="application/json")


def _dumps(content: Any) -> str:
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


__all__ = [
    "MAX_SPANS_PER_REQUEST",
    "AcceptedOut",
    "AssessmentListOut",
    "AssessmentOut",
    "AssessmentPatch",
    "AssessmentRequest",
    "DeletedOut",
    "ModelUsageListOut",
    "ModelUsageOut",
    "SearchTracesRequest",
    "SpanBatch",
    "SpanOut",
    "SpanRecordIn",
    "TagRequest",
    "TraceInfoOut",
    "TraceListOut",
    "TraceOut",
    "wire_json",
]
