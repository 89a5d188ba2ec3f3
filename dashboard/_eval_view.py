"""Evaluation runs for the Evaluations page: their per-row tables, failures, and two runs side
by side. Pure functions over the flat per-row table that `evaluate` stores with each run
(`eval_table.json`: inputs, outputs, expectations, trace_id, error, then per score `<name>`,
`<name>/rationale`, `<name>/passed`, `<name>/error`; docs/evaluation.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dashboard._nav import trace_link
from llmtrace.store import Run

# The tag `evaluate` sets on its runs (backquoted: the key has dots).
EVALUATION_FILTER = "tags.`llmtrace.evaluation` = 'true'"
_SUFFIXES = ("/rationale", "/passed", "/error")


def score_names(table: pd.DataFrame) -> list[str]:
    """The scores of a per-row table, in column order."""
    columns = {str(c) for c in table.columns}
    return [str(c) for c in table.columns if all(f"{c}{suffix}" in columns for suffix in _SUFFIXES)]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def failed_mask(table: pd.DataFrame) -> pd.Series:
    """Rows that failed: the pipeline raised, a score erred, or a score did not pass."""
    mask: pd.Series = pd.Series(False, index=table.index)
    if "error" in table.columns:
        mask |= ~table["error"].map(_missing)
    for name in score_names(table):
        mask |= table[f"{name}/passed"].map(lambda v: v is False or v == 0)
        mask |= ~table[f"{name}/error"].map(_missing)
    return mask


def rows_view(table: pd.DataFrame) -> pd.DataFrame:
    """The per-row table to show: a link to each row's trace, the row, then each score with its
    verdict, rationale and error."""
    out: pd.DataFrame = pd.DataFrame(index=table.index)
    if "trace_id" in table.columns:
        out["trace"] = table["trace_id"].map(lambda t: None if _missing(t) else trace_link(str(t)))
    for column in ("inputs", "outputs", "expectations", "error"):
        if column in table.columns:
            out[column] = table[column]
    for name in score_names(table):
        out[name] = table[name]
        for suffix in _SUFFIXES:
            out[f"{name}{suffix}"] = table[f"{name}{suffix}"]
    return out


def _keys(table: pd.DataFrame) -> pd.DataFrame:
    keyed: pd.DataFrame = table.reset_index(drop=True).copy()
    keyed["_key"] = keyed["inputs"].map(str) if "inputs" in keyed.columns else keyed.index
    keyed["_n"] = keyed.groupby("_key").cumcount()
    return keyed


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and not math.isnan(value):
        return float(value)
    return None


def _passed(value: Any) -> bool:
    # True, or numpy's True once a table went through pandas; None/NaN (no verdict) is not.
    return isinstance(value, (bool, np.bool_)) and bool(value)


def _delta(a: Any, b: Any) -> float | None:
    x, y = _number(a), _number(b)
    return None if x is None or y is None else y - x


def side_by_side(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Rows of run A (baseline) and run B paired by input (k-th occurrence with k-th), as
    `evaluators.compare` pairs them: outputs, each score of both runs, its delta (B - A), and
    `regressed` when a score passed in A and not in B."""
    ka, kb = _keys(a), _keys(b)
    merged = ka.merge(kb, on=["_key", "_n"], suffixes=(" A", " B"))
    out: pd.DataFrame = pd.DataFrame({"inputs": merged["_key"]})
    for column in ("outputs", "error"):
        if f"{column} A" in merged.columns:
            out[f"{column} A"] = merged[f"{column} A"]
            out[f"{column} B"] = merged[f"{column} B"]
    regressed = pd.Series(False, index=merged.index)
    for name in [n for n in score_names(a) if n in score_names(b)]:
        va, vb = merged[f"{name} A"], merged[f"{name} B"]
        out[f"{name} A"], out[f"{name} B"] = va, vb
        out[f"{name} Δ"] = [_delta(x, y) for x, y in zip(va, vb, strict=True)]
        pa, pb = merged[f"{name}/passed A"], merged[f"{name}/passed B"]
        lost = [_passed(x) and not _passed(y) for x, y in zip(pa, pb, strict=True)]
        regressed |= pd.Series(lost, index=merged.index, dtype=bool)
    out["regressed"] = regressed
    return out


def runs_table(runs: list[Run], experiments: dict[str, str]) -> pd.DataFrame:
    """One row per evaluation run: name, experiment, start, status, rows, aggregate metrics."""
    keys = sorted({k for r in runs for k in r.metrics if k.endswith(("/mean", "/pass_rate"))})
    frame: pd.DataFrame = pd.DataFrame(
        {
            "run": [r.info.name or r.info.run_id for r in runs],
            "experiment": [experiments.get(r.info.experiment_id, "") for r in runs],
            "started": [r.info.start_time.strftime("%Y-%m-%d %H:%M:%S") for r in runs],
            "status": [r.info.status for r in runs],
            "rows": [r.metrics.get("rows") for r in runs],
            **{k: [r.metrics.get(k) for r in runs] for k in keys},
            "run_id": [r.info.run_id for r in runs],
        }
    )
    return frame


__all__ = [
    "EVALUATION_FILTER",
    "failed_mask",
    "rows_view",
    "runs_table",
    "score_names",
    "side_by_side",
]
