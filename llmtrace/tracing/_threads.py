"""Carrying the tracing context into worker threads.

asyncio tasks copy the context by themselves; threads do not. A span started in a worker of
`ContextThreadPoolExecutor`, or in a function wrapped by `with_context`, nests under the span
that submitted the work.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A `ThreadPoolExecutor` that runs each task in a copy of the submitter's context.

    Example:
        >>> with ContextThreadPoolExecutor(4) as pool:
        ...     answers = list(pool.map(answer, questions))     # spans nest under the caller
    """

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        ctx = contextvars.copy_context()
        return super().submit(functools.partial(ctx.run, fn, *args, **kwargs))


def with_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind `fn` to the current context, for `threading.Thread(target=...)` or other pools.

    Each call runs in its own copy, so the result may be called from several threads at once.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return run


__all__ = ["ContextThreadPoolExecutor", "with_context"]
