"""The analytics part of the `Store` protocol: aggregates computed by the database."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from llmtrace.store.analytics_entities import SpanGroup, TimeBucket


class AnalyticsStore(Protocol):
    """Aggregates over traces and spans (`SqlStore` and `RestStore` implement it)."""

    def trace_timeseries(
        self,
        filter: str | None = None,
        *,
        since: datetime,
        until: datetime | None = None,
        bucket_seconds: int,
        project: str | None = None,
    ) -> list[TimeBucket]:
        """Requests, errors, latency p50/p95/p99, tokens and cost of the traces started in
        `[since, until)` (until: now), per bucket of `bucket_seconds` starting at `since`
        (truncated to the second). Every bucket is listed (at most 2,000)."""
        ...

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
        """Calls, errors, latency p50/p95/p99, tokens and cost of the spans of traces started
        in `[since, until)`, per model or per span type (`by`), most calls first."""
        ...
