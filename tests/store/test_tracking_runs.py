"""Runs in `SqlStore` on SQLite, PostgreSQL and MariaDB: lifecycle and duration, params
(immutable), metrics (NaN/inf, history, latest), tags, `log_batch` atomicity, bad input."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store import Metric, Param, Run, RunInfo, SqlStore
from llmtrace.store._tracking_values import DBL_MAX

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


@pytest.fixture
def exp_id(store: SqlStore) -> str:
    return store.create_experiment("exp", artifact_location="file:///art/")


def _count(store: SqlStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_create_run(store: SqlStore, exp_id: str) -> None:
    run = store.create_run(
        exp_id, name="first", start_time=T0, tags={"team": "search"}, user_id="ada"
    )
    assert isinstance(run, Run)
    info = run.info
    assert re.fullmatch(r"[0-9a-f]{32}", info.run_id)
    assert info.artifact_uri == f"file:///art/{info.run_id}/artifacts"
    assert (info.name, info.status, info.start_time, info.user_id) == (
        "first",
        "RUNNING",
        T0,
        "ada",
    )
    assert (info.end_time, info.duration_ms, info.lifecycle_stage) == (None, None, "active")
    assert (run.params, run.metrics, run.tags) == ({}, {}, {"team": "search"})
    assert store.get_run(info.run_id) == run

    child = store.create_run(exp_id, parent_run_id=info.run_id)
    assert child.info.parent_run_id == info.run_id
    # Generated names look like "bright-owl-417".
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", child.info.name)
    assert abs(child.info.start_time - datetime.now(timezone.utc)) < timedelta(minutes=1)

    with pytest.raises(NotFoundError, match="parent run 'nope' not found"):
        store.create_run(exp_id, parent_run_id="nope")
    with pytest.raises(NotFoundError, match="experiment 'nope' not found"):
        store.create_run("nope")
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        store.get_run("nope")
    with pytest.raises(InvalidParameterError, match="timezone-aware"):
        store.create_run(exp_id, start_time=datetime(2026, 1, 1))
    with pytest.raises(InvalidParameterError, match="run name must be a non-empty string"):
        store.create_run(exp_id, name="")
    assert _count(store, "runs") == 2


def test_update_run_lifecycle_and_duration(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id, start_time=T0).run_id
    info = store.update_run(run_id, name="renamed")
    assert (info.name, info.status, info.end_time) == ("renamed", "RUNNING", None)

    info = store.update_run(run_id, status="finished", end_time=T0 + timedelta(seconds=2.5))
    assert isinstance(info, RunInfo)
    assert (info.status, info.end_time, info.duration_ms) == (
        "FINISHED",
        T0 + timedelta(seconds=2.5),
        2500.0,
    )
    assert store.get_run(run_id).info == info

    # Another terminal status keeps the end time; RUNNING again clears it.
    assert store.update_run(run_id, status="FAILED").end_time == T0 + timedelta(seconds=2.5)
    resumed = store.update_run(run_id, status="RUNNING")
    assert (resumed.end_time, resumed.duration_ms) == (None, None)
    # A terminal status without an end time ends the run now.
    killed = store.update_run(run_id, status="KILLED")
    assert killed.end_time is not None
    assert abs(killed.end_time - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert killed.duration_ms == (killed.end_time - T0).total_seconds() * 1000

    with pytest.raises(InvalidParameterError, match="unknown run status 'DONE'"):
        store.update_run(run_id, status="DONE")
    with pytest.raises(InvalidParameterError, match="before the run's start_time"):
        store.update_run(run_id, end_time=T0 - timedelta(seconds=1))
    with pytest.raises(NotFoundError):
        store.update_run("nope", status="FINISHED")


def test_delete_and_restore_run(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    store.delete_run(run_id)
    store.delete_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == "deleted"
    assert store.search_runs(exp_id) == []
    assert [r.run_id for r in store.search_runs(exp_id, view="deleted")] == [run_id]
    for write in (
        lambda: store.log_metric(run_id, "m", 1.0),
        lambda: store.log_param(run_id, "p", 1),
        lambda: store.set_tag(run_id, "t", "v"),
        lambda: store.delete_run_tag(run_id, "t"),
        lambda: store.update_run(run_id, status="FINISHED"),
    ):
        with pytest.raises(NotFoundError, match="is deleted; restore_run"):
            write()
    store.restore_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.run_id for r in store.search_runs(exp_id)] == [run_id]
    with pytest.raises(NotFoundError):
        store.delete_run("nope")
    with pytest.raises(NotFoundError):
        store.restore_run("nope")
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        store.log_batch("nope", metrics=[Metric("m", 1.0)])


def test_params_are_immutable(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    store.log_param(run_id, "lr", 0.01)
    store.log_batch(run_id, params=[Param("lr", "0.01"), Param("layers", "4")])  # same: no-op
    assert store.get_run(run_id).params == {"lr": "0.01", "layers": "4"}

    message = (
        f"param 'lr' of run '{run_id}' is already '0.01'; params are immutable, so it cannot "
        "become '0.02'"
    )
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        store.log_batch(
            run_id,
            metrics=[Metric("loss", 1.0)],
            params={"new": "x", "lr": 0.02},
            tags={"t": "v"},
        )
    # Nothing of the failed batch was written.
    assert store.get_run(run_id).params == {"lr": "0.01", "layers": "4"}
    assert store.get_run(run_id).metrics == {}
    assert store.get_run(run_id).tags == {}
    assert _count(store, "metrics") == 0

    with pytest.raises(InvalidParameterError, match="given twice in one batch"):
        store.log_batch(run_id, params=[("a", "1"), ("a", "2")])
    store.log_batch(run_id, params=[("a", "1"), ("a", "1")])
    assert store.get_run(run_id).params["a"] == "1"


def test_metrics_nan_and_infinities_round_trip(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    values = [float("nan"), float("inf"), float("-inf"), 0.0, -0.5, 1e-300, DBL_MAX, 2.0**0.5]
    store.log_batch(
        run_id, metrics=[Metric(f"m{i}", v, step=0, timestamp_ms=5) for i, v in enumerate(values)]
    )
    latest = store.get_run(run_id).metrics
    assert set(latest) == {f"m{i}" for i in range(len(values))}
    assert math.isnan(latest["m0"])
    assert [latest[f"m{i}"] for i in range(1, len(values))] == values[1:]
    history = store.get_metric_history(run_id, "m1")
    assert history == [Metric("m1", math.inf, 0, 5)]
    # A NaN history point stays NaN, next to ordinary ones.
    store.log_metric(run_id, "m0", 3.0, step=1, timestamp_ms=6)
    points = store.get_metric_history(run_id, "m0")
    assert [p.step for p in points] == [0, 1]
    assert math.isnan(points[0].value) and points[1].value == 3.0
    assert store.get_run(run_id).metrics["m0"] == 3.0
    # DBL_MAX itself is not infinity.
    assert store.get_run(run_id).metrics["m6"] == DBL_MAX


def test_latest_metric_is_highest_step_then_timestamp(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    store.log_metric(run_id, "loss", 0.5, step=5, timestamp_ms=100)
    store.log_metric(run_id, "loss", 0.1, step=4, timestamp_ms=999)  # lower step: not latest
    assert store.get_run(run_id).metrics["loss"] == 0.5
    store.log_metric(run_id, "loss", 0.4, step=5, timestamp_ms=101)  # same step, later
    assert store.get_run(run_id).metrics["loss"] == 0.4
    store.log_metric(run_id, "loss", 0.3, step=5, timestamp_ms=100)  # same step, earlier
    assert store.get_run(run_id).metrics["loss"] == 0.4
    store.log_metric(run_id, "loss", 0.9, step=5, timestamp_ms=101)  # full tie: larger wins
    assert store.get_run(run_id).metrics["loss"] == 0.9
    # NaN counts as the largest value in a full tie, and a later point replaces it.
    store.log_metric(run_id, "loss", float("nan"), step=5, timestamp_ms=101)
    store.log_metric(run_id, "loss", 7.0, step=5, timestamp_ms=101)
    assert math.isnan(store.get_run(run_id).metrics["loss"])
    store.log_metric(run_id, "loss", 0.2, step=5, timestamp_ms=102)
    assert store.get_run(run_id).metrics["loss"] == 0.2
    # Within one batch too, whatever the order of the points.
    store.log_batch(
        run_id,
        metrics=[
            Metric("acc", 0.7, 2, 10),
            Metric("acc", 0.9, 3, 5),
            Metric("acc", 0.8, 1, 50),
        ],
    )
    assert store.get_run(run_id).metrics["acc"] == 0.9
    history = store.get_metric_history(run_id, "loss")
    values = [(m.step, m.timestamp_ms, None if math.isnan(m.value) else m.value) for m in history]
    assert values == [
        (4, 999, 0.1),
        (5, 100, 0.5),
        (5, 100, 0.3),
        (5, 101, 0.4),
        (5, 101, 0.9),
        (5, 101, None),
        (5, 101, 7.0),
        (5, 102, 0.2),
    ]
    assert store.get_metric_history(run_id, "never") == []
    with pytest.raises(NotFoundError):
        store.get_metric_history("nope", "loss")


def test_metric_timestamp_defaults_to_now(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    before = int(datetime.now(timezone.utc).timestamp() * 1000)
    store.log_batch(run_id, metrics=[("m", 1), {"key": "n", "value": 2.5, "step": 3}])
    after = int(datetime.now(timezone.utc).timestamp() * 1000)
    (point,) = store.get_metric_history(run_id, "n")
    assert (point.value, point.step) == (2.5, 3)
    assert point.timestamp_ms is not None and before <= point.timestamp_ms <= after
    assert store.get_run(run_id).metrics == {"m": 1.0, "n": 2.5}


def test_log_batch_many_points_in_one_transaction(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    points = [Metric(f"k{i % 7}", float(i), step=i, timestamp_ms=i) for i in range(1000)]
    store.log_batch(
        run_id,
        metrics=points,
        params={f"p{i}": i for i in range(300)},
        tags={f"t{i}": "v" for i in range(250)},
    )
    run = store.get_run(run_id)
    assert len(run.params) == 300 and len(run.tags) == 250
    assert run.metrics == {
        f"k{j}": float(max(i for i in range(1000) if i % 7 == j)) for j in range(7)
    }
    assert _count(store, "metrics") == 1000
    assert len(store.get_metric_history(run_id, "k3")) == len(range(3, 1000, 7))


def test_tags_update_and_delete(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id, tags={"a": "1"}).run_id
    store.set_tag(run_id, "a", "2")
    store.set_tag(run_id, "b", True)
    store.log_batch(run_id, tags=[("c", "x"), ("c", "y")])  # the later value wins
    assert store.get_run(run_id).tags == {"a": "2", "b": "True", "c": "y"}
    store.delete_run_tag(run_id, "a")
    store.delete_run_tag(run_id, "never set")
    assert store.get_run(run_id).tags == {"b": "True", "c": "y"}
    with pytest.raises(NotFoundError):
        store.delete_run_tag("nope", "b")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"params": {"": "v"}}, "param key must not be empty"),
        ({"params": {"k" * 251: "v"}}, "is 251 characters long \\(max 250\\)"),
        ({"params": {"k": "v" * 6001}}, "param 'k' has a value of 6001 characters \\(max 6000\\)"),
        ({"tags": {"k": "v" * 5001}}, "tag 'k' has a value of 5001 characters \\(max 5000\\)"),
        ({"tags": {"/abs": "v"}}, "invalid tag key '/abs'"),
        ({"params": {"a/../b": "v"}}, "invalid param key 'a/../b'"),
        ({"params": {"a\0b": "v"}}, "no NUL"),
        ({"metrics": [Metric("m", "1.0")]}, "metric 'm' must be a number, got '1.0'"),  # type: ignore[arg-type]
        ({"metrics": [Metric("m", True)]}, "metric 'm' must be a number"),
        ({"metrics": [Metric("m", 1.0, step=1.5)]}, "step must be an integer"),  # type: ignore[arg-type]
        ({"metrics": [Metric("m", 1.0, step=2**63)]}, "step 9223372036854775808 is out of range"),
        ({"metrics": ["m"]}, "a metric must be a Metric"),
        ({"tags": {3: "v"}}, "tag key must be a string, got int"),
    ],
)
def test_bad_input_is_rejected_before_writing(
    sqlite_url: str, kwargs: dict[str, object], message: str
) -> None:
    store = SqlStore(sqlite_url)
    try:
        run_id = store.create_run(store.create_experiment("e", artifact_location="/a")).run_id
        batch: dict[str, object] = {"metrics": [Metric("ok", 1.0)], **kwargs}
        with pytest.raises(InvalidParameterError, match=message):
            store.log_batch(run_id, **batch)  # type: ignore[arg-type]
        assert store.get_run(run_id).metrics == {}
    finally:
        store.close()


def test_keys_with_dots_spaces_and_unicode(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    keys = ["val.loss", "val loss", "über/métrique", "a..b", "x" * 250]
    store.log_batch(
        run_id,
        metrics=[Metric(k, 1.0) for k in keys],
        params={k: "é" * 6000 for k in keys},
        tags={k: "ü" * 5000 for k in keys},
    )
    run = store.get_run(run_id)
    assert sorted(run.metrics) == sorted(keys)
    assert run.params == {k: "é" * 6000 for k in keys}
    assert run.tags == {k: "ü" * 5000 for k in keys}


def test_keys_differing_only_in_case_are_distinct(store: SqlStore, exp_id: str) -> None:
    """Keys, names and values compare exactly on every backend (MySQL/MariaDB columns use the
    binary collation; their default one folds case)."""
    run_id = store.create_run(exp_id).run_id
    store.log_batch(run_id, metrics=[Metric("loss", 1.0)], params={"lr": "1"}, tags={"env": "a"})
    store.log_batch(run_id, metrics=[Metric("Loss", 2.0)], params={"LR": "2"}, tags={"ENV": "b"})
    store.create_experiment("EXP", artifact_location="/a")
    run = store.get_run(run_id)
    assert (run.params, run.metrics, run.tags) == (
        {"lr": "1", "LR": "2"},
        {"loss": 1.0, "Loss": 2.0},
        {"env": "a", "ENV": "b"},
    )
    assert len(store.get_metric_history(run_id, "loss")) == 1
    found = store.search_runs([exp_id], "params.lr = '1' and tags.ENV = 'b'")
    assert [r.run_id for r in found] == [run_id]
    assert store.search_runs([exp_id], "tags.env = 'A'") == []


def test_keys_the_database_sees_as_equal_are_a_clear_error(store: SqlStore, exp_id: str) -> None:
    """MySQL/MariaDB ignore trailing spaces when comparing (PAD SPACE): 'lr ' is 'lr' there."""
    run_id = store.create_run(exp_id).run_id
    store.log_batch(run_id, params={"lr": "1"})
    if store.engine.dialect.name == "mysql":
        with pytest.raises(InvalidParameterError, match="param key 'lr ' collides with"):
            store.log_batch(run_id, params={"lr ": "2"})
        assert store.get_run(run_id).params == {"lr": "1"}
    else:
        store.log_batch(run_id, params={"lr ": "2"})
        assert store.get_run(run_id).params == {"lr": "1", "lr ": "2"}


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_lock_timeout_is_retried(request: pytest.FixtureRequest, backend: str) -> None:
    """A writer that times out waiting for a run's lock runs its transaction again."""
    url: str = request.getfixturevalue(f"migrated_{backend}_url")
    if backend == "postgresql":
        connect_args: dict[str, object] = {"options": "-c lock_timeout=100"}
    else:
        connect_args = {"init_command": "SET SESSION innodb_lock_wait_timeout = 1"}
    store = SqlStore(url, connect_args=connect_args)
    holder = sa.create_engine(url)
    try:
        run_id = store.create_run(store.create_experiment("e", artifact_location="/a")).run_id
        retried: list[str] = []

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                retried.append(record.getMessage())

        handler = Handler(logging.DEBUG)
        logger = logging.getLogger("llmtrace")
        old_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        locked = threading.Event()

        def hold_lock() -> None:
            with holder.begin() as conn:
                q = sa.text("SELECT run_id FROM runs WHERE run_id = :r FOR UPDATE")
                conn.execute(q, {"r": run_id})
                locked.set()
                time.sleep(0.4 if backend == "postgresql" else 1.6)

        thread = threading.Thread(target=hold_lock)
        thread.start()
        try:
            assert locked.wait(10)
            store.log_metric(run_id, "m", 1.0)
        finally:
            thread.join()
            logger.removeHandler(handler)
            logger.setLevel(old_level)
        assert store.get_run(run_id).metrics == {"m": 1.0}
        assert any("retrying a tracking write" in m for m in retried)
    finally:
        store.close()
        holder.dispose()
