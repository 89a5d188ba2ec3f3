"""REST routes of analytics (aggregates over traces and spans), mounted under /api/v1.

`GET /analytics/timeseries` and `GET /analytics/breakdown` answer what
`SqlStore.trace_timeseries` and `SqlStore.span_breakdown` return; the store validates the
arguments, so a bad range or bucket size is a 400 with the store's message. See
docs/rest-api.md ("Analytics").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from llmtrace.server._api_schemas import wire_json
from llmtrace.server._deps import get_store
from llmtrace.store import SqlStore

router = APIRouter(tags=["analytics"])
StoreDep = Annotated[SqlStore, Depends(get_store)]
READ = {"x-llmtrace-scope": "read"}

Since = Annotated[
    datetime, Query(description="traces started at or after this time (ISO-8601 with offset)")
]
Until = Annotated[
    datetime | None,
    Query(description="traces started before this time (ISO-8601 with offset)"),
]
Filter = Annotated[str | None, Query(description="trace filter, as in GET /traces")]
Project = Annotated[str | None, Query(description="only this project")]


class TimeBucketOut(BaseModel):
    """One time bucket (see `TimeBucket.to_dict`)."""

    start: str
    end: str
    requests: int
    errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    input_tokens: int
    output_tokens: int
    cost: float | None


class TimeSeriesOut(BaseModel):
    """Every bucket from `since` to `until`, oldest first."""

    buckets: list[TimeBucketOut]


class SpanGroupOut(BaseModel):
    """One model or span type (see `SpanGroup.to_dict`)."""

    key: str
    calls: int
    errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    input_tokens: int
    output_tokens: int
    cost: float | None


class BreakdownOut(BaseModel):
    """Groups, most calls first."""

    groups: list[SpanGroupOut]


@router.get(
    "/analytics/timeseries",
    response_model=TimeSeriesOut,
    summary="Requests, errors, latency, tokens and cost of traces per time bucket",
    openapi_extra=READ,
)
def trace_timeseries(
    store: StoreDep,
    since: Since,
    bucket_seconds: Annotated[int, Query(description="bucket size in seconds")],
    until: Until = None,
    filter: Filter = None,
    project: Project = None,
) -> Response:
    """Buckets of `bucket_seconds` from `since` (truncated to the second) to `until` (default:
    now), at most 2,000; latency percentiles are nearest-rank."""
    buckets = store.trace_timeseries(
        filter, since=since, until=until, bucket_seconds=bucket_seconds, project=project
    )
    body: dict[str, Any] = {"buckets": [b.to_dict() for b in buckets]}
    return wire_json(body)


@router.get(
    "/analytics/breakdown",
    response_model=BreakdownOut,
    summary="Calls, errors, latency, tokens and cost of spans per model or span type",
    openapi_extra=READ,
)
def span_breakdown(
    store: StoreDep,
    since: Since,
    until: Until = None,
    by: Annotated[str, Query(description="model or span_type")] = "model",
    filter: Filter = None,
    project: Project = None,
    limit: Annotated[int, Query(description="at most this many groups (1-1000)")] = 100,
) -> Response:
    """Spans of the traces started in `[since, until)`, grouped, most calls first."""
    groups = store.span_breakdown(
        filter, since=since, until=until, by=by, project=project, limit=limit
    )
    return wire_json({"groups": [g.to_dict() for g in groups]})


__all__ = ["router"]
