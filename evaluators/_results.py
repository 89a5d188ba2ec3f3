"""`EvaluationResult` and its storage: run metrics, the per-row table as run artifacts, each
score as an assessment on the row's trace; `load_results` reads a stored evaluation back."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

import llmtrace
from evaluators._aggregate import Aggregate, aggregate
from evaluators._types import Row, Score, Scorer

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("evaluators")

RESULTS_FILE = "eval_results.json"
TABLE_FILE = "eval_table.json"
RESULTS_VERSION = 1


@dataclass
class RowResult:
    """One row with its scores (by name)."""

    row: Row
    scores: dict[str, Score]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (the format of `eval_results.json`)."""
        r = self.row
        return {
            "index": r.index,
            "inputs": r.inputs,
            "outputs": r.outputs,
            "expectations": dict(r.expectations),
            "context": r.context,
            "metadata": dict(r.metadata),
            "trace_id": r.trace_id,
            "error": r.error,
            "latency_ms": r.latency_ms,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost": r.cost,
            "scores": {
                name: {
                    "value": s.value,
                    "rationale": s.rationale,
                    "error": s.error,
                    "passed": s.passed,
                    "metadata": dict(s.metadata),
                }
                for name, s in self.scores.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RowResult:
        """Inverse of `to_dict`."""
        scores = {name: Score(**s) for name, s in data.get("scores", {}).items()}
        fields = {k: v for k, v in data.items() if k != "scores"}
        return cls(Row(**fields), scores)


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass
class EvaluationResult:
    """What `evaluate` returns.

    - `metrics`: `<score>/mean`, `<score>/pass_rate`, `<score>/ci_low`, `<score>/ci_high`,
      `<score>/count`, `<score>/errors`, plus `rows` and `predict_errors`.
    - `rows`: the per-row table (pandas): inputs, outputs, expectations, trace id, and for
      each score its value, `/rationale`, `/passed`, `/error`.
    - `passed`: every score with a pass/fail call meets its minimum pass rate.
    - `run_id`: the run holding it (`load_results(run_id)` reads it back).
    - `comparison`: the comparison with `baseline`, when one was given.

    Example:
        >>> result = evaluate(data, scorers=[ExactMatch()])
        >>> result.metrics["exact_match/mean"], result.passed
    """

    results: list[RowResult]
    aggregates: dict[str, Aggregate]
    run_id: str | None = None
    passed: bool = True
    thresholds: dict[str, float] = field(default_factory=dict)
    comparison: Any = None

    @property
    def metrics(self) -> dict[str, float]:
        """Aggregate metrics by name."""
        out: dict[str, float] = {
            "rows": float(len(self.results)),
            "predict_errors": float(sum(r.row.error is not None for r in self.results)),
        }
        for name, agg in self.aggregates.items():
            out.update(agg.metrics(name))
        return out

    @property
    def scores(self) -> list[dict[str, Score]]:
        """Each row's scores by name, in row order."""
        return [r.scores for r in self.results]

    @property
    def rows(self) -> pd.DataFrame:
        """The per-row table."""
        import pandas as pd

        records = []
        for res in self.results:
            record = res.to_dict()
            scores = record.pop("scores")
            for name, s in scores.items():
                record[name] = s["value"]
                record[f"{name}/rationale"] = s["rationale"]
                record[f"{name}/passed"] = s["passed"]
                record[f"{name}/error"] = s["error"]
            records.append(record)
        table: pd.DataFrame = pd.DataFrame.from_records(records)
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the content of the run's `eval_results.json`)."""
        return {
            "version": RESULTS_VERSION,
            "passed": self.passed,
            "thresholds": self.thresholds,
            "metrics": self.metrics,
            "rows": [r.to_dict() for r in self.results],
        }

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"EvaluationResult({len(self.results)} rows, {verdict}, run_id={self.run_id!r})"


def summarise(
    results: Sequence[RowResult], scorers: Sequence[Scorer], thresholds: Mapping[str, float]
) -> tuple[dict[str, Aggregate], bool]:
    """Aggregates per score name, and whether the evaluation passed.

    A score passes when its pass rate is at least `thresholds[name]` (default 1.0: every
    row) and, when `thresholds` has `<name>/mean`, its mean is at least that."""
    owners: dict[str, Scorer] = {}
    names: list[str] = []
    for res in results:
        for name in res.scores:
            if name not in owners:
                names.append(name)
                owners[name] = next(
                    (s for s in scorers if name == s.name or name.startswith(f"{s.name}/")),
                    scorers[0],
                )
    aggregates: dict[str, Aggregate] = {}
    passed = True
    for name in names:
        scores = [res.scores.get(name) for res in results]
        present = [s for s in scores if s is not None]
        agg = aggregate(
            [s.as_float() for s in present],
            [owners[name].verdict(s) for s in present],
            errors=sum(s.error is not None for s in present),
        )
        aggregates[name] = agg
        if agg.pass_rate is not None and agg.pass_rate < thresholds.get(name, 1.0):
            passed = False
        min_mean = thresholds.get(f"{name}/mean")
        if min_mean is not None and (agg.mean is None or agg.mean < min_mean):
            passed = False
    known = {*names, *(f"{n}/mean" for n in names)}
    unknown = sorted(k for k in thresholds if k not in known)
    if unknown and names:
        logger.warning("thresholds for unknown scores ignored: %s", ", ".join(unknown))
    return aggregates, passed


def log_assessments(result: EvaluationResult, scorers: Sequence[Scorer]) -> int:
    """Store each score as an assessment on its row's trace; returns how many were stored.
    A failure is logged and skipped (the evaluation is already complete)."""
    store = llmtrace.get_store()
    kinds = {s.name: s.source_type for s in scorers}
    stored = 0
    for res in result.results:
        if res.row.trace_id is None:
            continue
        for name, s in res.scores.items():
            value = s.value if s.error is None else None
            try:
                store.log_assessment(
                    res.row.trace_id,
                    name,
                    value,
                    source_type=kinds.get(name.split("/")[0], "CODE"),
                    source_id=result.run_id,
                    rationale=s.rationale,
                    error=s.error,
                    metadata={**s.metadata, "passed": s.passed, "run_id": result.run_id},
                )
                stored += 1
            except Exception:
                logger.warning(
                    "could not store score %r on trace %s", name, res.row.trace_id, exc_info=True
                )
    return stored


def log_result_artifacts(result: EvaluationResult) -> None:
    """Write the evaluation to the active run: metrics, `eval_results.json` (full records)
    and `eval_table.json` (the flat per-row table)."""
    llmtrace.log_metrics(result.metrics)
    llmtrace.log_dict(result.to_dict(), RESULTS_FILE)
    table = result.rows
    llmtrace.log_table(table.map(_cell), TABLE_FILE)


def load_table(run_id: str, *, store: llmtrace.Store | None = None) -> pd.DataFrame:
    """The flat per-row table (`eval_table.json`) of an evaluation run: inputs, outputs,
    expectations, each score with its rationale, errors, trace id. `store` defaults to the
    configured one (the dashboard passes the store it has open).

    Example:
        >>> load_table(run_id).query("exact_match == False")
    """
    return llmtrace.TrackingClient(store).load_table(run_id, TABLE_FILE)


def load_results(run_id: str, *, store: llmtrace.Store | None = None) -> EvaluationResult:
    """An evaluation stored by `evaluate`, read back from its run (in `store`, default the
    configured one).

    Example:
        >>> result = load_results(run_id)
        >>> result.rows[["inputs", "exact_match"]]
    """
    with TemporaryDirectory() as tmp:
        client = llmtrace.TrackingClient(store)
        path = client.download_artifacts(run_id, RESULTS_FILE, tmp)
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    results = [RowResult.from_dict(r) for r in data["rows"]]
    aggregates: dict[str, Aggregate] = {}
    metrics = data.get("metrics", {})
    for res in results:
        for name in res.scores:
            if name not in aggregates:
                aggregates[name] = Aggregate(
                    mean=metrics.get(f"{name}/mean"),
                    pass_rate=metrics.get(f"{name}/pass_rate"),
                    ci_low=metrics.get(f"{name}/ci_low"),
                    ci_high=metrics.get(f"{name}/ci_high"),
                    count=int(metrics.get(f"{name}/count", 0)),
                    errors=int(metrics.get(f"{name}/errors", 0)),
                )
    return EvaluationResult(
        results,
        aggregates,
        run_id=run_id,
        passed=bool(data.get("passed", True)),
        thresholds=dict(data.get("thresholds", {})),
    )


__all__ = [
    "EvaluationResult",
    "RowResult",
    "load_results",
    "load_table",
    "log_assessments",
    "log_result_artifacts",
    "summarise",
]
