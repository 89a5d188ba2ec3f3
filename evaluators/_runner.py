"""Running an evaluation: `predict` per row under a trace, then every scorer on every row,
with bounded concurrency, failures recorded as data and an optional progress bar."""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import llmtrace
from evaluators._types import Row, Score, Scorer
from evaluators.judge import Judge, JudgeReply


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class EvaluationContext:
    """Counters of a running evaluation, shown on the progress bar: rows done, judge calls,
    errors and judge cost so far."""

    total: int = 0
    rows_done: int = 0
    judge_calls: int = 0
    judge_cost: float = 0.0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_reply(self, reply: JudgeReply) -> None:
        """Add one judge reply (cache hits are not calls)."""
        with self._lock:
            if not reply.cached:
                self.judge_calls += 1
            self.judge_cost += reply.cost or 0.0


class CountingJudge(Judge):
    """Wraps the evaluation's judge to count its calls and cost in an `EvaluationContext`."""

    def __init__(self, inner: Judge, context: EvaluationContext):
        self.inner = inner
        self.model = inner.model
        self.context = context

    async def complete(self, messages: Any, **kwargs: Any) -> JudgeReply:
        reply = await self.inner.complete(messages, **kwargs)
        self.context.count_reply(reply)
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Progress:
    """A tqdm bar over rows when enabled; a no-op otherwise."""

    def __init__(self, context: EvaluationContext, enabled: bool | None):
        self.context = context
        self.bar: Any = None
        if enabled is False or (enabled is None and not sys.stderr.isatty()):
            return
        try:
            from tqdm.auto import tqdm  # type: ignore[import-untyped]
        except ImportError as exc:
            if enabled:  # asked for explicitly: say what is missing
                raise ImportError("progress=True needs tqdm: pip install tqdm") from exc
            return
        self.bar = tqdm(total=context.total, desc="evaluate", unit="row")

    def advance(self, phase: str) -> None:
        if self.bar is None:
            return
        c = self.context
        self.bar.set_postfix(
            phase=phase,
            judge_calls=c.judge_calls,
            errors=c.errors,
            judge_cost=f"${c.judge_cost:.4f}",
            refresh=False,
        )
        self.bar.update(1)

    def reset(self, total: int) -> None:
        if self.bar is not None:
            self.bar.reset(total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _call_args(inputs: Any, func: Callable[..., Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A dict of inputs becomes keyword arguments when the function takes those names; any
    other input is the single positional argument."""
    if isinstance(inputs, Mapping):
        try:
            inspect.signature(func).bind(**inputs)
        except (TypeError, ValueError):
            return (inputs,), {}
        return (), dict(inputs)
    return (inputs,), {}


async def predict_row(row: Row, predict: Callable[..., Any]) -> None:
    """Run `predict` on the row under a span, filling outputs, trace id, latency or error."""
    args, kwargs = _call_args(row.inputs, predict)
    name = getattr(predict, "__name__", "predict")
    started = time.perf_counter()
    if inspect.iscoroutinefunction(predict):
        async with llmtrace.span(name, span_type="CHAIN", inputs=row.inputs) as live:
            row.trace_id = live.trace_id
            try:
                row.outputs = await predict(*args, **kwargs)
            except Exception as exc:
                row.error = _describe(exc)
                raise
            finally:
                row.latency_ms = (time.perf_counter() - started) * 1000
            live.set_outputs(row.outputs)
        return

    def call() -> None:
        with llmtrace.span(name, span_type="CHAIN", inputs=row.inputs) as live:
            row.trace_id = live.trace_id
            try:
                row.outputs = predict(*args, **kwargs)
            except Exception as exc:
                row.error = _describe(exc)
                raise
            finally:
                row.latency_ms = (time.perf_counter() - started) * 1000
            live.set_outputs(row.outputs)

    await asyncio.to_thread(call)


def fill_from_traces(rows: Sequence[Row]) -> None:
    """After a flush: latency, tokens and cost of each row from its stored trace."""
    if not any(r.trace_id for r in rows):
        return
    llmtrace.flush()
    store = llmtrace.get_store()
    for row in rows:
        if row.trace_id is None:
            continue
        try:
            info = store.get_trace(row.trace_id).info
        except Exception:  # a sampled-out trace, or a store error: keep the local timing
            continue
        row.latency_ms = info.duration_ms
        row.input_tokens = info.input_tokens
        row.output_tokens = info.output_tokens
        row.cost = info.cost


async def score_row(row: Row, scorer: Scorer, judge: Judge | None) -> dict[str, Score]:
    """One scorer on one row as named scores; errors become `Score.failed`."""
    if row.error is not None:
        return {scorer.name: Score.failed(f"predict failed: {row.error}", skipped=True)}
    if scorer.needs_judge and judge is None:
        return {scorer.name: Score.failed("this scorer needs a judge: pass judge=... to evaluate")}
    try:
        result = await scorer.score(row, judge)
    except Exception as exc:
        return {scorer.name: Score.failed(_describe(exc))}
    if isinstance(result, Score):
        return {scorer.name: _with_verdict(scorer, result)}
    if isinstance(result, Mapping) and all(isinstance(v, Score) for v in result.values()):
        return {f"{scorer.name}/{k}": _with_verdict(scorer, v) for k, v in result.items()}
    return {scorer.name: Score.failed(f"scorer returned {type(result).__name__}, not a Score")}


def _with_verdict(scorer: Scorer, score: Score) -> Score:
    """The score with `passed` filled in from the scorer's rule (bool value, threshold)."""
    if score.passed is not None or score.error is not None:
        return score
    verdict = scorer.verdict(score)
    return score if verdict is None else replace(score, passed=verdict)


async def run_rows(
    rows: Sequence[Row],
    scorers: Sequence[Scorer],
    *,
    predict: Callable[..., Any] | None,
    judge: Judge | None,
    max_workers: int,
    context: EvaluationContext,
    progress: bool | None,
) -> list[dict[str, Score]]:
    """Predict (when given) then score every row; returns each row's scores, in row order."""
    limit = asyncio.Semaphore(max(1, max_workers))
    context.total = len(rows)
    bar = _Progress(context, progress)
    try:
        if predict is not None:

            async def one_prediction(row: Row) -> None:
                async with limit:
                    try:
                        await predict_row(row, predict)
                    except Exception:
                        with context._lock:
                            context.errors += 1
                bar.advance("predict")

            await asyncio.gather(*(one_prediction(r) for r in rows))
            await asyncio.to_thread(fill_from_traces, rows)
            bar.reset(len(rows))

        results: list[dict[str, Score]] = [{} for _ in rows]
        remaining = [len(scorers)] * len(rows)

        async def one_score(i: int, scorer: Scorer) -> tuple[int, dict[str, Score]]:
            async with limit:
                scores = await score_row(rows[i], scorer, judge)
            failed = sum(1 for s in scores.values() if s.error is not None)
            with context._lock:
                context.errors += failed
                remaining[i] -= 1
                done = remaining[i] == 0
            if done:
                context.rows_done += 1
                bar.advance("score")
            return i, scores

        for i, scores in await asyncio.gather(
            *(one_score(i, s) for i in range(len(rows)) for s in scorers)
        ):
            results[i].update(scores)
        return results
    finally:
        bar.close()


__all__ = [
    "CountingJudge",
    "EvaluationContext",
    "fill_from_traces",
    "predict_row",
    "run_rows",
    "score_row",
]
