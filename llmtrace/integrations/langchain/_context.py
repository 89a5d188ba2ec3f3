"""Where a run's span goes, and making it current in the step it starts.

Placement: a run with a known parent run nests under its parent's span, or under a
non-LangChain span opened inside the parent step (`opened_inside`). A root run nests under the
current span, except an ended span of ours (`recover`) or another root run of the same handler
whose body is not running here (`root_context`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import Token
from typing import Any
from uuid import UUID

from langchain_core.runnables.config import var_child_runnable_config
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from llmtrace.integrations.langchain._runs import Run, RunMap, span_id_of

# Ended spans remembered for `recover()`; a few hundred cover any realistic nesting.
_MAX_ENDED = 512

# --- attachments -------------------------------------------------------------------------------
#
# A run's span is made current in the context its start callback runs in, so that the step's
# body (which LangChain runs in a copy of that context) sees it. Attachments are undone in
# stack order: a run that ends while a later attachment sits on top of its own (the runs of a
# `RunnableSequence.batch` all start, then all end, in the caller's context) waits until that
# one is undone, instead of resetting the context from under it and leaving an ended span
# current afterwards.
#
# LangChain ends async runs in shielded tasks (`on_chain_end`, `on_llm_end`,
# `on_retriever_end` run in a copy of the context), where an attachment cannot be undone: it
# stays pending until the next callback in the context that made it (`unwind`). Until then,
# after `await chain.ainvoke()`, that ended span is still the current one there; `recover`
# keeps later root runs from nesting under it even where `unwind` cannot reach (a task that
# copied the context meanwhile).

_MAX_PENDING = 1024
_pending: OrderedDict[int, tuple[otel_context.Context, Token[otel_context.Context]]] = OrderedDict()
_ended: OrderedDict[int, otel_context.Context] = OrderedDict()
_lock = threading.Lock()


def attach(run: Run) -> None:
    """Make `run`'s span current in the calling context."""
    try:
        run.token = otel_context.attach(run.handle.context)
    except Exception:
        run.token = None


def release(run: Run) -> None:
    """After `run` ended: undo its attachment now if it is on top, else when it surfaces; and
    remember which context its span was attached over (for `recover`)."""
    span_id = span_id_of(run.handle.otel_span)
    if not span_id:
        return
    with _lock:
        _ended[span_id] = run.outer
        while len(_ended) > _MAX_ENDED:
            _ended.popitem(last=False)
        if run.token is not None:
            _pending[span_id] = (run.handle.context, run.token)
            while len(_pending) > _MAX_PENDING:
                _pending.popitem(last=False)
    run.token = None
    unwind()


def unwind() -> None:
    """Undo, in stack order, the attachments of ended runs on top of the current context."""
    for _ in range(1024):
        current = otel_context.get_current()
        span_id = span_id_of(otel_trace.get_current_span(current))
        with _lock:
            entry = _pending.get(span_id)
        if entry is None or entry[0] is not current:
            return
        token = entry[1]
        try:
            token.var.reset(token)
        except ValueError:
            return  # a copy of the context that made the attachment: only that one can undo it
        except RuntimeError:
            pass  # already undone
        with _lock:
            _pending.pop(span_id, None)


def recover(ctx: otel_context.Context) -> otel_context.Context:
    """`ctx`, or, when its current span is an ended span of ours, the context that span was
    attached over (repeatedly)."""
    for _ in range(32):
        span: Any = otel_trace.get_current_span(ctx)
        if span.is_recording():
            return ctx
        span_id = span_id_of(span)
        if not span_id:
            return ctx
        with _lock:
            outer = _ended.get(span_id)
        if outer is None:
            return ctx
        ctx = outer
    return ctx


def in_body_of(run_id: UUID | None) -> bool:
    """True when the calling code runs inside the body of the run `run_id`: LangChain runs a
    step's body with that run's child config as the current runnable config."""
    config = var_child_runnable_config.get()
    callbacks = config.get("callbacks") if isinstance(config, Mapping) else None
    return run_id is not None and getattr(callbacks, "parent_run_id", None) == run_id


def root_context(runs: RunMap, ctx: otel_context.Context) -> otel_context.Context:
    """Where a root run goes: `ctx` (recovered), unless its current span is another root run
    of `runs` whose body is not running here. `RunnableSequence.batch` starts the runs of all
    its inputs in the caller's context before running any step: each is a trace of its own,
    not a child of the previous one."""
    ctx = recover(ctx)
    for _ in range(64):
        run_id = runs.run_id_of(otel_trace.get_current_span(ctx))
        run = runs.get(run_id)
        if run is None or run.parent_id is not None or in_body_of(run_id):
            return ctx
        ctx = recover(run.outer)
    return ctx


def _start_time_ns(span: otel_trace.Span) -> int | None:
    value = getattr(span, "start_time", None)
    return value if isinstance(value, int) else None


def opened_inside(runs: RunMap, span: otel_trace.Span, parent_run: Run) -> bool:
    """True for a non-LangChain span opened inside the parent run's step (an `@llmtrace.trace`
    function calling a model): it is the closer parent. Spans of other runs are not: a
    streamed sequence pulls its upstream steps inside a later step's context."""
    mine = parent_run.handle.otel_span
    if span is mine or not span.is_recording() or runs.owns_span(span):
        return False
    if span.get_span_context().trace_id != mine.get_span_context().trace_id:
        return False
    start, parent_start = _start_time_ns(span), _start_time_ns(mine)
    # Started after the parent run: inside it, not one of its ancestors.
    return start is not None and parent_start is not None and start >= parent_start


__all__ = ["attach", "in_body_of", "opened_inside", "recover", "release", "root_context", "unwind"]
