"""Open LangChain runs by run id: thread-safe, bounded, and ended together with their parent.

One handler serves every concurrent run of a program (threads of `RunnableParallel` and
`batch`, tasks of `abatch` and `astream_events`), so the map is guarded by a lock; spans are
ended outside it.

Runs that never report their end (a stream abandoned half-way whose generator is never
closed) must not accumulate: a run still open when its parent ends is ended with it, and past
`max_runs` open runs the oldest is ended. Both are marked with an `llmtrace.langchain.abandoned`
event saying why.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextvars import Token
from dataclasses import dataclass, field
from uuid import UUID

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from llmtrace.integrations._common import SpanHandle

ABANDONED_EVENT = "llmtrace.langchain.abandoned"
DEFAULT_MAX_RUNS = 10_000


@dataclass(eq=False)
class Run:
    """One LangChain run and its span."""

    handle: SpanHandle
    parent_id: UUID | None
    # The context current before the span was attached: where a later root run belongs if
    # this span leaks as the current span (see `recover`).
    outer: otel_context.Context
    started: float = field(default_factory=time.perf_counter)
    model: str | None = None
    provider: str | None = None
    first_token: bool = False
    is_model: bool = False
    children: set[UUID] = field(default_factory=set)
    # The token of the span's attachment to the context the run started in (see `attach`).
    token: Token[otel_context.Context] | None = None


def span_id_of(span: otel_trace.Span) -> int:
    """The span's integer id (0 for an invalid span)."""
    return span.get_span_context().span_id


class RunMap:
    """Open runs by LangChain run id."""

    def __init__(self, max_runs: int = DEFAULT_MAX_RUNS) -> None:
        self.max_runs = max(1, int(max_runs))
        self._runs: OrderedDict[UUID, Run] = OrderedDict()
        self._spans: dict[int, UUID] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: UUID | None) -> Run | None:
        """The open run `run_id`, or None."""
        if run_id is None:
            return None
        with self._lock:
            return self._runs.get(run_id)

    def owns_span(self, span: otel_trace.Span) -> bool:
        """True if `span` is the span of an open run of this map."""
        return self.run_id_of(span) is not None

    def run_id_of(self, span: otel_trace.Span) -> UUID | None:
        """The id of the open run whose span is `span`, or None."""
        with self._lock:
            return self._spans.get(span_id_of(span))

    def add(self, run_id: UUID, run: Run) -> list[Run]:
        """Register `run`; returns the runs evicted to stay within `max_runs` (to be ended by
        the caller, outside the lock)."""
        evicted: list[Run] = []
        with self._lock:
            previous = self._runs.pop(run_id, None)
            if previous is not None:  # a reused run id: the old run can never end now
                self._forget(previous, run_id)
                evicted.append(previous)
            self._runs[run_id] = run
            self._spans[span_id_of(run.handle.otel_span)] = run_id
            parent = self._runs.get(run.parent_id) if run.parent_id is not None else None
            if parent is not None:
                parent.children.add(run_id)
            while len(self._runs) > self.max_runs:
                old_id, old = self._runs.popitem(last=False)
                self._forget(old, old_id)
                evicted.append(old)
        return evicted

    def pop(self, run_id: UUID) -> tuple[Run | None, list[Run]]:
        """Remove the run `run_id` and its open descendants; returns the run and the
        descendants, deepest first (the order to end them in)."""
        with self._lock:
            run = self._runs.pop(run_id, None)
            if run is None:
                return None, []
            self._forget(run, run_id)
            orphans: list[Run] = []
            self._collect(run, orphans)
            return run, orphans

    def _collect(self, run: Run, out: list[Run]) -> None:
        # Iterative post-order walk: a deep chain of abandoned runs must not hit the
        # recursion limit.
        stack: list[tuple[Run, bool]] = [(run, False)]
        while stack:
            current, expanded = stack.pop()
            if expanded:
                if current is not run:
                    out.append(current)
                continue
            stack.append((current, True))
            for child_id in list(current.children):
                child = self._runs.pop(child_id, None)
                if child is not None:
                    self._forget(child, child_id)
                    stack.append((child, False))

    def _forget(self, run: Run, run_id: UUID) -> None:
        self._spans.pop(span_id_of(run.handle.otel_span), None)
        parent = self._runs.get(run.parent_id) if run.parent_id is not None else None
        if parent is not None:
            parent.children.discard(run_id)


__all__ = ["ABANDONED_EVENT", "DEFAULT_MAX_RUNS", "Run", "RunMap", "span_id_of"]
