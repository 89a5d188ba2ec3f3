"""`@scorer`: turn any function into a `Scorer`."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, overload

from evaluators._types import Row, Score, Scorer

if TYPE_CHECKING:
    from evaluators.judge import Judge

_ROW_FIELDS = ("inputs", "outputs", "expectations", "context", "metadata", "trace_id")


def to_score(result: Any) -> Score:
    """A scorer function's return value as a `Score`: a `Score` as is, a bool/number/str/None
    as the value, a `(value, rationale)` tuple."""
    if isinstance(result, Score):
        return result
    if isinstance(result, tuple) and len(result) == 2:
        return Score(result[0], rationale=None if result[1] is None else str(result[1]))
    if result is None or isinstance(result, (bool, int, float, str)):
        return Score(result)
    raise TypeError(
        f"a scorer must return a Score, bool, number, str or dict, not {type(result).__name__}"
    )


class FunctionScorer(Scorer):
    """A `Scorer` calling a user function with the row fields it names as parameters
    (`inputs`, `outputs`, `expectations`, `context`, `metadata`, `trace_id`, `row`, `judge`).
    Sync functions run in a worker thread. Calling the scorer calls the function."""

    def __init__(
        self, func: Callable[..., Any], *, name: str | None = None, threshold: float | None = None
    ):
        self.func = func
        self.name = name or str(getattr(func, "__name__", "scorer"))
        self.threshold = threshold
        params = inspect.signature(func).parameters
        allowed = {*_ROW_FIELDS, "row", "judge"}
        unknown = [p for p in params if p not in allowed]
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        if unknown and not takes_kwargs:
            raise TypeError(
                f"scorer {self.name!r}: unknown parameter(s) {', '.join(unknown)}; use any of "
                f"{', '.join(sorted(allowed))}"
            )
        self._params = list(allowed) if takes_kwargs else list(params)
        self._is_async = inspect.iscoroutinefunction(func)
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    async def score(self, row: Row, judge: Judge | None) -> Score | Mapping[str, Score]:
        values = {f: getattr(row, f) for f in _ROW_FIELDS} | {"row": row, "judge": judge}
        kwargs = {p: values[p] for p in self._params}
        if self._is_async:
            result = await self.func(**kwargs)
        else:
            result = await asyncio.to_thread(self.func, **kwargs)
        if isinstance(result, Mapping):
            return {str(k): to_score(v) for k, v in result.items()}
        return to_score(result)


@overload
def scorer(func: Callable[..., Any], /) -> FunctionScorer: ...


@overload
def scorer(
    *, name: str | None = None, threshold: float | None = None
) -> Callable[[Callable[..., Any]], FunctionScorer]: ...


def scorer(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    threshold: float | None = None,
) -> FunctionScorer | Callable[[Callable[..., Any]], FunctionScorer]:
    """Make a scorer of a function, bare (`@scorer`) or with arguments.

    The function (sync or async) takes any of `inputs`, `outputs`, `expectations`, `context`,
    `metadata`, `trace_id`, `row` and `judge` by name, and returns a bool, a number, a label,
    a `(value, rationale)` pair, a `Score`, or a dict of those (several scores, stored as
    `name/<key>`). A numeric value passes when it is `>= threshold`.

    Example:
        >>> @scorer(threshold=0.5)
        ... def overlap(outputs: str, expectations: dict) -> float:
        ...     words = set(expectations["expected_response"].split())
        ...     return len(words & set(outputs.split())) / len(words)
    """
    if func is not None:
        return FunctionScorer(func, name=name, threshold=threshold)

    def decorate(fn: Callable[..., Any]) -> FunctionScorer:
        return FunctionScorer(fn, name=name, threshold=threshold)

    return decorate


__all__ = ["FunctionScorer", "scorer", "to_score"]
