"""The analytics part of the `Store` protocol: aggregates computed by the database."""

from __future__ import annotations

from typing import Protocol


class AnalyticsStore(Protocol):
    """Aggregates over traces and spans (`SqlStore` and `RestStore` implement it)."""
