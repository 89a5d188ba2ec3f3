"""`evaluate` / `aevaluate`: score a dataset (optionally running the pipeline first) and
store the outcome as a run."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import llmtrace
from evaluators._data import dataset_of, load_rows, rows_from_dataset
from evaluators._results import (
    EvaluationResult,
    RowResult,
    log_assessments,
    log_result_artifacts,
    summarise,
)
from evaluators._runner import CountingJudge, EvaluationContext, run_rows
from evaluators._types import Scorer
from evaluators.judge import Judge

DEFAULT_MAX_WORKERS = 8


def _resolve_judge(judge: Any) -> tuple[Judge | None, bool]:
    """(the judge, whether this evaluation made it and must close it). A model string or a
    LangChain chat model goes through `evaluators.judge.get_judge`."""
    if judge is None or isinstance(judge, Judge):
        return judge, False
    from evaluators.judge import get_judge

    return get_judge(judge), True


def _compare(baseline: str | None, result: EvaluationResult, scorers: Sequence[Scorer]) -> Any:
    """The comparison of `result` with the `baseline` run, when comparison is available."""
    if baseline is None:
        return None
    compare = getattr(importlib.import_module("evaluators"), "compare", None)
    if compare is None:
        try:
            compare = importlib.import_module("evaluators._compare").compare
        except (ImportError, AttributeError):
            return None
    lower = [s.name for s in scorers if s.lower_is_better]
    if lower and "lower_is_better" in inspect.signature(compare).parameters:
        return compare(baseline, result, lower_is_better=lower)
    return compare(baseline, result)


def _check_scorers(scorers: Sequence[Scorer]) -> list[Scorer]:
    checked = list(scorers)
    for s in checked:
        if not isinstance(s, Scorer):
            raise TypeError(
                f"{s!r} is not a Scorer: wrap functions with @evaluators.scorers.scorer"
            )
    names = [s.name for s in checked]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"scorer names must be unique, repeated: {', '.join(duplicates)}")
    return checked


async def aevaluate(
    data: Any,
    predict: Callable[..., Any] | None = None,
    *,
    scorers: Sequence[Scorer] = (),
    judge: Judge | str | None = None,
    experiment: str | None = None,
    name: str | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    baseline: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    progress: bool | None = None,
    log: bool = True,
) -> EvaluationResult:
    """`evaluate` for async code (inside a running event loop).

    Example:
        >>> result = await aevaluate(rows, predict=answer, scorers=[ExactMatch()])
    """
    dataset = dataset_of(data)
    rows = rows_from_dataset(dataset) if dataset is not None else load_rows(data)
    checked = _check_scorers(scorers)
    limits = dict(thresholds or {})
    context = EvaluationContext()
    resolved, owned = _resolve_judge(judge)
    counting = CountingJudge(resolved, context) if resolved is not None else None

    async def run() -> EvaluationResult:
        scores = await run_rows(
            rows,
            checked,
            predict=predict,
            judge=counting,
            max_workers=max_workers,
            context=context,
            progress=progress,
        )
        results = [RowResult(row, s) for row, s in zip(rows, scores, strict=True)]
        aggregates, passed = summarise(results, checked, limits)
        return EvaluationResult(results, aggregates, passed=passed, thresholds=limits)

    try:
        if not log:
            result = await run()
            result.comparison = _compare(baseline, result, checked)
            return result
        nested = llmtrace.active_run() is not None
        with llmtrace.start_run(name=name, experiment=experiment, nested=nested) as active:
            llmtrace.set_tag("llmtrace.evaluation", "true")
            llmtrace.log_params(
                {
                    "scorers": ",".join(s.name for s in checked) or "-",
                    "judge": resolved.model if resolved is not None else "-",
                    "rows": len(rows),
                    "predict": getattr(predict, "__name__", "-") if predict else "-",
                    "max_workers": max_workers,
                    **(
                        {"dataset": dataset.name, "dataset_digest": dataset.digest}
                        if dataset is not None
                        else {}
                    ),
                }
            )
            result = await run()
            result.run_id = active.run_id
            llmtrace.log_metrics(
                {"judge_calls": float(context.judge_calls), "judge_cost": context.judge_cost}
            )
            log_result_artifacts(result)
            await asyncio.to_thread(log_assessments, result, checked)
        result.comparison = _compare(baseline, result, checked)
        return result
    finally:
        if owned and resolved is not None:
            await resolved.aclose()


def evaluate(
    data: Any,
    predict: Callable[..., Any] | None = None,
    *,
    scorers: Sequence[Scorer] = (),
    judge: Judge | str | None = None,
    experiment: str | None = None,
    name: str | None = None,
    max_workers: int = DEFAULT_MAX_WORKERS,
    baseline: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    progress: bool | None = None,
    log: bool = True,
) -> EvaluationResult:
    """Score every row of `data`, running `predict` on it first when given.

    - `data`: a list of dicts (`inputs`, `outputs`, `expectations`, `context`, `metadata`),
      a pandas DataFrame, a `.jsonl`/`.json`/`.csv` path, a stored dataset
      (`llmtrace.get_dataset(name)` or `"datasets:/<name>"`; the run records its name and
      digest as params), or traces from `llmtrace.search_traces` (inputs/outputs of each
      root span).
    - `predict`: your pipeline, sync or async; dict inputs are passed as keyword arguments
      when the function takes them, anything else as the one argument. Each call runs under
      a trace of the evaluation's run; a failing call is recorded on its row.
    - `scorers`: `Scorer`s (code scorers, `@scorer` functions, judge scorers).
    - `judge`: a `Judge` or a model string for `evaluators.judge.get_judge`, for scorers
      that need one.
    - `experiment`, `name`: where the run goes (a nested run when one is active).
    - `max_workers`: concurrent predict calls / scorer calls.
    - `thresholds`: minimum pass rate per score name (default 1.0), and `<name>/mean`
      minimum means; `result.passed` says whether all hold.
    - `baseline`: a run id to compare with (`result.comparison`) when comparison exists.
    - `progress`: show a progress bar (default: when stderr is a terminal).
    - `log=False`: store nothing (no run, no assessments).

    Inside a running event loop (e.g. Jupyter), it runs in a worker thread; `aevaluate` is
    the async form.

    Example:
        >>> from evaluators.scorers import ExactMatch, Latency
        >>> result = evaluate(
        ...     [{"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}}],
        ...     predict=lambda question: "4",
        ...     scorers=[ExactMatch(), Latency(max_ms=2000)],
        ...     experiment="calculator",
        ... )
        >>> result.metrics["exact_match/mean"], result.passed, result.run_id
    """
    coro = aevaluate(
        data,
        predict,
        scorers=scorers,
        judge=judge,
        experiment=experiment,
        name=name,
        max_workers=max_workers,
        baseline=baseline,
        thresholds=thresholds,
        progress=progress,
        log=log,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A loop is running in this thread: run ours in a worker, keeping the active run context.
    ctx = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="evaluate") as pool:
        return pool.submit(ctx.run, asyncio.run, coro).result()


__all__ = ["aevaluate", "evaluate"]
