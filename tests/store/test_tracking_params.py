"""Params are immutable on every write path (PostgreSQL: one statement for `log_param`, one
statement in a transaction for batches; elsewhere: read after the run's lock), including
against a writer that commits the same key while this one waits for the run's lock, and
against many writers racing on one key."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store import Metric, SqlStore
from llmtrace.store._tracking_read import params_t


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


@pytest.fixture
def exp_id(store: SqlStore) -> str:
    return store.create_experiment("exp", artifact_location="/art")


def _params(store: SqlStore, run_id: str) -> dict[str, str]:
    return store.get_run(run_id).params


def _refusal(run_id: str, key: str, old: str, new: str) -> str:
    return re.escape(
        f"param {key!r} of run {run_id!r} is already {old!r}; params are immutable, so it "
        f"cannot become {new!r}"
    )


def test_log_param_new_same_and_other_value(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    store.log_param(run_id, "lr", 0.1)
    store.log_param(run_id, "lr", "0.1")  # the same text again: a no-op
    with pytest.raises(InvalidParameterError, match=_refusal(run_id, "lr", "0.1", "0.2")):
        store.log_param(run_id, "lr", 0.2)
    store.log_param(run_id, "layers", 4)
    assert _params(store, run_id) == {"lr": "0.1", "layers": "4"}


def test_a_refused_batch_of_params_writes_none_of_them(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    store.log_batch(run_id, params={"a": "1", "b": "2"})
    # Several params: one statement in a transaction on PostgreSQL; "c" is inserted by it
    # before "b" is found to differ, and must be rolled back.
    with pytest.raises(InvalidParameterError, match=_refusal(run_id, "b", "2", "3")):
        store.log_batch(run_id, params={"a": "1", "b": "3", "c": "4"})
    # One param with metrics and tags: the same, all or nothing.
    with pytest.raises(InvalidParameterError, match=_refusal(run_id, "a", "1", "9")):
        store.log_batch(run_id, metrics=[Metric("m", 1.0)], params={"a": "9"}, tags={"t": "v"})
    run = store.get_run(run_id)
    assert (run.params, run.metrics, run.tags) == ({"a": "1", "b": "2"}, {}, {})
    assert store.get_metric_history(run_id, "m") == []
    # Known and new params together, all values equal or new: the new ones are written.
    store.log_batch(run_id, params={"a": "1", "c": "4"}, metrics=[Metric("m", 2.0)])
    assert _params(store, run_id) == {"a": "1", "b": "2", "c": "4"}
    assert store.get_run(run_id).metrics == {"m": 2.0}


def test_log_param_to_a_missing_or_deleted_run(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        store.log_param("nope", "lr", 1)
    store.delete_run(run_id)
    with pytest.raises(NotFoundError, match="is deleted; restore_run"):
        store.log_param(run_id, "lr", 1)
    with pytest.raises(NotFoundError, match="is deleted; restore_run"):
        store.log_batch(run_id, params={"lr": 1, "k": 2})
    store.restore_run(run_id)
    store.delete_experiment(exp_id)
    with pytest.raises(NotFoundError, match=r"experiment of run .* is deleted"):
        store.log_param(run_id, "lr", 1)
    store.restore_experiment(exp_id)
    assert _params(store, run_id) == {}
    store.log_param(run_id, "lr", 1)
    assert _params(store, run_id) == {"lr": "1"}


def _wait_until_blocked(store: SqlStore, holder_pid: object) -> None:
    """Wait until some session waits for a lock held by `holder_pid` (PostgreSQL), so that the
    writer's statement surely started, and took its snapshot, before the holder commits."""
    q = sa.text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    deadline = time.monotonic() + 10
    with store.engine.connect() as conn:
        while conn.execute(q, {"pid": holder_pid}).scalar_one() == 0:
            assert time.monotonic() < deadline, "the writer never waited for the run's lock"
            time.sleep(0.01)
            conn.rollback()


@pytest.mark.parametrize("value", ["theirs", "mine"], ids=["other-value", "same-value"])
def test_a_param_committed_while_waiting_for_the_run_is_compared(
    store: SqlStore, exp_id: str, value: str
) -> None:
    """Another transaction holds the run's lock and stores the key; this writer, queued on the
    lock, must then refuse another value (PostgreSQL: a conflict that the statement's snapshot
    cannot see) and accept the same one."""
    run_id = store.create_run(exp_id).run_id
    backend = store.engine.dialect.name
    holder = sa.create_engine(store.engine.url)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            store.log_param(run_id, "k", "mine")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    writer = threading.Thread(target=write)
    try:
        with holder.connect() as conn:
            if backend == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.begin()
                q = sa.text("SELECT run_id FROM runs WHERE run_id = :r FOR UPDATE")
                conn.execute(q, {"r": run_id})
            conn.execute(sa.insert(params_t).values(run_id=run_id, key="k", value=value))
            writer.start()
            if backend == "postgresql":
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                _wait_until_blocked(store, pid)
            else:
                time.sleep(0.3)
            conn.commit()
        writer.join(30)
    finally:
        holder.dispose()
    assert not writer.is_alive()
    (error,) = outcome
    if value == "mine":
        assert error is None
    else:
        assert isinstance(error, InvalidParameterError)
        assert re.search(_refusal(run_id, "k", "theirs", "mine"), str(error))
    assert _params(store, run_id) == {"k": value}


def test_racing_writers_of_one_key_one_value_wins(store: SqlStore, exp_id: str) -> None:
    """Eight threads log the same key at once, half with one value, half with another: the
    value stored first stays, every writer of it succeeds, every other one is refused."""
    run_id = store.create_run(exp_id).run_id
    writers = 8
    barrier = threading.Barrier(writers)
    results: dict[int, BaseException | None] = {}

    def write(i: int) -> None:
        barrier.wait(10)
        try:
            store.log_param(run_id, "k", f"v{i % 2}")
            results[i] = None
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stored = _params(store, run_id)["k"]
    winner = int(stored[1])
    for i, error in results.items():
        if i % 2 == winner:
            assert error is None, f"writer {i}: {error!r}"
        else:
            assert isinstance(error, InvalidParameterError), f"writer {i}: {error!r}"
            assert f"is already {stored!r}" in str(error)
    assert len(results) == writers
