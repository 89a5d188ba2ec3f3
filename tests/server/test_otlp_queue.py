"""The ingest queue on a real SQLite store: group commit, back-pressure, failure isolation,
draining on stop, duplicates."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.exc import DataError, OperationalError

from llmtrace.server.otlp import IngestQueue, QueueClosed, QueueFull, to_records
from llmtrace.store import SpanRecord, SqlStore
from tests.server._otlp_helpers import HeldStore, make_request, make_span, trace_id, wait_until


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    db = SqlStore(f"sqlite:///{tmp_path / 'q.db'}")
    yield db
    db.close()


def records(n: int, trace: bytes | None = None) -> list[SpanRecord]:
    tid = trace or trace_id()
    return to_records(make_request(*(make_span(f"s{i}", trace=tid) for i in range(n)))).records


def test_submit_resolves_once_committed(store: SqlStore) -> None:
    queue = IngestQueue(store, max_spans=100)
    queue.start()
    batch = records(3)
    queue.submit(batch).result(timeout=10)
    assert store.count_spans(batch[0].trace_id) == 3  # acknowledged = queryable
    assert queue.submit([]).result(timeout=1) is None
    queue.stop()
    stats = queue.stats()
    assert (stats["written_spans"], stats["queued_spans"], stats["failed_spans"]) == (3, 0, 0)


def test_waiting_requests_are_written_in_one_transaction(store: SqlStore) -> None:
    held = HeldStore(store)
    queue = IngestQueue(held, max_spans=1000)  # type: ignore[arg-type]
    with held.hold():
        first = queue.submit(records(1))
        wait_until(held.entered.is_set)  # the writer is inside the first write
        later = [queue.submit(records(5)) for _ in range(4)]
        assert queue.stats()["queued_spans"] == 21
    for future in [first, *later]:
        future.result(timeout=10)
    assert held.calls == [1, 20]  # group commit: the four waiting requests together
    queue.stop()


def test_full_queue_refuses_with_retry_advice(store: SqlStore) -> None:
    held = HeldStore(store)
    queue = IngestQueue(held, max_spans=10, retry_after=2.5)  # type: ignore[arg-type]
    with held.hold():
        # A request larger than the whole queue is still taken when the queue is empty.
        big = queue.submit(records(15))
        with pytest.raises(QueueFull) as err:
            queue.submit(records(1))
        assert err.value.retry_after == 2.5
        with pytest.raises(QueueFull):
            queue.check_room()  # what receivers ask before reading a body
    big.result(timeout=10)
    queue.check_room()
    queue.submit(records(10)).result(timeout=10)  # room again once written
    stats = queue.stats()
    assert (stats["rejected_spans"], stats["written_spans"]) == (1, 25)
    queue.stop()


def test_a_refused_request_does_not_fail_the_others(store: SqlStore) -> None:
    held = HeldStore(store)
    poison = records(2)
    poisoned_trace = poison[0].trace_id

    def refuse(batch: Sequence[SpanRecord]) -> Exception | None:
        if any(r.trace_id == poisoned_trace for r in batch):
            return DataError("INSERT", {}, Exception("value too long"))
        return None

    held.fail_with = refuse
    queue = IngestQueue(held, max_spans=1000)  # type: ignore[arg-type]
    with held.hold():
        blocker = queue.submit(records(1))
        wait_until(held.entered.is_set)
        good = queue.submit(records(3))
        bad = queue.submit(poison)
        other = queue.submit(records(4))
    blocker.result(timeout=10)
    good.result(timeout=10)
    other.result(timeout=10)
    with pytest.raises(DataError):
        bad.result(timeout=10)
    assert held.calls == [1, 9, 3, 2, 4]  # the group failed, then each request alone
    stats = queue.stats()
    assert (stats["written_spans"], stats["failed_spans"], stats["queued_spans"]) == (8, 2, 0)
    queue.stop()


def test_an_unavailable_database_fails_the_group_without_retrying_each(store: SqlStore) -> None:
    held = HeldStore(store)
    queue = IngestQueue(held, max_spans=1000)  # type: ignore[arg-type]
    with held.hold():
        blocker = queue.submit(records(1))
        wait_until(held.entered.is_set)
        held.fail_with = OperationalError("INSERT", {}, Exception("connection refused"))
        waiting = [queue.submit(records(2)) for _ in range(3)]
    with pytest.raises(OperationalError):
        blocker.result(timeout=10)
    for future in waiting:
        with pytest.raises(OperationalError):
            future.result(timeout=10)
    assert held.calls == [1, 6]
    held.fail_with = None
    queue.submit(records(1)).result(timeout=10)  # and the queue goes on once it is back
    queue.stop()


def test_a_row_over_mysql_max_allowed_packet_is_refused_not_retried(store: SqlStore) -> None:
    # MySQL reports "packet too large" as an OperationalError (error 1153); treated as "database
    # unavailable" it would answer 503 and the exporter would retry the same spans forever.
    held = HeldStore(store)
    queue = IngestQueue(held, max_spans=1000)  # type: ignore[arg-type]
    held.fail_with = OperationalError(
        "INSERT", {}, Exception(1153, "Got a packet bigger than 'max_allowed_packet' bytes")
    )
    with pytest.raises(DataError):
        queue.submit(records(1)).result(timeout=10)
    held.fail_with = OperationalError("INSERT", {}, Exception(2003, "Can't connect"))
    with pytest.raises(OperationalError):
        queue.submit(records(1)).result(timeout=10)
    queue.stop()


def test_stop_drains_then_refuses(store: SqlStore) -> None:
    held = HeldStore(store)
    queue = IngestQueue(held, max_spans=1000)  # type: ignore[arg-type]
    with held.hold():
        futures = [queue.submit(records(2)) for _ in range(5)]
        wait_until(held.entered.is_set)
    queue.stop()
    assert all(f.done() and f.exception() is None for f in futures)
    assert store.count_spans() == 10
    with pytest.raises(QueueClosed):
        queue.submit(records(1))


def test_duplicates_within_and_across_requests_are_stored_once(store: SqlStore) -> None:
    held = HeldStore(store)
    queue = IngestQueue(held, max_spans=1000)  # type: ignore[arg-type]
    batch = records(3)
    with held.hold():
        first = queue.submit(batch + batch[:1])
        wait_until(held.entered.is_set)
        again = [queue.submit(batch) for _ in range(2)]
    for future in [first, *again]:
        future.result(timeout=10)
    assert store.count_spans(batch[0].trace_id) == 3
    assert store.get_trace(batch[0].trace_id).info.span_count == 3
    queue.stop()


def test_a_cancelled_waiter_does_not_break_the_writer(store: SqlStore) -> None:
    held = HeldStore(store)
    queue = IngestQueue(held, max_spans=1000)  # type: ignore[arg-type]
    with held.hold():
        gone = queue.submit(records(1))
        wait_until(held.entered.is_set)
        assert gone.cancel() or gone.done()
    queue.submit(records(1)).result(timeout=10)  # the writer is still alive
    assert queue.stats()["written_spans"] == 2
    queue.stop()
