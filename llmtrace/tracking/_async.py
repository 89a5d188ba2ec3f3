"""Asynchronous logging: `log_*` calls of a run enqueue and return; one background thread
writes them with `Store.log_batch`.

- The queue is bounded (`MAX_QUEUE` calls). When it is full, the caller waits for room
  (backpressure, with a warning the first time): nothing is ever dropped. That only happens
  when the training loop logs faster than the database accepts writes for a long stretch.
- The writer merges consecutive calls of one run into one `log_batch` (one transaction). If
  the merged batch fails (a param logged again with another value, ...), the calls are written
  one by one, so one bad call loses only itself, exactly as in synchronous mode.
- `flush(run_id)` waits until everything enqueued before it is written and returns that run's
  errors; `end_run()` raises them. At interpreter exit the queue is drained (30 s at most) and
  errors nobody collected are logged.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from llmtrace.store import Store
from llmtrace.store.run_entities import Metric

logger = logging.getLogger("llmtrace")

MAX_QUEUE = 100_000
# Calls merged into one log_batch at most.
MAX_MERGE = 1000
# Errors kept per run (the rest are only counted).
_MAX_ERRORS = 10


@dataclass
class _Call:
    store: Store
    run_id: str
    metrics: Sequence[Metric] = ()
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Errors:
    first: list[BaseException] = field(default_factory=list)
    count: int = 0


class AsyncLogger:
    """The queue and its writer thread (started on first use)."""

    def __init__(self, max_queue: int = MAX_QUEUE) -> None:
        self._queue: queue.Queue[_Call | _Flush] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._errors: dict[str, _Errors] = {}
        self._warned_full = False

    def enqueue(
        self,
        store: Store,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Queue one call; returns at once unless the queue is full (then waits for room)."""
        self._ensure_thread()
        call = _Call(store, run_id, metrics, params or {}, tags or {})
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            if not self._warned_full:
                self._warned_full = True
                logger.warning(
                    "llmtrace async logging: the queue is full (%d calls); log calls now wait "
                    "for the database to catch up",
                    self._queue.maxsize,
                )
            self._queue.put(call)

    def flush(self, run_id: str | None = None, timeout: float | None = None) -> list[BaseException]:
        """Wait until everything queued so far is written; return (and forget) the errors of
        `run_id` (of every run if None). Errors beyond the first few are counted in the last
        one's message."""
        if self._thread is not None:
            marker = _Flush()
            self._queue.put(marker)
            if not marker.done.wait(timeout):
                raise TimeoutError(f"async logging did not finish within {timeout} s")
        with self._lock:
            if run_id is None:
                taken = list(self._errors.values())
                self._errors.clear()
            else:
                one = self._errors.pop(run_id, None)
                taken = [one] if one else []
        errors: list[BaseException] = []
        for entry in taken:
            errors.extend(entry.first)
            if entry.count > len(entry.first):
                logger.error(
                    "llmtrace async logging: %d more failed log call(s) not shown",
                    entry.count - len(entry.first),
                )
        return errors

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="llmtrace-run-logger", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < MAX_MERGE:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            pending: list[_Call] = []
            for item in items:
                if isinstance(item, _Flush):
                    self._write(pending)
                    pending = []
                    item.done.set()
                else:
                    pending.append(item)
            self._write(pending)

    def _write(self, calls: list[_Call]) -> None:
        groups: dict[tuple[int, str], list[_Call]] = {}
        for call in calls:
            groups.setdefault((id(call.store), call.run_id), []).append(call)
        for group in groups.values():
            try:
                self._write_group(group)
            except BaseException as exc:  # never let the writer thread die
                self._record(group[0].run_id, exc)

    def _write_group(self, group: list[_Call]) -> None:
        merged = _merge(group)
        if merged is not None:
            try:
                _log(merged)
                return
            except Exception:
                if len(group) == 1:
                    raise
        # One by one, so that one bad call fails alone (as it would synchronously).
        for call in group:
            try:
                _log(call)
            except Exception as exc:
                self._record(call.run_id, exc)

    def _record(self, run_id: str, exc: BaseException) -> None:
        with self._lock:
            entry = self._errors.setdefault(run_id, _Errors())
            entry.count += 1
            if len(entry.first) < _MAX_ERRORS:
                entry.first.append(exc)


def _merge(group: list[_Call]) -> _Call | None:
    """One call with every metric, param and tag of `group`; None when two calls give one
    param different values (then the calls are written one by one, and the second fails)."""
    if len(group) == 1:
        return group[0]
    metrics: list[Metric] = []
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    for call in group:
        metrics.extend(call.metrics)
        for key, value in call.params.items():
            if params.setdefault(key, value) != value:
                return None
        tags.update(call.tags)  # later wins, as with successive set_tag calls
    return _Call(group[0].store, group[0].run_id, metrics, params, tags)


def _log(call: _Call) -> None:
    call.store.log_batch(
        call.run_id,
        metrics=list(call.metrics),
        params=list(call.params.items()),
        tags=list(call.tags.items()),
    )


_logger: AsyncLogger | None = None
_logger_lock = threading.Lock()


_hooks_installed = False


def get_async_logger() -> AsyncLogger:
    """The process-wide async logger."""
    global _logger, _hooks_installed
    with _logger_lock:
        if _logger is None:
            _logger = AsyncLogger()
        if not _hooks_installed:
            _hooks_installed = True
            atexit.register(_drain_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_reset_after_fork)
        return _logger


def _drain_at_exit() -> None:
    current = _logger
    if current is None:
        return
    try:
        errors = current.flush(timeout=30)
    except Exception as exc:  # interpreter exit: a message, never a traceback
        logger.error("llmtrace async logging: %s", exc)
        return
    for error in errors:
        logger.error("llmtrace async logging: a log call failed: %s", error)


def _reset_after_fork() -> None:
    # The writer thread does not survive fork(); the child starts its own on first use.
    global _logger, _logger_lock
    _logger, _logger_lock = None, threading.Lock()


__all__ = ["MAX_MERGE", "MAX_QUEUE", "AsyncLogger", "get_async_logger"]
