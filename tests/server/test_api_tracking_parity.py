"""`RestStore` and `SqlStore` side by side on one database (SQLite, PostgreSQL, MariaDB): the
REST client writes through a live server, and every read and every refused call gives the same
result both ways — equal entities (aware UTC datetimes, NaN and infinities included), the same
exception type and the same message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import methodcaller
from typing import Any

import pytest

from llmtrace.exceptions import (
    AlreadyExistsError,
    FilterSyntaxError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
)
from llmtrace.store import Metric, RestStore, SqlStore
from tests.server._tracking_helpers import plain, remote_store, same
from tests.server.conftest import LiveServer

T0 = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
Op = Callable[[Any], Any]


@dataclass
class Pair:
    rest: RestStore
    sql: SqlStore

    def outcome(self, op: Op, store: Any) -> tuple[str, Any]:
        try:
            return "ok", plain(op(store))
        except Exception as exc:
            return type(exc).__name__, str(exc)

    def check(self, op: Op) -> Any:
        """Run a read (or a refused write) both ways; assert the same outcome; return the REST
        result."""
        rest, sql = self.outcome(op, self.rest), self.outcome(op, self.sql)
        assert rest == sql
        if rest[0] == "ok":
            result = op(self.rest)
            assert same(result, op(self.sql))
            return result
        return rest

    def refuses(self, op: Op, error: type[Exception]) -> str:
        """Both refuse `op` with `error` and the same message; returns the message."""
        with pytest.raises(error) as rest_exc:
            op(self.rest)
        with pytest.raises(error) as sql_exc:
            op(self.sql)
        assert type(rest_exc.value) is type(sql_exc.value)
        assert str(rest_exc.value) == str(sql_exc.value)
        return str(rest_exc.value)


@pytest.fixture
def pair(server: LiveServer) -> Iterator[Pair]:
    rest = remote_store(server.url)
    yield Pair(rest, server.store)
    rest.close()


def test_experiments_read_the_same(pair: Pair, server: LiveServer) -> None:
    rest = pair.rest
    first = rest.create_experiment("rag tuning", tags={"team": "search", "n": 5})
    explicit = rest.create_experiment(
        "explicit", artifact_location="s3://bucket/prefix", experiment_id="a" * 32
    )
    assert explicit == "a" * 32
    exp = pair.check(lambda s: s.get_experiment(first))
    assert exp.tags == {"team": "search", "n": "5"}
    assert exp.artifact_location == f"{server.config.artifacts}/{first}"
    assert exp.created_at.tzinfo is timezone.utc
    assert pair.check(lambda s: s.get_experiment(explicit)).artifact_location == (
        "s3://bucket/prefix"
    )
    rest.rename_experiment(first, "rag/tuning v2")
    rest.set_experiment_tag(first, "a/b.c", "x y")
    rest.set_experiment_tag(first, "..weird key%2F", 1.5)
    rest.delete_experiment_tag(first, "team")
    rest.delete_experiment_tag(first, "never set")
    renamed = pair.check(lambda s: s.get_experiment_by_name("rag/tuning v2"))
    assert renamed.tags == {"a/b.c": "x y", "..weird key%2F": "1.5", "n": "5"}
    assert pair.check(lambda s: s.get_experiment_by_name("rag tuning")) is None
    rest.delete_experiment(explicit)
    for view in ("active", "deleted", "all"):
        pair.check(methodcaller("list_experiments", view=view))
    assert [e.name for e in rest.list_experiments(view="deleted")] == ["explicit"]
    assert pair.check(lambda s: s.get_experiment_by_name("explicit")).lifecycle_stage == ("deleted")
    rest.restore_experiment(explicit)
    assert [e.name for e in rest.list_experiments()] == ["rag/tuning v2", "explicit"]


def test_experiment_errors_are_the_same(pair: Pair) -> None:
    first = pair.rest.create_experiment("taken")
    gone = pair.rest.create_experiment("gone")
    pair.rest.delete_experiment(gone)
    assert "already exists" in pair.refuses(
        lambda s: s.create_experiment("taken", artifact_location="/x"), AlreadyExistsError
    )
    assert "restore or rename it" in pair.refuses(
        lambda s: s.create_experiment("gone", artifact_location="/x"), AlreadyExistsError
    )
    pair.refuses(lambda s: s.create_experiment("  ", artifact_location="/x"), InvalidParameterError)
    pair.refuses(
        lambda s: s.create_experiment("n", artifact_location="/x", experiment_id="XYZ"),
        InvalidParameterError,
    )
    pair.refuses(
        lambda s: s.create_experiment("n", artifact_location="/x", tags={"/abs": 1}),
        InvalidParameterError,
    )
    pair.refuses(lambda s: s.rename_experiment(first, "gone"), AlreadyExistsError)
    pair.refuses(lambda s: s.rename_experiment("0" * 32, "x"), NotFoundError)
    pair.refuses(lambda s: s.get_experiment("nope"), NotFoundError)
    pair.refuses(lambda s: s.set_experiment_tag(gone, "k", "v"), NotFoundError)
    pair.refuses(lambda s: s.set_experiment_tag(first, "k", "v" * 5001), InvalidParameterError)
    pair.refuses(lambda s: s.list_experiments(view="archived"), InvalidQueryError)


def test_runs_read_the_same(pair: Pair) -> None:
    rest = pair.rest
    exp = rest.create_experiment("runs")
    parent = rest.create_run(exp, name="parent", start_time=T0, tags={"stage": "dev"})
    assert same(parent, pair.sql.get_run(parent.run_id))
    child = rest.create_run(
        exp, parent_run_id=parent.run_id, user_id="ada", start_time=T0 + timedelta(seconds=1)
    )
    assert child.info.parent_run_id == parent.run_id
    assert child.info.name  # generated
    rest.log_batch(
        parent.run_id,
        metrics=[Metric("loss", 0.5, 0, 1000), ("loss", 0.25, 1, 2000), {"key": "acc", "value": 1}],
        params={"lr": 0.001, "model": "gpt-4o-mini", "long": "x" * 6000},
        tags=[("stage", "prod"), ("note", "a\nb")],
    )
    rest.log_metric(parent.run_id, "loss", 0.125, step=2, timestamp_ms=3000)
    rest.log_param(parent.run_id, "lr", 0.001)  # same value again: a no-op
    rest.set_tag(parent.run_id, "path/like.key", "v")
    rest.delete_run_tag(parent.run_id, "note")
    run = pair.check(lambda s: s.get_run(parent.run_id))
    assert run.params == {"lr": "0.001", "model": "gpt-4o-mini", "long": "x" * 6000}
    assert run.metrics == {"loss": 0.125, "acc": 1.0}
    assert run.tags == {"stage": "prod", "path/like.key": "v"}
    history = pair.check(lambda s: s.get_metric_history(parent.run_id, "loss"))
    assert [(m.value, m.step, m.timestamp_ms) for m in history] == [
        (0.5, 0, 1000),
        (0.25, 1, 2000),
        (0.125, 2, 3000),
    ]
    assert pair.check(lambda s: s.get_metric_history(parent.run_id, "never")) == []
    info = rest.update_run(parent.run_id, status="finished", end_time=T0 + timedelta(minutes=2))
    assert info == pair.sql.get_run(parent.run_id).info
    assert info.duration_ms == 120_000.0
    assert info.end_time == T0 + timedelta(minutes=2)
    renamed = rest.update_run(child.run_id, name="renamed")
    assert renamed.name == "renamed" and renamed.status == "RUNNING"
    rest.delete_run(child.run_id)
    assert pair.check(lambda s: s.get_run(child.run_id)).info.lifecycle_stage == "deleted"
    for view in ("active", "deleted", "all"):
        pair.check(methodcaller("search_runs", [exp], view=view))
    rest.restore_run(child.run_id)
    assert pair.check(lambda s: s.get_run(child.run_id)).info.lifecycle_stage == "active"


def test_non_finite_metrics_round_trip(pair: Pair) -> None:
    rest = pair.rest
    exp = rest.create_experiment("nan")
    run = rest.create_run(exp).run_id
    rest.log_metric(run, "nan", math.nan)
    rest.log_metric(run, "inf", math.inf)
    rest.log_batch(run, metrics=[("ninf", -math.inf), ("big", 1.7976931348623157e308)])
    rest.log_batch(run, metrics=[Metric("tiny", 5e-324), Metric("third", 1 / 3)])
    got = pair.check(lambda s: s.get_run(run)).metrics
    assert math.isnan(got["nan"])
    assert got["inf"] == math.inf and got["ninf"] == -math.inf
    assert got["big"] == 1.7976931348623157e308 and got["tiny"] == 5e-324
    assert got["third"] == 1 / 3  # exact: JSON numbers carry the shortest round-trip form
    for key in ("nan", "inf", "ninf"):
        pair.check(methodcaller("get_metric_history", run, key))
    found = pair.check(lambda s: s.search_runs([exp], "metrics.inf > 1e308"))
    assert [r.run_id for r in found] == [run]
    assert not pair.check(lambda s: s.search_runs([exp], "metrics.nan > 0"))


def test_run_errors_are_the_same(pair: Pair) -> None:
    rest = pair.rest
    exp = rest.create_experiment("errors")
    gone_exp = rest.create_experiment("gone")
    rest.delete_experiment(gone_exp)
    run = rest.create_run(exp, start_time=T0).run_id
    deleted = rest.create_run(exp).run_id
    rest.delete_run(deleted)
    rest.log_param(run, "lr", "0.1")
    naive = datetime(2025, 1, 1)
    message = pair.refuses(lambda s: s.log_param(run, "lr", "0.2"), InvalidParameterError)
    assert "immutable" in message and "'0.2'" in message
    pair.refuses(
        lambda s: s.log_batch(run, metrics=[("m", 1.0)], params={"lr": 0.3}), InvalidParameterError
    )
    assert "m" not in pair.sql.get_run(run).metrics  # all or nothing
    pair.refuses(lambda s: s.log_batch(run, params=[("k", 1), ("k", 2)]), InvalidParameterError)
    pair.refuses(lambda s: s.log_metric(run, "m", "high"), InvalidParameterError)
    pair.refuses(lambda s: s.log_metric(run, "m", True), InvalidParameterError)
    pair.refuses(lambda s: s.log_metric(run, "a/../b", 1.0), InvalidParameterError)
    pair.refuses(lambda s: s.log_metric(run, "m", 1.0, step=1.5), InvalidParameterError)
    pair.refuses(lambda s: s.log_metric(run, "m", 1.0, step=2**63), InvalidParameterError)
    pair.refuses(lambda s: s.set_tag(run, "", "v"), InvalidParameterError)
    pair.refuses(lambda s: s.set_tag(run, "k" * 251, "v"), InvalidParameterError)
    pair.refuses(lambda s: s.log_param(run, "p", "v" * 6001), InvalidParameterError)
    pair.refuses(lambda s: s.log_metric(deleted, "m", 1.0), NotFoundError)
    pair.refuses(lambda s: s.set_tag(deleted, "k", "v"), NotFoundError)
    pair.refuses(lambda s: s.delete_run_tag(deleted, "k"), NotFoundError)
    pair.refuses(lambda s: s.log_metric("f" * 32, "m", 1.0), NotFoundError)
    pair.refuses(lambda s: s.get_run("f" * 32), NotFoundError)
    pair.refuses(lambda s: s.get_metric_history("f" * 32, "m"), NotFoundError)
    pair.refuses(lambda s: s.update_run(run, status="DONE"), InvalidParameterError)
    pair.refuses(lambda s: s.update_run(run, end_time=T0 - timedelta(1)), InvalidParameterError)
    pair.refuses(lambda s: s.update_run(run, end_time=naive), InvalidParameterError)
    pair.refuses(lambda s: s.update_run(deleted, status="FAILED"), NotFoundError)
    pair.refuses(lambda s: s.create_run(exp, start_time=naive), InvalidParameterError)
    pair.refuses(lambda s: s.create_run(exp, name="n" * 256), InvalidParameterError)
    pair.refuses(lambda s: s.create_run(exp, tags={"..": 1}), InvalidParameterError)
    pair.refuses(lambda s: s.create_run("0" * 32), NotFoundError)
    pair.refuses(lambda s: s.create_run(gone_exp), NotFoundError)
    pair.refuses(lambda s: s.create_run(exp, parent_run_id="0" * 32), NotFoundError)
    pair.refuses(lambda s: s.delete_run("0" * 32), NotFoundError)
    pair.refuses(lambda s: s.restore_run("0" * 32), NotFoundError)


def test_search_reads_the_same_page_by_page(pair: Pair) -> None:
    rest = pair.rest
    exp = rest.create_experiment("search")
    other = rest.create_experiment("other")
    for i in range(9):
        run = rest.create_run(exp if i % 3 else other, name=f"run-{i}", start_time=T0).run_id
        metrics = [("score", float(i % 4))] if i != 4 else [("score", math.nan)]
        rest.log_batch(run, metrics=metrics, params={"k": i % 2}, tags={"i": str(i)})
    queries: list[dict[str, Any]] = [
        {},
        {"order_by": ["metrics.score desc", "name"]},
        {"order_by": "params.k", "filter": "tags.i != '3'"},
        {"filter": "metrics.score >= 1 and params.k = '1'", "order_by": ["start_time"]},
    ]
    for query in queries:
        pages = {}
        for name, store in (("rest", rest), ("sql", pair.sql)):
            token, seen = None, []
            while True:
                page = store.search_runs([exp, other], limit=2, page_token=token, **query)
                assert len(page) <= 2
                seen.append(plain(page))
                token = page.next_page_token
                if token is None:
                    break
            pages[name] = seen
        assert pages["rest"] == pages["sql"]
    everything = rest.search_runs([exp, other], order_by="metrics.score desc", limit=100)
    assert len(everything) == 9
    assert math.isnan(everything[-1].metrics["score"])  # NaN sorts last
    assert pair.check(lambda s: s.search_runs(exp, "name = 'run-1'"))[0].info.name == "run-1"


def test_search_errors_are_the_same(pair: Pair) -> None:
    exp = pair.rest.create_experiment("search errors")
    for i in range(3):
        pair.rest.create_run(exp, name=f"r{i}")
    token = pair.rest.search_runs([exp], limit=1).next_page_token
    assert token
    error = pair.refuses(lambda s: s.search_runs([exp], "metrics.x >"), FilterSyntaxError)
    assert error.endswith("\n" + " " * 11 + "^")
    with pytest.raises(FilterSyntaxError) as info:
        pair.rest.search_runs([exp], "status = 'x' and and")
    assert info.value.position == 17 and info.value.filter == "status = 'x' and and"
    pair.refuses(lambda s: s.search_runs([exp], order_by=["colour"]), InvalidQueryError)
    pair.refuses(lambda s: s.search_runs([exp], limit=0), InvalidQueryError)
    pair.refuses(lambda s: s.search_runs([exp], limit=10_001), InvalidQueryError)
    pair.refuses(lambda s: s.search_runs([exp], view="gone"), InvalidQueryError)
    pair.refuses(lambda s: s.search_runs([], None), InvalidQueryError)
    pair.refuses(lambda s: s.search_runs(["0" * 32]), NotFoundError)
    pair.refuses(lambda s: s.search_runs([exp], "name = 'r1'", page_token=token), InvalidQueryError)
    pair.refuses(lambda s: s.search_runs([exp], page_token="garbage!"), InvalidQueryError)
