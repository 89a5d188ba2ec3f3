"""The bounded ingest queue: receivers submit spans, one writer thread stores them in group
commits, and each submitter learns when its spans are committed (acknowledged = queryable).

Back-pressure: the queue holds at most `max_spans` spans not yet committed (a request larger
than that is still taken when the queue is empty, so that it can ever succeed). Beyond that
`submit` raises `QueueFull`, which receivers turn into HTTP 503 / gRPC RESOURCE_EXHAUSTED with a
retry delay, so a flood slows clients down instead of exhausting memory.

Group commit: while one transaction runs, new requests wait; the next transaction takes all of
them (up to `max_batch_spans`), so a busy server writes few large transactions. When a group
fails, its requests are retried one by one, so that one request the database refuses cannot
fail the others; a database that is down fails them all at once. No span is dropped silently:
a failed request's future carries the exception and the client is told to retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from llmtrace.store import SpanRecord, SqlStore

logger = logging.getLogger("llmtrace.server")

# Errors that mean "the database is unavailable", not "these spans are bad": retrying the
# requests of a failed group one by one would only fail again.
_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


# MySQL/MariaDB error codes that refuse the data, not the connection: a row larger than
# max_allowed_packet (1153) or than the row size limit (1301). Retrying would fail forever.
_MYSQL_TOO_LARGE = frozenset({1153, 1301})


def _as_refusal(exc: Exception) -> Exception:
    """A "packet too large" OperationalError as the DataError it really is (400, not 503)."""
    if isinstance(exc, OperationalError):
        args = getattr(exc.orig, "args", ())
        if args and args[0] in _MYSQL_TOO_LARGE and exc.orig is not None:
            return DataError(exc.statement, None, exc.orig)
    return exc


class QueueFull(Exception):
    """The queue cannot take more spans now; retry after `retry_after` seconds."""

    def __init__(self, queued: int, max_spans: int, retry_after: float) -> None:
        super().__init__(
            f"ingest queue full ({queued} of {max_spans} spans waiting to be written); "
            f"retry in {retry_after:g} s"
        )
        self.retry_after = retry_after


class QueueClosed(Exception):
    """The server is shutting down and takes no more spans."""


@dataclass
class _Request:
    records: Sequence[SpanRecord]
    future: Future[None]


class IngestQueue:
    """Spans waiting to be stored, written by one background thread in group commits.

    Example:
        >>> queue = IngestQueue(store, max_spans=200_000)
        >>> queue.start()
        >>> queue.submit(records).result()   # returns once the spans are committed
        >>> queue.stop()
    """

    def __init__(
        self,
        store: SqlStore,
        *,
        max_spans: int,
        max_batch_spans: int = 20_000,
        retry_after: float = 1.0,
    ) -> None:
        self.store = store
        self.max_spans = max_spans
        self.max_batch_spans = max_batch_spans
        self.retry_after = retry_after
        self._cond = threading.Condition()
        self._pending: deque[_Request] = deque()
        self._queued = 0  # spans submitted and not yet committed (or failed)
        self._closed = False
        self._thread: threading.Thread | None = None
        self._written = 0
        self._batches = 0
        self._rejected = 0
        self._failed = 0
        self._invalid = 0
        self._last_write_ms = 0.0

    # --- receivers ----------------------------------------------------------------------------

    def submit(self, records: Sequence[SpanRecord]) -> Future[None]:
        """Queue `records`; the future completes when they are committed, or carries the
        storage error. Raises `QueueFull` (retry later) or `QueueClosed`."""
        future: Future[None] = Future()
        if not records:
            future.set_result(None)
            return future
        count = len(records)
        with self._cond:
            if self._closed:
                raise QueueClosed("the server is shutting down")
            if self._queued and self._queued + count > self.max_spans:
                self._rejected += count
                raise QueueFull(self._queued, self.max_spans, self.retry_after)
            if self._thread is None:
                self._start_locked()
            self._pending.append(_Request(records, future))
            self._queued += count
            self._cond.notify()
        return future

    def check_room(self) -> None:
        """Raise `QueueFull` now if the queue is already full: receivers call it before reading
        and decoding a request, so that a flood costs no more work or memory than needed."""
        with self._cond:
            if self._queued >= self.max_spans:
                raise QueueFull(self._queued, self.max_spans, self.retry_after)

    def count_invalid(self, spans: int) -> None:
        """Count spans a receiver rejected as invalid (reported by `stats`)."""
        with self._cond:
            self._invalid += spans

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (done on the first `submit` otherwise)."""
        with self._cond:
            if self._thread is None and not self._closed:
                self._start_locked()

    def _start_locked(self) -> None:
        self._thread = threading.Thread(target=self._run, name="llmtrace-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Refuse new spans, write those already queued, then stop the writer."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("ingest writer still busy after %.0f s at shutdown", timeout)

    def stats(self) -> dict[str, Any]:
        """Counters: spans queued now, written, rejected by a full queue, failed to store,
        invalid (rejected by receivers), and the last write's duration."""
        with self._cond:
            return {
                "queued_spans": self._queued,
                "queued_requests": len(self._pending),
                "max_spans": self.max_spans,
                "written_spans": self._written,
                "write_batches": self._batches,
                "rejected_spans": self._rejected,
                "failed_spans": self._failed,
                "invalid_spans": self._invalid,
                "last_write_ms": round(self._last_write_ms, 3),
            }

    # --- the writer ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return  # closed and drained
                group = [self._pending.popleft()]
                size = len(group[0].records)
                cap = self.max_batch_spans
                while self._pending and size + len(self._pending[0].records) <= cap:
                    request = self._pending.popleft()
                    group.append(request)
                    size += len(request.records)
            try:
                self._write(group)
            except BaseException:  # never let the writer die with futures left pending
                logger.exception("ingest writer failed")
                left = [r for r in group if not r.future.done()]
                self._finish(left, RuntimeError("ingest writer failed"))

    def _write(self, group: list[_Request]) -> None:
        started = time.perf_counter()
        try:
            self.store.log_spans(_unique(r for req in group for r in req.records))
        except Exception as raised:
            exc = _as_refusal(raised)
            if len(group) == 1 or isinstance(exc, _UNAVAILABLE):
                logger.warning("could not store %d span(s): %s", _count(group), exc)
                self._finish(group, exc)
                return
            for request in group:  # isolate the request(s) the database refuses
                try:
                    self.store.log_spans(_unique(request.records))
                except Exception as raised_one:
                    one = _as_refusal(raised_one)
                    logger.warning("could not store %d span(s): %s", len(request.records), one)
                    self._finish([request], one)
                else:
                    self._finish([request], None)
            return
        finally:
            self._last_write_ms = (time.perf_counter() - started) * 1000
        self._finish(group, None)

    def _finish(self, group: list[_Request], error: BaseException | None) -> None:
        spans = _count(group)
        with self._cond:
            self._queued -= spans
            if error is None:
                self._written += spans
                self._batches += 1
            else:
                self._failed += spans
        for request in group:
            try:
                if error is None:
                    request.future.set_result(None)
                else:
                    request.future.set_exception(error)
            except InvalidStateError:  # the submitter gave up (cancelled): nothing to tell
                pass


def _count(group: list[_Request]) -> int:
    return sum(len(r.records) for r in group)


def _unique(records: Any) -> list[SpanRecord]:
    """The records with duplicate (trace id, span id) pairs dropped: a client that sends a span
    twice, even within one transaction, must not make the insert fail."""
    seen: set[tuple[str, str]] = set()
    out: list[SpanRecord] = []
    for record in records:
        key = (record.trace_id, record.span_id)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


__all__ = ["IngestQueue", "QueueClosed", "QueueFull"]
