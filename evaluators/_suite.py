"""Evaluation suites: a YAML file naming a dataset, a target, scorers, thresholds and a
baseline; `run_suite` evaluates it and says whether it passed (the CLI's and pytest's gate).

Example suite (`evals/qa.yaml`):

    name: qa
    experiment: qa-bot
    dataset: qa.jsonl            # or {path: qa.jsonl, limit: 50}
    target: my_app.pipeline:answer
    scorers:
      - ExactMatch
      - {name: Regex, pattern: "\\d+"}
      - my_scorers:mentions_source
    thresholds: {exact_match: 0.8}
    baseline: latest
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llmtrace
from evaluators._data import load_rows
from evaluators._evaluate import DEFAULT_MAX_WORKERS, evaluate
from evaluators._results import EvaluationResult
from evaluators._suite_file import (
    LATEST,
    Suite,
    SuiteError,
    build_scorer,
    import_object,
    importable_from,
    load_suite,
)
from evaluators._types import Scorer
from llmtrace.store import filter_literal

SUITE_TAG = "llmtrace.suite"
_PASS_RATE = "/pass_rate"


@dataclass
class ThresholdCheck:
    """One threshold of a suite against the run's value (None: the metric does not exist)."""

    metric: str
    minimum: float
    value: float | None

    @property
    def passed(self) -> bool:
        """The value exists and reaches the minimum."""
        return self.value is not None and self.value >= self.minimum


@dataclass
class SuiteResult:
    """The outcome of `run_suite`: the evaluation, its threshold checks and the comparison
    with the baseline (when there was one).

    Example:
        >>> outcome = run_suite("evals/qa.yaml")
        >>> outcome.passed, outcome.failures
        (False, ['exact_match: 0.600 < 0.800'])
        >>> print(outcome.summary())
    """

    suite: Suite
    result: EvaluationResult
    checks: list[ThresholdCheck]
    baseline_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def comparison(self) -> Any:
        """`result.comparison` (a `Comparison`, or None without a baseline)."""
        return self.result.comparison

    @property
    def regressions(self) -> list[Any]:
        """Metrics that got significantly worse than the baseline."""
        return list(getattr(self.comparison, "regressions", None) or [])

    @property
    def failures(self) -> list[str]:
        """Why the suite failed, one line per reason (empty when it passed)."""
        out = [
            f"{c.metric}: {_num(c.value)} < {_num(c.minimum)}"
            if c.value is not None
            else f"{c.metric}: no such metric"
            for c in self.checks
            if not c.passed
        ]
        out += [
            f"{m.metric}: regressed ({_signed(m.delta)}, p={_p(m.p_value)})"
            for m in self.regressions
        ]
        return out

    @property
    def passed(self) -> bool:
        """Every threshold holds and nothing regressed."""
        return not self.failures

    def summary(self) -> str:
        """The summary table: per metric its value, CI, threshold and verdict, and with a
        baseline the delta, p-value and REGRESSED markers."""
        return format_summary(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what `llmtrace eval run --json` prints)."""
        cmp = self.comparison
        return {
            "suite": self.suite.name,
            "file": str(self.suite.path),
            "experiment": self.suite.experiment,
            "run_id": self.result.run_id,
            "passed": self.passed,
            "failures": self.failures,
            "metrics": {k: _finite(v) for k, v in self.result.metrics.items()},
            "thresholds": [
                {"metric": c.metric, "minimum": c.minimum, "value": c.value, "passed": c.passed}
                for c in self.checks
            ],
            "baseline": self.baseline_id,
            "comparison": None
            if cmp is None
            else [
                {
                    "metric": m.metric,
                    "n": m.n,
                    "mean_a": m.mean_a,
                    "mean_b": m.mean_b,
                    "delta": m.delta,
                    "p_value": m.p_value,
                    "regressed": m.regressed,
                    "improved": m.improved,
                }
                for m in cmp.metrics
            ],
            "notes": self.notes,
        }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _signed(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def threshold_checks(
    result: EvaluationResult, thresholds: dict[str, float]
) -> list[ThresholdCheck]:
    """Each suite threshold against the result, plus the engine's default (every row must
    pass) for scores that make pass/fail calls and have no pass-rate threshold of their own.

    A threshold on a score `name` (or `name/pass_rate`) is a minimum pass rate (its mean when
    the score makes no pass/fail call), `name/mean` a minimum mean, any other key a minimum of
    that run metric (`rows`, `predict_errors`, ...). A key naming nothing fails."""
    metrics = result.metrics
    checks: list[ThresholdCheck] = []
    named = set()
    for metric, minimum in thresholds.items():
        name = metric.removesuffix(_PASS_RATE)
        agg = result.aggregates.get(name)
        if agg is not None:
            named.add(name)
            value = agg.pass_rate if agg.pass_rate is not None else agg.mean
        else:
            value = metrics.get(metric)
        checks.append(ThresholdCheck(metric, minimum, value))
    for name, agg in result.aggregates.items():
        if agg.pass_rate is not None and name not in named:
            checks.append(ThresholdCheck(name, 1.0, agg.pass_rate))
    return checks


def _engine_thresholds(thresholds: dict[str, float]) -> dict[str, float]:
    """Suite thresholds in `evaluate`'s terms (`name/pass_rate` is spelled `name` there)."""
    return {k.removesuffix(_PASS_RATE): v for k, v in thresholds.items()}


