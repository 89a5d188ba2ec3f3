"""Tracing for LangChain (langchain-core): every run of a chain, runnable, chat model, LLM,
tool, retriever, output parser or agent becomes a span, nested as LangChain nests the runs.

Two ways in: `llmtrace.instrument("langchain")` adds one shared `LlmtraceCallbackHandler` to
every run of the process (through langchain-core's configure hook); or pass a handler
yourself in a run's config. Both give the same spans, and never twice: the hook skips a run
that already carries an `LlmtraceCallbackHandler`. See docs/integrations/langchain.md.

Example:
    >>> import llmtrace
    >>> llmtrace.instrument("langchain")
    >>> chain.invoke({"question": "..."})
    >>> llmtrace.uninstrument("langchain")

    >>> from llmtrace.integrations.langchain import LlmtraceCallbackHandler
    >>> chain.invoke({"question": "..."}, config={"callbacks": [LlmtraceCallbackHandler()]})
"""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from typing import Any

from langchain_core.tracers import context as lc_context

from llmtrace.integrations.langchain._handler import LlmtraceCallbackHandler

logger = logging.getLogger("llmtrace")

_lock = threading.Lock()
# The shared handler is the variable's *default*, not a value set in one context: threads and
# event loops started before `instrument()` see it too.
_shared: LlmtraceCallbackHandler | None = None
_var: ContextVar[LlmtraceCallbackHandler | None] | None = None


def _hooks() -> list[Any] | None:
    # langchain-core keeps registered hooks in this private list and offers no way to remove
    # one; without it, uninstrument() falls back to retiring the handler.
    hooks = getattr(lc_context, "_configure_hooks", None)
    return hooks if isinstance(hooks, list) else None


def _registered(var: ContextVar[Any]) -> bool:
    return any(hook[0] is var for hook in _hooks() or ())


def instrument(**options: Any) -> None:
    """Add an `LlmtraceCallbackHandler` to every LangChain run (idempotent).

    Runs that already carry an `LlmtraceCallbackHandler` (passed in their config) keep theirs
    and get no second one. Options: none (the registry passes every integration the same
    options, so unknown ones are ignored).
    """
    global _shared, _var
    if options:
        logger.debug("llmtrace langchain integration ignores options %s", sorted(options))
    with _lock:
        if _shared is None or _var is None:
            _shared = LlmtraceCallbackHandler()
            _var = ContextVar("llmtrace_langchain_handler", default=_shared)
        _shared._accepting = True
        if not _registered(_var):
            lc_context.register_configure_hook(
                _var, inheritable=True, handle_class=LlmtraceCallbackHandler
            )


def uninstrument() -> None:
    """Stop adding the handler to new runs (idempotent). Runs already open still end on
    their spans; handlers passed explicitly keep working."""
    with _lock:
        if _shared is None or _var is None:
            return
        _shared._accepting = False
        hooks = _hooks()
        if hooks is not None:
            hooks[:] = [hook for hook in hooks if hook[0] is not _var]


def is_instrumented() -> bool:
    """True while `instrument("langchain")` is in effect."""
    with _lock:
        return _shared is not None and _shared._accepting


__all__ = ["LlmtraceCallbackHandler", "instrument", "is_instrumented", "uninstrument"]
