"""Analytics on SQL: methods of `SqlStore` computing aggregates in the database."""

from __future__ import annotations


class AnalyticsMixin:
    """The analytics half of `SqlStore`."""