def latest_run(suite: Suite) -> str | None:
    """The newest finished run of the same suite (tag `llmtrace.suite`) and experiment."""
    experiments = [suite.experiment] if suite.experiment else None
    if suite.experiment and llmtrace.get_experiment_by_name(suite.experiment) is None:
        return None
    runs = llmtrace.search_runs(
        experiments,
        f"tags.`{SUITE_TAG}` = {filter_literal(suite.name)} and status = 'FINISHED'",
        order_by=["start_time desc"],
        limit=1,
    )
    return runs[0].run_id if len(runs) else None


def _scorers(suite: Suite) -> list[Scorer]:
    out = []
    for i, spec in enumerate(suite.scorers):
        try:
            out.append(build_scorer(spec, suite.path.parent))
        except LookupError as exc:
            raise SuiteError(f"{suite.where('scorers', str(i))}: scorers: {exc}") from None
    return out


def run_suite(
    suite: Suite | str | Path,
    *,
    judge: str | None = None,
    limit: int | None = None,
    baseline: str | None = None,
    progress: bool | None = None,
) -> SuiteResult:
    """Evaluate a suite (a `Suite` or the path of its file) and check its thresholds and
    baseline. `judge`, `limit` and `baseline` override the file's. Raises `SuiteError` for
    an invalid suite (unknown scorer, target that cannot be imported, unreadable data).

    The run is stored in the suite's experiment, tagged `llmtrace.suite=<name>` so that
    `baseline: latest` finds it next time.

    Example:
        >>> outcome = run_suite("evals/qa.yaml", limit=20)
        >>> print(outcome.summary())
        >>> assert outcome.passed, outcome.failures
    """
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    from evaluators._data import DataError

    with importable_from(suite.path.parent.resolve()):
        scorers = _scorers(suite)
        predict = None
        if suite.target is not None:
            try:
                predict = import_object(suite.target, suite.path.parent)
            except LookupError as exc:
                raise SuiteError(f"{suite.where('target')}: target: {exc}") from None
            if not callable(predict):
                raise SuiteError(f"{suite.where('target')}: target: {suite.target} is not callable")
        try:
            rows: Any = load_rows(suite.dataset)
        except (DataError, llmtrace.NotFoundError) as exc:
            raise SuiteError(f"{suite.where('dataset')}: dataset: {exc}") from None
        limit = limit or suite.limit
        if limit is not None:
            rows = rows[:limit]
        records = [
            {
                "inputs": r.inputs,
                "outputs": r.outputs,
                "expectations": r.expectations,
                "context": r.context,
                "metadata": r.metadata,
            }
            for r in rows
        ]
        judge = judge or suite.judge
        needy = [s.name for s in scorers if s.needs_judge]
        if judge is None and needy:
            judge = os.environ.get("LLMTRACE_JUDGE") or None
            if judge is None:
                raise SuiteError(
                    f"{suite.where('scorers')}: scorers: {', '.join(needy)} need a judge: set "
                    "'judge:' in the suite, pass --judge, or set LLMTRACE_JUDGE"
                )
        notes: list[str] = []
        baseline = baseline or suite.baseline
        if baseline == LATEST:
            baseline = latest_run(suite)
            if baseline is None:
                notes.append("no earlier run of this suite: nothing to compare with")
        stored = isinstance(suite.dataset, str) and limit is None
        result = evaluate(
            suite.dataset if stored else records,
            predict,
            scorers=scorers,
            judge=judge,
            experiment=suite.experiment,
            name=suite.name,
            max_workers=suite.max_workers or DEFAULT_MAX_WORKERS,
            baseline=baseline,
            thresholds=_engine_thresholds(suite.thresholds),
            progress=progress,
        )
    if result.run_id is not None:
        llmtrace.TrackingClient().set_tag(result.run_id, SUITE_TAG, suite.name)
    if baseline is not None and result.comparison is None:
        notes.append("comparison is not available in this build: baseline ignored")
    checks = threshold_checks(result, suite.thresholds)
    return SuiteResult(suite, result, checks, baseline_id=baseline, notes=notes)


# --- the summary table ------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    head = "  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()
    return [head, "  ".join("-" * w for w in widths), *lines]


