"""Context that travels with the code: the active run, session and user.

A leaf module (stdlib only). Spans started while a value is set are stamped with it by the span
processor, which is how runs (experiment tracking) and traces meet without importing each other.

Example:
    >>> from llmtrace.context import trace_defaults
    >>> with trace_defaults(session_id="chat-42", user_id="ada"):
    ...     pass  # every span started here carries the session and user
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class TraceDefaults:
    """Values stamped onto every span started while they are active."""

    run_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None

    def is_empty(self) -> bool:
        return self.run_id is None and self.session_id is None and self.user_id is None


_DEFAULTS: ContextVar[TraceDefaults | None] = ContextVar("llmtrace_trace_defaults", default=None)


def get_trace_defaults() -> TraceDefaults | None:
    """The defaults active in this context, or None."""
    return _DEFAULTS.get()


@contextmanager
def trace_defaults(
    *, run_id: str | None = None, session_id: str | None = None, user_id: str | None = None
) -> Iterator[TraceDefaults]:
    """Stamp `run_id`, `session_id` and `user_id` onto every span started inside the block.

    Values not given keep what an enclosing block set.
    """
    current = _DEFAULTS.get() or TraceDefaults()
    changes = {
        k: v
        for k, v in (("run_id", run_id), ("session_id", session_id), ("user_id", user_id))
        if v is not None
    }
    new = replace(current, **changes)
    token = _DEFAULTS.set(None if new.is_empty() else new)
    try:
        yield new
    finally:
        _DEFAULTS.reset(token)


__all__ = ["TraceDefaults", "get_trace_defaults", "trace_defaults"]
