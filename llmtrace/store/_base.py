"""The `Store` protocol: what library code, the evaluation engine and the dashboard rely on."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol, runtime_checkable

from llmtrace.store._base_analytics import AnalyticsStore
from llmtrace.store._base_datasets import DatasetStore
from llmtrace.store._base_prompts import PromptStore
from llmtrace.store._base_registry import RegistryStore
from llmtrace.store._tracking_values import ParamsLike, TagsLike
from llmtrace.store.entities import Assessment, ModelUsage, Trace, TraceList
from llmtrace.store.records import SpanRecord
from llmtrace.store.run_entities import Experiment, Metric, Run, RunInfo, RunList

# What `log_batch` accepts as metrics: `Metric`s, (key, value[, step[, timestamp_ms]]) tuples
# or dicts of those fields.
MetricsLike = Iterable[Metric | tuple[Any, ...] | Mapping[str, Any]]


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


# "Leave this field as it is" in partial updates (`update_assessment`), where None is a value.
UNSET: Final = _Unset.UNSET
Unset = Literal[_Unset.UNSET]


@runtime_checkable
class Store(DatasetStore, RegistryStore, PromptStore, AnalyticsStore, Protocol):
    """Storage of traces, assessments, experiments and runs. `SqlStore` implements it on a
    database, `RestStore` as a client of an llmtrace server."""

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

    def update_assessment(
        self,
        assessment_id: str,
        *,
        value: Any = UNSET,
        rationale: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
        error: str | Unset | None = UNSET,
    ) -> Assessment:
        """Change the given fields of an assessment (None clears `rationale`/`error`/`metadata`);
        returns it updated. NotFoundError if unknown."""
        ...

    def delete_assessment(self, assessment_id: str) -> None:
        """Delete an assessment; NotFoundError if unknown."""

    def model_usage(
        self, *, project: str | None = None, since: datetime | None = None
    ) -> list[ModelUsage]:
        """Calls, tokens and cost per model, with the calls that have no price."""
        ...

    # --- experiments --------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str,
        tags: TagsLike | None = None,
        experiment_id: str | None = None,
    ) -> str:
        """Create an experiment, return its id; AlreadyExistsError if the name is taken."""
        ...

    def get_experiment(self, experiment_id: str) -> Experiment:
        """One experiment (NotFoundError if unknown)."""
        ...

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with exactly this name, active or deleted, or None."""
        ...

    def list_experiments(self, *, view: str = "active") -> list[Experiment]:
        """Experiments in a view ("active", "deleted", "all"), oldest first."""
        ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment."""

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment (and so its runs) deleted."""

    def restore_experiment(self, experiment_id: str) -> None:
        """Make a deleted experiment active again."""

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an active experiment."""

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag from an active experiment."""

    # --- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        start_time: datetime | None = None,
        tags: TagsLike | None = None,
        parent_run_id: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        """Start a RUNNING run in an active experiment."""
        ...

    def get_run(self, run_id: str) -> Run:
        """A run with params, latest metrics and tags (NotFoundError if unknown)."""
        ...

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: datetime | None = None,
        name: str | None = None,
    ) -> RunInfo:
        """Change status, end time or name of an active run."""
        ...

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted."""

    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again."""

    def delete_run_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from an active run."""

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: MetricsLike = (),
        params: ParamsLike = (),
        tags: TagsLike = (),
    ) -> None:
        """Log metrics, params and tags to an active run in one transaction."""

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        *,
        step: int = 0,
        timestamp_ms: int | None = None,
    ) -> None:
        """Log one metric point."""

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one (immutable) param."""

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set one tag of a run."""

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All points of a metric, by step then timestamp."""
        ...

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunList:
        """A page of runs of these experiments matching the filter."""
        ...

    def close(self) -> None:
        """Release resources."""


__all__ = ["UNSET", "MetricsLike", "Store", "Unset"]
