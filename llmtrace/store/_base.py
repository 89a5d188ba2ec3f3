"""The `Store` protocol: what library code, the evaluation engine and the dashboard rely on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from llmtrace.store.entities import Assessment, ModelUsage, Trace, TraceList
from llmtrace.store.records import SpanRecord


@runtime_checkable
class Store(Protocol):
    """Storage of traces and their assessments. `SqlStore` implements it; a REST client will."""

    def log_spans(self, records: Sequence[SpanRecord]) -> None:
        """Store finished spans, merging rollups into their traces."""

    def search_traces(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        project: str | None = None,
    ) -> TraceList:
        """A page of traces matching the filter."""
        ...

    def get_trace(self, trace_id: str) -> Trace:
        """One trace with its span tree."""
        ...

    def delete_traces(
        self,
        *,
        older_than: timedelta | datetime | None = None,
        filter: str | None = None,
        project: str | None = None,
        batch_size: int = 1000,
    ) -> int:
        """Delete matching traces; returns how many."""
        ...

    def set_trace_tag(self, trace_id: str, key: str, value: str = "true") -> None:
        """Set a tag on a stored trace."""

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Remove a tag from a stored trace."""

    def log_assessment(
        self,
        trace_id: str,
        name: str,
        value: Any,
        *,
        source_type: str = "HUMAN",
        source_id: str | None = None,
        span_id: str | None = None,
        rationale: str | None = None,
        error: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Assessment:
        """Attach a score or feedback to a trace."""
        ...

    def get_assessments(self, trace_id: str) -> list[Assessment]:
        """Assessments of a trace."""
        ...

    def model_usage(
        self, *, project: str | None = None, since: datetime | None = None
    ) -> list[ModelUsage]:
        """Calls, tokens and cost per model, with the calls that have no price."""
        ...

    def close(self) -> None:
        """Release resources."""


__all__ = ["Store"]
