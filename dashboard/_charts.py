"""Frames and time windows for the Analytics page (pure functions, tested without Streamlit)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from llmtrace.store.analytics_entities import SpanGroup, TimeBucket

RANGES = {
    "Last hour": timedelta(hours=1),
    "Last 6 hours": timedelta(hours=6),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "Last 90 days": timedelta(days=90),
}
BUCKETS = {
    "1 minute": 60,
    "5 minutes": 300,
    "15 minutes": 900,
    "1 hour": 3600,
    "6 hours": 6 * 3600,
    "1 day": 86_400,
}
# The bucket offered first for each range: about 24 to 100 points.
DEFAULT_BUCKET = {
    "Last hour": "1 minute",
    "Last 6 hours": "5 minutes",
    "Last 24 hours": "15 minutes",
    "Last 7 days": "1 hour",
    "Last 30 days": "6 hours",
    "Last 90 days": "1 day",
}


def window(now: datetime, span: timedelta, bucket_seconds: int) -> tuple[datetime, datetime]:
    """`(since, until)`: `since` is `now - span` rounded down to a multiple of the bucket
    (from the Unix epoch, so hourly buckets start on the hour in UTC); `until` is `now`."""
    start = (now - span).astimezone(timezone.utc)
    seconds = int(start.timestamp()) // bucket_seconds * bucket_seconds
    return datetime.fromtimestamp(seconds, timezone.utc), now


def series_frame(buckets: list[TimeBucket]) -> pd.DataFrame:
    """One row per bucket, indexed by its start (naive UTC, for the charts' time axis)."""
    frame: pd.DataFrame = pd.DataFrame(
        {
            "requests": [b.requests for b in buckets],
            "errors": [b.errors for b in buckets],
            "p50 (ms)": [b.latency_p50_ms for b in buckets],
            "p95 (ms)": [b.latency_p95_ms for b in buckets],
            "p99 (ms)": [b.latency_p99_ms for b in buckets],
            "input tokens": [b.input_tokens for b in buckets],
            "output tokens": [b.output_tokens for b in buckets],
            "cost ($)": [b.cost or 0.0 for b in buckets],
        },
        index=pd.DatetimeIndex([b.start.replace(tzinfo=None) for b in buckets], name="time"),
    )
    return frame


def breakdown_frame(groups: list[SpanGroup], label: str) -> pd.DataFrame:
    """One row per model or span type."""
    frame: pd.DataFrame = pd.DataFrame(
        {
            label: [g.key for g in groups],
            "calls": [g.calls for g in groups],
            "errors": [g.errors for g in groups],
            "error rate": [g.errors / g.calls if g.calls else None for g in groups],
            "p50 (ms)": [g.latency_p50_ms for g in groups],
            "p95 (ms)": [g.latency_p95_ms for g in groups],
            "p99 (ms)": [g.latency_p99_ms for g in groups],
            "input tokens": [g.input_tokens for g in groups],
            "output tokens": [g.output_tokens for g in groups],
            "cost ($)": [g.cost for g in groups],
        }
    )
    return frame


def totals(buckets: list[TimeBucket]) -> dict[str, float | None]:
    """Requests, errors, error rate, tokens and cost over all buckets."""
    requests = sum(b.requests for b in buckets)
    errors = sum(b.errors for b in buckets)
    costs = [b.cost for b in buckets if b.cost is not None]
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else None,
        "tokens": sum(b.input_tokens + b.output_tokens for b in buckets),
        "cost": round(sum(costs), 12) if costs else None,
    }


__all__ = [
    "BUCKETS",
    "DEFAULT_BUCKET",
    "RANGES",
    "breakdown_frame",
    "series_frame",
    "totals",
    "window",
]
