"""The export processor: a bounded queue drained by one background thread.

The caller's thread only appends the finished span to a deque. The worker converts and writes
batches through a `SpanSink`; when the sink fails (database down or locked) the batch is kept and
retried with backoff while new spans wait in the queue. Spans are dropped only when the queue is
full, and every drop is counted and reported.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode, get_current_span

from llmtrace import semconv as sc
from llmtrace.context import PromptUse, get_trace_defaults, prompt_attributes, prompts_in_trace
from llmtrace.tracing import _deferred

logger = logging.getLogger("llmtrace")

# Sampled-out traces held back in case one of their spans fails (keep_errors).
_MAX_TAIL_TRACES = 10_000
_MAX_TAIL_SPANS_PER_TRACE = 10_000
_MAX_BACKOFF_S = 5.0
# Spans whose type was unknown at start while a prompt was in use (payloads deferred): their
# prompt link is decided at end. Beyond this many, spans that never ended are forgotten.
_MAX_PROMPTED_SPANS = 10_000
# The model calls a formatted prompt is linked to: llmtrace's types, and GenAI/OpenInference
# conventions of spans from other instrumentations.
_LLM_TYPES = frozenset({sc.SpanType.LLM.value, sc.SpanType.CHAT_MODEL.value})
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})


class SpanSink(Protocol):
    """Where batches go. `export` raises on failure; the processor then retries the batch."""

    def export(self, spans: Sequence[ReadableSpan]) -> None: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class ExportStats:
    """Counters of the export pipeline since it started."""

    exported: int
    dropped: int
    queued: int
    failed_attempts: int
    sampled_out_traces: int
    last_error: str | None
    # Models called without a known price (their cost is null), with their number of calls.
    unpriced_models: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "unpriced_models": dict(self.unpriced_models),
            "exported": self.exported,
            "dropped": self.dropped,
            "queued": self.queued,
            "failed_attempts": self.failed_attempts,
            "sampled_out_traces": self.sampled_out_traces,
            "last_error": self.last_error,
        }


def stamp(span: Span, parent_context: Context | None, resource: object) -> None:
    """Stamp the active run, session and user (from `llmtrace.context`) onto a starting span,
    and mark it a local root when its parent belongs to another tracer provider."""
    defaults = get_trace_defaults()
    if defaults is not None:
        if defaults.run_id is not None:
            span.set_attribute(sc.TRACE_RUN_ID, defaults.run_id)
        if defaults.session_id is not None:
            span.set_attribute(sc.TRACE_SESSION_ID, defaults.session_id)
        if defaults.user_id is not None:
            span.set_attribute(sc.TRACE_USER_ID, defaults.user_id)
    parent = span.parent
    if parent is not None and not parent.is_remote:
        # A parent from another tracer provider is not stored here: this span is then the
        # root of what this store sees.
        owner = getattr(get_current_span(parent_context), "resource", None)
        if owner is not resource:
            span.set_attribute(sc.SPAN_FOREIGN_PARENT, True)


def _llm_kind(attributes: Mapping[str, object] | None) -> bool | None:
    """True for an LLM or chat span, False for another kind, None when the kind is unknown."""
    if not attributes:
        return None
    kind, operation = attributes.get(sc.SPAN_TYPE), attributes.get(sc.GEN_AI_OPERATION_NAME)
    if kind in _LLM_TYPES or operation in _LLM_OPERATIONS:
        return True
    if attributes.get("openinference.span.kind") == "LLM":
        return True
    return None if kind is None and operation is None else False


def stamp_prompts(span: Span) -> tuple[PromptUse, ...] | None:
    """Stamp the registered prompts formatted earlier in this span's trace and context onto a
    starting LLM/chat span. Returns them when the span's kind is not known yet (its attributes
    travel beside it until export) so that the caller decides at its end. Never raises."""
    try:
        prompts = prompts_in_trace(span.context.trace_id)
        if prompts is None:
            return None
        is_llm = _llm_kind(span.attributes)
        if is_llm is None:
            return prompts
        if is_llm:
            span.set_attributes(prompt_attributes(prompts))
    except Exception:
        logger.debug("llmtrace could not link a span to its prompt", exc_info=True)
    return None


class StampProcessor(SpanProcessor):
    """Only the stamping of `ExportProcessor.on_start`, for runtimes whose spans leave over
    OTLP alone (a server as the store): registered first, so exporters see the attributes."""

    def __init__(self, resource: object) -> None:
        self._resource = resource

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        stamp(span, parent_context, self._resource)
        stamp_prompts(span)


class ExportProcessor(SpanProcessor):
    """Batches finished spans to a `SpanSink` on a background thread; never raises."""

    def __init__(
        self,
        sink: SpanSink,
        *,
        max_queue: int = 200_000,
        batch_size: int = 2048,
        interval: float = 0.5,
        resource: object = None,
    ) -> None:
        self._sink = sink
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = interval
        self._resource = resource
        self._queue: deque[ReadableSpan] = deque()
        self._in_flight = 0
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._flush_requested = 0
        self._flush_done = 0
        self._stopping = False
        # Set when shutdown's timeout passed: the worker stops retrying a failing sink.
        self._abandon = False
        self._exported = 0
        self._dropped = 0
        self._failed_attempts = 0
        self._sampled_out = 0
        self._last_error: str | None = None
        self._warned_drop_at = 0
        self._tail: dict[int, list[ReadableSpan]] = {}
        self._tail_errors: set[int] = set()
        self._tail_lock = threading.Lock()
        self._prompted: dict[int, tuple[PromptUse, ...]] = {}
        self._worker: threading.Thread | None = None
        self._start_worker()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    # --- caller side --------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        stamp(span, parent_context, self._resource)
        prompts = stamp_prompts(span)
        if prompts is not None:
            if len(self._prompted) >= _MAX_PROMPTED_SPANS:
                self._prompted.clear()
            self._prompted[span.context.span_id] = prompts

    def on_end(self, span: ReadableSpan) -> None:
        if self._prompted:
            self._stamp_deferred_prompts(span)
        if not span.context.trace_flags.sampled:
            self._hold_unsampled(span)
            return
        queue = self._queue
        if len(queue) + self._in_flight >= self._max_queue:
            _deferred.discard(span.context.span_id)
            self._drop(1)
            return
        queue.append(span)
        if len(queue) == self._batch_size:
            self._wake.set()

    def _stamp_deferred_prompts(self, span: ReadableSpan) -> None:
        """Link an ending span whose kind was unknown at start to its prompts, through the
        attributes that travel beside it (the SDK span is read-only by now)."""
        try:
            prompts = self._prompted.pop(span.context.span_id, None)
            entry = _deferred.PENDING.get(span.context.span_id) if prompts else None
            static = entry[_deferred.STATIC] if entry is not None else None
            if prompts and isinstance(static, dict) and _llm_kind(static):
                static.update(prompt_attributes(prompts))
        except Exception:
            logger.debug("llmtrace could not link a span to its prompt", exc_info=True)

    def _hold_unsampled(self, span: ReadableSpan) -> None:
        tid = span.context.trace_id
        parent = span.parent
        is_root = (
            parent is None
            or parent.is_remote
            or bool(span.attributes and span.attributes.get(sc.SPAN_FOREIGN_PARENT))
        )
        with self._tail_lock:
            held = self._tail.get(tid)
            if held is None:
                if len(self._tail) >= _MAX_TAIL_TRACES:
                    oldest = next(iter(self._tail))
                    for evicted in self._tail.pop(oldest):
                        _deferred.discard(evicted.context.span_id)
                    self._tail_errors.discard(oldest)
                    self._sampled_out += 1
                held = self._tail[tid] = []
            if len(held) < _MAX_TAIL_SPANS_PER_TRACE:
                held.append(span)
            else:
                _deferred.discard(span.context.span_id)
            if span.status.status_code is StatusCode.ERROR:
                self._tail_errors.add(tid)
            if not is_root:
                return
            self._tail.pop(tid, None)
            keep = tid in self._tail_errors
            self._tail_errors.discard(tid)
            if not keep:
                self._sampled_out += 1
                for s in held:
                    _deferred.discard(s.context.span_id)
                return
        for s in held:
            self._enqueue_unsampled(s)

    def _enqueue_unsampled(self, span: ReadableSpan) -> None:
        """Queue a span regardless of its sampled flag (kept error traces)."""
        if len(self._queue) + self._in_flight >= self._max_queue:
            _deferred.discard(span.context.span_id)
            self._drop(1)
        else:
            self._queue.append(span)

    def _drop(self, n: int) -> None:
        self._dropped += n
        # Warn on the first drop and then at each doubling, so a flood stays readable.
        if self._dropped >= max(1, 2 * self._warned_drop_at):
            self._warned_drop_at = self._dropped
            cause = (
                f"the store is unreachable or failing (last error: {self._last_error})"
                if self._last_error
                else "spans are produced faster than the store absorbs them"
            )
            logger.warning(
                "llmtrace dropped %d span(s) so far: export queue full (%d spans): %s. "
                "Raise LLMTRACE_QUEUE_SIZE, lower LLMTRACE_SAMPLE_RATE or check the store.",
                self._dropped,
                self._max_queue,
                cause,
            )

    # --- worker -------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        self._worker = threading.Thread(target=self._run, name="llmtrace-export", daemon=True)
        self._worker.start()

    def _after_fork(self) -> None:
        # The worker thread does not survive fork; the child gets its own, and an empty queue
        # (the parent exports what it queued).
        self._queue = deque()
        self._in_flight = 0
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._tail_lock = threading.Lock()
        self._tail.clear()
        self._tail_errors.clear()
        if not self._stopping:
            self._start_worker()

    def _run(self) -> None:
        backoff = 0.0
        while True:
            self._wake.wait(backoff or self._interval)
            self._wake.clear()
            with self._cond:
                requested = self._flush_requested
                stopping = self._stopping
            ok = self._drain()
            backoff = 0.0 if ok else min(_MAX_BACKOFF_S, max(0.05, backoff * 2))
            if ok:
                with self._cond:
                    self._flush_done = max(self._flush_done, requested)
                    self._cond.notify_all()
            if (stopping and (ok or not self._queue)) or self._abandon:
                return

    def _drain(self) -> bool:
        queue = self._queue
        while queue:
            n = min(self._batch_size, len(queue))
            batch = [queue.popleft() for _ in range(n)]
            self._in_flight = n
            try:
                self._sink.export(batch)
            except Exception as exc:  # any sink failure: keep the batch and retry later
                self._failed_attempts += 1
                first = self._last_error is None
                self._last_error = f"{type(exc).__name__}: {exc}"[:500]
                if first or self._failed_attempts % 100 == 0:
                    logger.warning(
                        "llmtrace could not store %d span(s), will retry: %s",
                        n,
                        self._last_error,
                    )
                queue.extendleft(reversed(batch))
                self._in_flight = 0
                return False
            self._in_flight = 0
            self._exported += n
        return True

    # --- control ------------------------------------------------------------------------------

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything queued before this call; False if it did not finish in time."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            self._flush_requested += 1
            target = self._flush_requested
        self._wake.set()
        with self._cond:
            while self._flush_done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._worker is None or not self._worker.is_alive():
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    def shutdown(self, timeout_millis: int = 10_000) -> None:
        """Drain the queue (up to the timeout), stop the worker, count what is left as dropped."""
        if self._stopping:
            return
        with self._cond:
            self._stopping = True
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout_millis / 1000)
        self._abandon = True
        self._wake.set()
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(1.0)
        # popleft, not iteration: a worker that outlived its join may still touch the deque.
        left = 0
        while True:
            try:
                span = self._queue.popleft()
            except IndexError:
                break
            _deferred.discard(span.context.span_id)
            left += 1
        if left:
            self._drop(left)
        try:
            self._sink.shutdown()
        except Exception:  # shutdown must not raise at interpreter exit
            logger.debug("llmtrace sink shutdown failed", exc_info=True)

    def stats(self) -> ExportStats:
        """Current counters."""
        return ExportStats(
            exported=self._exported,
            dropped=self._dropped,
            queued=len(self._queue) + self._in_flight,
            failed_attempts=self._failed_attempts,
            sampled_out_traces=self._sampled_out,
            last_error=self._last_error,
        )


__all__ = ["ExportProcessor", "ExportStats", "SpanSink", "StampProcessor", "stamp"]
