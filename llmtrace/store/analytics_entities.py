"""Typed results of the store's analytics: `TimeBucket` (one point of a trace time series) and
`SpanGroup` (one row of a span breakdown by model or span type).

Latency percentiles use the nearest-rank method on every backend: the p-th percentile of n
values is the value at rank ceil(p * n / 100) of the sorted values (rank 1 for the smallest),
so it is always an observed latency, equal bit for bit whichever database computed it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

# Latency percentiles computed for every bucket and group.
PERCENTILES = (50, 95, 99)


@dataclass
class TimeBucket:
    """Traces started in `[start, end)`: how many, how many ended in ERROR, their latency
    percentiles (None without traces), token totals and cost (None when no trace in the
    bucket has a known cost)."""

    start: datetime
    end: datetime
    requests: int = 0
    errors: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None

    @property
    def error_rate(self) -> float | None:
        """errors / requests, None for an empty bucket."""
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO-8601)."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data


@dataclass
class SpanGroup:
    """The spans of one model (or span type) in traces of a time range: calls, errors, latency
    percentiles, token totals and cost (None when no span of the group has a known cost).

    Usage a nested span reports again (`llmtrace.usage.aggregate = false`) is not counted twice:
    such spans are left out of a breakdown by model, and add no tokens or cost by span type.
    """

    key: str
    calls: int
    errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    input_tokens: int
    output_tokens: int
    cost: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


__all__ = ["PERCENTILES", "SpanGroup", "TimeBucket"]
