"""The JSON wire form of experiment-tracking results, both ways.

The server answers with each entity's `to_dict()`; the functions here are their inverses, so
that a `RestStore` returns values equal to those `SqlStore` returns (timezone-aware UTC
datetimes, floats bit for bit).

JSON has no NaN or infinity, so non-finite metric values travel as the strings `"NaN"`,
`"Infinity"` and `"-Infinity"` (what `Metric.to_dict` writes); `float_from_wire` also accepts
the bare JSON extensions `NaN`/`Infinity` that Python's `json` module reads as floats.

Example:
    >>> float_from_wire("-Infinity")
    -inf
    >>> float_to_wire(float("nan"))
    'NaN'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store._wire import datetime_from_wire
from llmtrace.store.run_entities import Experiment, Metric, Param, Run, RunInfo, RunList

NON_FINITE: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def float_to_wire(value: float) -> float | str:
    """`value` for JSON: the number itself, or "NaN" / "Infinity" / "-Infinity"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def float_from_wire(value: Any, what: str = "metric value") -> float:
    """The float a wire value stands for; InvalidParameterError for anything else."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    raise InvalidParameterError(
        f'{what} must be a JSON number or one of "NaN", "Infinity", "-Infinity", got {value!r}'
    )


def _required_time(value: Any, what: str) -> datetime:
    parsed = datetime_from_wire(value)
    if parsed is None:
        raise InvalidParameterError(f"{what} is missing")
    return parsed


def experiment_from_dict(data: Mapping[str, Any]) -> Experiment:
    """The inverse of `Experiment.to_dict`."""
    return Experiment(
        experiment_id=str(data["experiment_id"]),
        name=str(data["name"]),
        artifact_location=str(data["artifact_location"]),
        lifecycle_stage=str(data.get("lifecycle_stage", "active")),
        created_at=datetime_from_wire(data.get("created_at")),
        updated_at=datetime_from_wire(data.get("updated_at")),
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
    )


def run_info_from_dict(data: Mapping[str, Any]) -> RunInfo:
    """The inverse of `RunInfo.to_dict`."""
    duration = data.get("duration_ms")
    return RunInfo(
        run_id=str(data["run_id"]),
        experiment_id=str(data["experiment_id"]),
        name=str(data["name"]),
        status=str(data["status"]),
        start_time=_required_time(data.get("start_time"), "start_time"),
        artifact_uri=str(data["artifact_uri"]),
        end_time=datetime_from_wire(data.get("end_time")),
        duration_ms=None if duration is None else float(duration),
        lifecycle_stage=str(data.get("lifecycle_stage", "active")),
        user_id=data.get("user_id"),
        parent_run_id=data.get("parent_run_id"),
    )


def run_from_dict(data: Mapping[str, Any]) -> Run:
    """The inverse of `Run.to_dict` (metric values decoded with `float_from_wire`)."""
    metrics = {str(k): float_from_wire(v) for k, v in (data.get("metrics") or {}).items()}
    return Run(
        info=run_info_from_dict(data["info"]),
        params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
        metrics=metrics,
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
    )


def metric_from_dict(data: Mapping[str, Any]) -> Metric:
    """The inverse of `Metric.to_dict`."""
    stamp = data.get("timestamp_ms")
    return Metric(
        key=str(data["key"]),
        value=float_from_wire(data["value"]),
        step=int(data.get("step", 0)),
        timestamp_ms=None if stamp is None else int(stamp),
    )


def param_from_dict(data: Mapping[str, Any]) -> Param:
    """A `Param` from `{"key": ..., "value": ...}`."""
    return Param(key=str(data["key"]), value=str(data["value"]))


def run_list_to_dict(runs: RunList) -> dict[str, Any]:
    """`{"runs": [Run.to_dict(), ...], "next_page_token": str | None}`."""
    return {"runs": [run.to_dict() for run in runs], "next_page_token": runs.next_page_token}


def run_list_from_dict(data: Mapping[str, Any]) -> RunList:
    """The inverse of `run_list_to_dict`."""
    return RunList(
        [run_from_dict(item) for item in data.get("runs") or ()], data.get("next_page_token")
    )


__all__ = [
    "NON_FINITE",
    "datetime_from_wire",
    "experiment_from_dict",
    "float_from_wire",
    "float_to_wire",
    "metric_from_dict",
    "param_from_dict",
    "run_from_dict",
    "run_info_from_dict",
    "run_list_from_dict",
    "run_list_to_dict",
]
