"""Asynchronous logging: calls return at once, end_run flushes and raises errors, nothing is
dropped when the queue is full, one bad call fails alone."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

import llmtrace
from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store import Metric, Store
from llmtrace.tracking._async import AsyncLogger


def test_metrics_are_written_by_end_run(tracking: str) -> None:
    with llmtrace.start_run(log_async=True) as run:
        assert run.log_async
        for step in range(500):
            llmtrace.log_metric("loss", 1 / (step + 1), step=step)
        llmtrace.log_metrics({"nan": math.nan, "inf": math.inf}, step=1)
        llmtrace.log_params({"lr": 0.01, "epochs": 3})
        llmtrace.set_tags({"mode": "async"})
    stored = llmtrace.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.params == {"lr": "0.01", "epochs": "3"}
    assert stored.tags == {"mode": "async"}
    assert stored.metrics["loss"] == 1 / 500 and math.isnan(stored.metrics["nan"])
    history = llmtrace.TrackingClient().get_metric_history(run.run_id, "loss")
    assert [m.step for m in history] == list(range(500))


def test_timestamps_are_taken_at_the_call(tracking: str) -> None:
    with llmtrace.start_run(log_async=True) as run:
        before = int(time.time() * 1000)
        llmtrace.log_metric("x", 1.0)
        after = int(time.time() * 1000)
        time.sleep(0.05)
    (point,) = llmtrace.TrackingClient().get_metric_history(run.run_id, "x")
    assert point.timestamp_ms is not None and before - 1 <= point.timestamp_ms <= after + 1


def test_errors_are_raised_at_end_run_and_fail_the_run(tracking: str) -> None:
    run = llmtrace.start_run(log_async=True)
    llmtrace.log_param("lr", 0.1)
    llmtrace.log_metric("ok", 1.0)
    llmtrace.log_param("lr", 0.2)  # conflicts: fails in the background
    llmtrace.log_metric("ok", 2.0, step=1)
    with pytest.raises(InvalidParameterError, match="'lr'"):
        llmtrace.end_run()
    assert llmtrace.active_run() is None
    stored = llmtrace.get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert stored.params == {"lr": "0.1"}
    # Only the bad call was lost: the calls around it were written.
    history = llmtrace.TrackingClient().get_metric_history(run.run_id, "ok")
    assert [m.value for m in history] == [1.0, 2.0]


def test_with_block_raises_the_async_error(tracking: str) -> None:
    with pytest.raises(InvalidParameterError), llmtrace.start_run(log_async=True) as run:
        llmtrace.log_param("a", 1)
        llmtrace.log_param("a", 2)
    assert llmtrace.get_run(run.run_id).info.status == "FAILED"


def test_the_block_error_wins_over_async_errors(
    tracking: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(KeyError), llmtrace.start_run(log_async=True) as run:
        llmtrace.log_param("a", 1)
        llmtrace.log_param("a", 2)
        raise KeyError("the real problem")
    assert llmtrace.get_run(run.run_id).info.status == "FAILED"
    assert "ending run" in caplog.text


def test_bad_input_fails_at_the_call(tracking: str) -> None:
    with llmtrace.start_run(log_async=True):
        with pytest.raises(InvalidParameterError, match="must be a number"):
            llmtrace.log_metric("x", "nope")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="key"):
            llmtrace.log_param("", 1)
        with pytest.raises(InvalidParameterError, match="max 5000"):
            llmtrace.set_tag("t", "x" * 5001)


def test_async_mode_from_the_settings(
    configure_tracing: Any, migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMTRACE_ASYNC_LOGGING", "true")
    configure_tracing(store=migrated_sqlite_url)
    with llmtrace.start_run() as run:
        llmtrace.log_metric("x", 1)
    assert run.log_async
    with llmtrace.start_run(log_async=False) as sync_run:
        pass
    assert not sync_run.log_async
    monkeypatch.delenv("LLMTRACE_ASYNC_LOGGING")
    configure_tracing(store=migrated_sqlite_url, async_logging=True)
    with llmtrace.start_run() as run2:
        pass
    assert run2.log_async
    assert llmtrace.get_run(run.run_id).metrics == {"x": 1.0}


def test_logging_never_waits_for_a_slow_database(tracking: str) -> None:
    store = _SlowStore(llmtrace.get_store())
    logger = AsyncLogger()
    with llmtrace.start_run() as run:
        store.gate.clear()  # the database "hangs"
        started = time.perf_counter()
        for step in range(2000):
            logger.enqueue(store, run.run_id, metrics=[Metric("x", step, step, 1)])
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, elapsed
        store.gate.set()
        assert logger.flush(run.run_id) == []
    history = llmtrace.TrackingClient().get_metric_history(run.run_id, "x")
    assert len(history) == 2000
    # Consecutive calls of one run were merged into a few transactions.
    assert store.calls <= 5, store.calls


def test_a_full_queue_waits_instead_of_dropping(
    tracking: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = _SlowStore(llmtrace.get_store())
    logger = AsyncLogger(max_queue=3)
    with llmtrace.start_run() as run:
        store.gate.clear()
        logger.enqueue(store, run.run_id, metrics=[Metric("x", 0, 0, 1)])
        assert store.entered.wait(5)  # the writer holds call 0 and waits on the database
        done = threading.Event()

        def producer() -> None:
            for step in range(1, 10):
                logger.enqueue(store, run.run_id, metrics=[Metric("x", step, step, 1)])
            done.set()

        thread = threading.Thread(target=producer)
        thread.start()
        assert not done.wait(0.3)  # blocked: 3 queued, the 4th waits for room
        store.gate.set()
        thread.join(5)
        assert done.is_set()
        assert logger.flush(run.run_id) == []
    assert [m.step for m in llmtrace.TrackingClient().get_metric_history(run.run_id, "x")] == list(
        range(10)
    )
    assert "the queue is full (3 calls)" in caplog.text


def test_errors_of_other_runs_stay_with_them(tracking: str) -> None:
    logger = AsyncLogger()
    store = llmtrace.get_store()
    with llmtrace.start_run() as good, llmtrace.start_run(nested=True) as other:
        logger.enqueue(store, good.run_id, params={"a": "1"})
        logger.enqueue(store, "f" * 32, params={"a": "1"})
        logger.enqueue(store, other.run_id, params={"a": "1"})
        logger.enqueue(store, other.run_id, params={"a": "2"})
        assert logger.flush(good.run_id) == []
        (missing,) = logger.flush("f" * 32)
        assert isinstance(missing, NotFoundError)
        (conflict,) = logger.flush(other.run_id)
        assert isinstance(conflict, InvalidParameterError)
        assert logger.flush() == []


def test_errors_beyond_the_first_ten_are_counted(
    tracking: str, caplog: pytest.LogCaptureFixture
) -> None:
    logger = AsyncLogger()
    store = llmtrace.get_store()
    for i in range(15):
        logger.enqueue(store, "e" * 32, metrics=[Metric("x", i)])
    with caplog.at_level(logging.ERROR, logger="llmtrace"):
        errors = logger.flush("e" * 32)
    assert len(errors) == 10
    assert "5 more failed log call(s)" in caplog.text


class _SlowStore:
    """Wraps a store: `log_batch` waits for `gate` and counts its calls."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls = 0

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Any = (),
        params: Mapping[str, Any] | Any = (),
        tags: Mapping[str, Any] | Any = (),
    ) -> None:
        self.entered.set()
        assert self.gate.wait(10)
        self.calls += 1
        self.inner.log_batch(run_id, metrics=metrics, params=params, tags=tags)