def format_summary(outcome: SuiteResult) -> str:
    """See `SuiteResult.summary`."""
    result = outcome.result
    suite = outcome.suite
    metrics = result.metrics
    rows_count = int(metrics.get("rows", 0))
    errors = int(metrics.get("predict_errors", 0))
    title = f"suite {suite.name}"
    if suite.experiment:
        title += f" (experiment {suite.experiment})"
    title += f": {rows_count} rows"
    if errors:
        title += f", {errors} predict errors"
    if result.run_id:
        title += f", run {result.run_id}"
    checks = {c.metric.removesuffix(_PASS_RATE): c for c in outcome.checks}
    cmp = outcome.comparison
    compared = {m.metric: m for m in cmp.metrics} if cmp is not None else {}
    header: tuple[str, ...] = ("metric", "mean", "95% CI", "pass rate", "threshold", "result")
    if cmp is not None:
        header += ("delta", "p", "")
    table: list[tuple[str, ...]] = []
    shown: set[str] = set()

    def add(metric: str, agg: Any, check: ThresholdCheck | None, versus: Any) -> None:
        ci = "" if agg is None or agg.ci_low is None else f"[{agg.ci_low:.3f}, {agg.ci_high:.3f}]"
        line: tuple[str, ...] = (
            metric,
            _num(agg.mean) if agg is not None else _num(metrics.get(metric)),
            ci,
            _num(agg.pass_rate) if agg is not None else "",
            f">= {check.minimum:g}" if check is not None else "",
            ("pass" if check.passed else "FAIL") if check is not None else "",
        )
        if cmp is not None:
            flag = ""
            if versus is not None:
                flag = "REGRESSED" if versus.regressed else ("improved" if versus.improved else "")
            line += (
                _signed(versus.delta) if versus is not None else "",
                _p(versus.p_value) if versus is not None else "",
                flag,
            )
        table.append(line)

    for name, agg in result.aggregates.items():
        add(name, agg, checks.get(name), compared.get(name))
        shown.add(name)
        if f"{name}/mean" in checks:
            add(f"{name}/mean", None, checks[f"{name}/mean"], None)
            shown.add(f"{name}/mean")
        if f"{name}/passed" in compared:
            add(f"{name}/passed", None, None, compared[f"{name}/passed"])
            shown.add(f"{name}/passed")
    for metric, check in checks.items():
        if metric not in shown:
            add(metric, None, check, compared.get(metric))
            shown.add(metric)
    for metric, versus in compared.items():
        if metric not in shown:
            add(metric, None, None, versus)
    lines = [title, *(_table(header, table) if table else ["(no scores)"])]
    if outcome.baseline_id is not None and cmp is not None:
        lines.append(
            f"baseline {outcome.baseline_id}: {cmp.n_paired} paired rows"
            + (f", {len(outcome.regressions)} regressed" if outcome.regressions else "")
        )
    lines += [f"note: {n}" for n in outcome.notes]
    failures = outcome.failures
    lines.append("PASSED" if not failures else "FAILED: " + "; ".join(failures))
    return "\n".join(lines)


def format_result(result: EvaluationResult) -> str:
    """A stored evaluation (`load_results`) as a table: per score its mean, CI, pass rate and
    threshold verdict."""
    metrics = result.metrics
    title = f"evaluation run {result.run_id}: {int(metrics.get('rows', 0))} rows"
    rows = []
    for name, agg in result.aggregates.items():
        ci = "" if agg.ci_low is None else f"[{agg.ci_low:.3f}, {agg.ci_high:.3f}]"
        minimum = result.thresholds.get(name, 1.0 if agg.pass_rate is not None else None)
        verdict = ""
        if minimum is not None and agg.pass_rate is not None:
            verdict = "pass" if agg.pass_rate >= minimum else "FAIL"
        rows.append(
            (
                name,
                _num(agg.mean),
                ci,
                _num(agg.pass_rate),
                "" if minimum is None else f">= {minimum:g}",
                verdict,
                str(agg.errors),
            )
        )
    header = ("metric", "mean", "95% CI", "pass rate", "threshold", "result", "errors")
    lines = [title, *(_table(header, rows) if rows else ["(no scores)"])]
    lines.append("PASSED" if result.passed else "FAILED")
    return "\n".join(lines)


def dumps(data: Any) -> str:
    """JSON for the CLI (non-finite numbers as null)."""
    return json.dumps(data, indent=2, default=str, allow_nan=False)


__all__ = [
    "SUITE_TAG",
    "Suite",
    "SuiteError",
    "SuiteResult",
    "ThresholdCheck",
    "dumps",
    "format_result",
    "format_summary",
    "latest_run",
    "load_suite",
    "run_suite",
    "threshold_checks",
]
