"""The analytics methods of `RestStore` over the server's REST API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store._analytics import (
    check_breakdown,
    check_bucket_seconds,
    check_buckets,
    check_range,
)
from llmtrace.store._rest import RestClient
from llmtrace.store._wire import datetime_from_wire, datetime_to_wire
from llmtrace.store.analytics_entities import SpanGroup, TimeBucket


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _time(value: Any) -> datetime:
    parsed = datetime_from_wire(value)
    if parsed is None:
        raise InvalidParameterError("a time bucket without start or end")
    return parsed


def time_bucket_from_dict(data: Mapping[str, Any]) -> TimeBucket:
    """The inverse of `TimeBucket.to_dict`."""
    return TimeBucket(
        start=_time(data["start"]),
        end=_time(data["end"]),
        requests=int(data["requests"]),
        errors=int(data["errors"]),
        latency_p50_ms=_float(data.get("latency_p50_ms")),
        latency_p95_ms=_float(data.get("latency_p95_ms")),
        latency_p99_ms=_float(data.get("latency_p99_ms")),
        input_tokens=int(data["input_tokens"]),
        output_tokens=int(data["output_tokens"]),
        cost=_float(data.get("cost")),
    )


def span_group_from_dict(data: Mapping[str, Any]) -> SpanGroup:
    """The inverse of `SpanGroup.to_dict`."""
    return SpanGroup(
        key=str(data["key"]),
        calls=int(data["calls"]),
        errors=int(data["errors"]),
        latency_p50_ms=_float(data.get("latency_p50_ms")),
        latency_p95_ms=_float(data.get("latency_p95_ms")),
        latency_p99_ms=_float(data.get("latency_p99_ms")),
        input_tokens=int(data["input_tokens"]),
        output_tokens=int(data["output_tokens"]),
        cost=_float(data.get("cost")),
    )


class RestAnalyticsMixin(RestClient):
    """The analytics half of `RestStore` (GET /analytics/timeseries, /analytics/breakdown)."""

    def trace_timeseries(
        self,
        filter: str | None = None,
        *,
        since: datetime,
        until: datetime | None = None,
        bucket_seconds: int,
        project: str | None = None,
    ) -> list[TimeBucket]:
        """Per-bucket requests, errors, latency percentiles, tokens and cost of traces (as
        `SqlStore.trace_timeseries`; `until` None means the server's now)."""
        start, end = check_range(since, until)
        check_bucket_seconds(bucket_seconds)
        if end is not None:
            check_buckets(start, end, bucket_seconds)
        data = self.get_json(
            "/analytics/timeseries",
            filter=filter,
            since=datetime_to_wire(start),
            until=datetime_to_wire(end),
            bucket_seconds=bucket_seconds,
            project=project,
        )
        return [time_bucket_from_dict(b) for b in data["buckets"]]

    def span_breakdown(
        self,
        filter: str | None = None,
        *,
        since: datetime,
        until: datetime | None = None,
        by: str = "model",
        project: str | None = None,
        limit: int = 100,
    ) -> list[SpanGroup]:
        """Per-model or per-span-type calls, errors, latency percentiles, tokens and cost (as
        `SqlStore.span_breakdown`)."""
        start, end = check_range(since, until)
        check_breakdown(by, limit)
        data = self.get_json(
            "/analytics/breakdown",
            filter=filter,
            since=datetime_to_wire(start),
            until=datetime_to_wire(end),
            by=by,
            project=project,
            limit=limit,
        )
        return [span_group_from_dict(g) for g in data["groups"]]
