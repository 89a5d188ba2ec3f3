"""Experiment tracking behaviours, run through `SqlStore` and through `RestStore` against a live
server, on SQLite, PostgreSQL and MariaDB: the same test body passes both ways."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from llmtrace.exceptions import AlreadyExistsError, InvalidParameterError, NotFoundError
from llmtrace.store import Metric, SqlStore
from tests.server._tracking_helpers import remote_store
from tests.server.conftest import LiveServer

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sql", "rest"])
def store(
    request: pytest.FixtureRequest,
    migrated_db_url: str,
    live_server: Callable[..., LiveServer],
) -> Iterator[Any]:
    """A `SqlStore` on the test database, or a `RestStore` of a live server on it."""
    if request.param == "sql":
        sql = SqlStore(migrated_db_url)
        yield sql
        sql.close()
        return
    rest = remote_store(live_server(migrated_db_url).url)
    yield rest
    rest.close()


def test_experiment_lifecycle(store: Any) -> None:
    exp = store.create_experiment("lifecycle", artifact_location="/data/a", tags={"k": "v"})
    assert store.get_experiment(exp).name == "lifecycle"
    assert store.get_experiment_by_name("lifecycle").experiment_id == exp
    assert store.get_experiment_by_name("Lifecycle") is None
    with pytest.raises(AlreadyExistsError, match="already exists"):
        store.create_experiment("lifecycle", artifact_location="/data/b")
    store.rename_experiment(exp, "renamed")
    store.set_experiment_tag(exp, "owner", "ada")
    store.delete_experiment_tag(exp, "k")
    got = store.get_experiment(exp)
    assert (got.name, got.tags) == ("renamed", {"owner": "ada"})
    assert got.updated_at >= got.created_at
    store.delete_experiment(exp)
    assert store.list_experiments() == []
    assert [e.experiment_id for e in store.list_experiments(view="deleted")] == [exp]
    with pytest.raises(NotFoundError, match="deleted"):
        store.create_run(exp)
    store.restore_experiment(exp)
    assert store.create_run(exp).info.experiment_id == exp


def test_log_and_read_a_run(store: Any) -> None:
    exp = store.create_experiment("log", artifact_location="/data")
    run = store.create_run(exp, name="base", start_time=T0, tags={"team": "x"})
    assert run.info.artifact_uri == f"/data/{run.run_id}/artifacts"
    assert run.info.start_time == T0 and run.info.status == "RUNNING"
    store.log_batch(
        run.run_id,
        metrics=[Metric("loss", 1.0, 0, 10), Metric("loss", 0.5, 3, 5), Metric("loss", 0.7, 2, 99)],
        params={"lr": 0.01},
        tags={"team": "y"},
    )
    store.log_metric(run.run_id, "acc", 0.9, step=1)
    store.log_param(run.run_id, "lr", "0.01")
    with pytest.raises(InvalidParameterError, match="immutable"):
        store.log_param(run.run_id, "lr", 0.02)
    store.set_tag(run.run_id, "a/b", "c")
    got = store.get_run(run.run_id)
    assert got.metrics == {"loss": 0.5, "acc": 0.9}  # highest step wins
    assert got.params == {"lr": "0.01"}
    assert got.tags == {"team": "y", "a/b": "c"}
    steps = [(m.step, m.value) for m in store.get_metric_history(run.run_id, "loss")]
    assert steps == [(0, 1.0), (2, 0.7), (3, 0.5)]
    info = store.update_run(run.run_id, status="FAILED", end_time=T0 + timedelta(seconds=3))
    assert (info.status, info.duration_ms) == ("FAILED", 3000.0)
    assert store.get_run(run.run_id).info == info


def test_non_finite_values(store: Any) -> None:
    exp = store.create_experiment("nan", artifact_location="/data")
    run = store.create_run(exp).run_id
    store.log_batch(run, metrics=[("a", math.nan), ("b", math.inf), ("c", -math.inf)])
    got = store.get_run(run).metrics
    assert math.isnan(got["a"]) and got["b"] == math.inf and got["c"] == -math.inf
    assert math.isnan(store.get_metric_history(run, "a")[0].value)
    assert [r.run_id for r in store.search_runs([exp], "metrics.c < -1e308")] == [run]


def test_pages_of_runs(store: Any) -> None:
    exp = store.create_experiment("pages", artifact_location="/data")
    ids = []
    for i in range(11):
        run = store.create_run(exp, name=f"r{i:02d}", start_time=T0 + timedelta(seconds=i))
        store.log_metric(run.run_id, "m", float(i % 4))
        ids.append(run.run_id)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = store.search_runs(
            [exp], order_by=["metrics.m desc", "name"], limit=4, page_token=token
        )
        pages += 1
        seen += [r.info.name for r in page]
        token = page.next_page_token
        if token is None:
            break
    assert pages == 3
    expected = sorted((f"r{i:02d}" for i in range(11)), key=lambda n: (-(int(n[1:]) % 4), n))
    assert seen == expected
    newest = store.search_runs([exp], limit=2)
    assert [r.run_id for r in newest] == [ids[10], ids[9]]


def test_deleted_runs(store: Any) -> None:
    exp = store.create_experiment("deleted", artifact_location="/data")
    keep, drop = store.create_run(exp).run_id, store.create_run(exp).run_id
    store.delete_run(drop)
    assert [r.run_id for r in store.search_runs([exp])] == [keep]
    assert [r.run_id for r in store.search_runs([exp], view="deleted")] == [drop]
    assert store.get_run(drop).info.lifecycle_stage == "deleted"
    with pytest.raises(NotFoundError, match="deleted"):
        store.log_metric(drop, "m", 1.0)
    store.restore_run(drop)
    store.log_metric(drop, "m", 1.0)
    assert len(store.search_runs([exp], view="all")) == 2


def test_concurrent_writers_lose_nothing(store: Any) -> None:
    exp = store.create_experiment("concurrent", artifact_location="/data")
    run = store.create_run(exp).run_id
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for step in range(10):
                store.log_batch(run, metrics=[(f"w{worker}", float(step), step)])
                store.set_tag(run, f"t{worker}", str(step))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = store.get_run(run)
    assert got.metrics == {f"w{w}": 9.0 for w in range(4)}
    assert got.tags == {f"t{w}": "9" for w in range(4)}
    assert len(store.get_metric_history(run, "w0")) == 10
