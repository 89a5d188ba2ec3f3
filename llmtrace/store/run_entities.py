"""Typed results of experiment tracking: `Experiment`, `Run` (`RunInfo` + data), `Metric`,
`Param`, `RunList`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmtrace.store.entities import Page

if TYPE_CHECKING:
    import pandas as pd

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = "active"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["created_at"] = _iso(self.created_at)
        data["updated_at"] = _iso(self.updated_at)
        return data


@dataclass(frozen=True)
class Metric:
    """One metric point. `value` may be NaN or +/-inf; `timestamp_ms` is milliseconds since the
    epoch (None: now, filled when logged)."""

    key: str
    value: float
    step: int = 0
    timestamp_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN/inf as the strings "NaN", "Infinity", "-Infinity")."""
        value: float | str = self.value
        if math.isnan(self.value):
            value = "NaN"
        elif math.isinf(self.value):
            value = "Infinity" if self.value > 0 else "-Infinity"
        return {
            "key": self.key,
            "value": value,
            "step": self.step,
            "timestamp_ms": self.timestamp_ms,
        }


@dataclass(frozen=True)
class Param:
    """One parameter (immutable once logged)."""

    key: str
    value: str


@dataclass
class RunInfo:
    """A run's identity, status and times."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: datetime
    artifact_uri: str
    end_time: datetime | None = None
    duration_ms: float | None = None
    lifecycle_stage: str = "active"
    user_id: str | None = None
    parent_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["start_time"] = _iso(self.start_time)
        data["end_time"] = _iso(self.end_time)
        return data


@dataclass
class Run:
    """A run with its parameters, latest metric values and tags."""

    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """Shortcut for `info.run_id`."""
        return self.info.run_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN/inf metric values as strings, as in `Metric.to_dict`)."""
        metrics = {k: Metric(k, v).to_dict()["value"] for k, v in self.metrics.items()}
        return {
            "info": self.info.to_dict(),
            "params": dict(self.params),
            "metrics": metrics,
            "tags": dict(self.tags),
        }

    def flat(self) -> dict[str, Any]:
        """One flat row: info columns, then `metrics.<k>`, `params.<k>`, `tags.<k>`."""
        row: dict[str, Any] = asdict(self.info)
        row.update({f"metrics.{k}": v for k, v in self.metrics.items()})
        row.update({f"params.{k}": v for k, v in self.params.items()})
        row.update({f"tags.{k}": v for k, v in self.tags.items()})
        return row


class RunList(Page[Run]):
    """A page of runs; `next_page_token` fetches the next page (None at the end)."""

    def to_pandas(self) -> pd.DataFrame:
        """One row per run: info columns, then sorted `metrics.*`, `params.*`, `tags.*`."""
        import pandas as pd

        info_columns = list(RunInfo.__dataclass_fields__)
        rows = [r.flat() for r in self]
        extra = sorted({k for row in rows for k in row} - set(info_columns))
        ordered = [
            *info_columns,
            *[k for k in extra if k.startswith("metrics.")],
            *[k for k in extra if k.startswith("params.")],
            *[k for k in extra if k.startswith("tags.")],
        ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=ordered)
        return frame


__all__ = [
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "Experiment",
    "Metric",
    "Param",
    "Run",
    "RunInfo",
    "RunList",
]
