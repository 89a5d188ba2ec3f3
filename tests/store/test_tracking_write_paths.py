"""The fast write paths of `log_batch`/`log_metric` on SQLite, PostgreSQL and MariaDB: the
latest-metric upsert (its ordering rule in SQL, with ties on step and timestamp, NaN and the
infinities against DBL_MAX), PostgreSQL's single-statement path on missing or deleted runs,
and `prepare_metrics` agreeing with `check_metric`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store import Metric, SqlStore
from llmtrace.store._tracking_read import latest_t
from llmtrace.store._tracking_values import (
    DBL_MAX,
    check_metric,
    encode_value,
    latest_key,
    prepare_metrics,
)

INF = math.inf
VALUES = [-INF, -DBL_MAX, -1.0, 0.0, 2.0, DBL_MAX, INF, math.nan]
POINTS = [(step, ts, v) for step in (0, 1) for ts in (0, 1) for v in VALUES]


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


@pytest.fixture
def exp_id(store: SqlStore) -> str:
    return store.create_experiment("exp", artifact_location="/art")


def _stored_latest(store: SqlStore, run_id: str) -> dict[str, tuple[Any, ...]]:
    t = latest_t.c
    q = sa.select(t.key, t.value, t.special, t.step, t.timestamp_ms).where(t.run_id == run_id)
    with store.engine.connect() as conn:
        return {k: (v, s, st, ts) for k, v, s, st, ts in conn.execute(q)}


def _expected(a: tuple[int, int, float], b: tuple[int, int, float]) -> tuple[Any, ...]:
    """The stored row after logging `a`, then `b`: `b` only if strictly later."""
    later = latest_key(*b) > latest_key(*a)
    step, ts, value = b if later else a
    return (*encode_value(value), step, ts)


def _pairs() -> list[tuple[str, tuple[int, int, float], tuple[int, int, float]]]:
    return [(f"k{i}", a, b) for i, (a, b) in enumerate(itertools.product(POINTS, POINTS))]


@pytest.mark.parametrize("extra", [False, True], ids=["metrics-only", "with-tag"])
def test_latest_upsert_follows_the_ordering_rule(store: SqlStore, exp_id: str, extra: bool) -> None:
    """Every ordered pair of points, the second logged in a later call (the SQL upsert) and
    in the same batch (picked in Python): the stored latest row is the same either way."""
    pairs = _pairs()
    tags = {"t": "v"} if extra else {}
    across = store.create_run(exp_id).run_id
    store.log_batch(across, metrics=[Metric(k, a[2], a[0], a[1]) for k, a, _ in pairs], tags=tags)
    store.log_batch(across, metrics=[Metric(k, b[2], b[0], b[1]) for k, _, b in pairs], tags=tags)
    within = store.create_run(exp_id).run_id
    store.log_batch(
        within,
        metrics=[Metric(k, p[2], p[0], p[1]) for k, a, b in pairs for p in (a, b)],
        tags=tags,
    )
    for run_id in (across, within):
        stored = _stored_latest(store, run_id)
        assert len(stored) == len(pairs)
        wrong = [
            (a, b, stored[k])
            for k, a, b in pairs
            if stored[k] != _expected(a, b) and not _same(stored[k], _expected(a, b))
        ]
        assert wrong == []
    # And what a reader sees.
    latest = store.get_run(across).metrics
    assert math.isnan(latest[pairs[-1][0]])  # (1, 1, NaN) twice


def _same(got: tuple[Any, ...], want: tuple[Any, ...]) -> bool:
    # DOUBLE columns may return DBL_MAX as a float that compares equal anyway; be exact on the
    # rest.
    return got[1:] == want[1:] and (got[0] == want[0] or (got[0] is None and want[0] is None))


def test_one_call_per_point_keeps_the_latest(store: SqlStore, exp_id: str) -> None:
    """Ties on step and timestamp, one `log_metric` per point (PostgreSQL: its one-statement
    path, in autocommit)."""
    run_id = store.create_run(exp_id).run_id
    sequence = [
        (3, 10, 1.0),
        (3, 10, 0.5),  # full tie, smaller: stays 1.0
        (3, 10, INF),  # larger
        (3, 10, DBL_MAX),  # smaller than inf: stays inf
        (3, 10, math.nan),  # NaN beats inf
        (3, 10, INF),  # stays NaN
        (3, 9, 5.0),  # earlier: stays NaN
        (3, 11, -INF),  # later timestamp wins whatever the value
        (3, 11, -DBL_MAX),  # -DBL_MAX > -inf
        (2, 99, 100.0),  # lower step: stays
        (4, 0, -1.0),  # higher step wins
    ]
    reference: tuple[int, int, float] | None = None
    for step, ts, value in sequence:
        store.log_metric(run_id, "m", value, step=step, timestamp_ms=ts)
        point = (step, ts, value)
        if reference is None or latest_key(*point) > latest_key(*reference):
            reference = point
        assert reference is not None
        assert _stored_latest(store, run_id)["m"] == (*encode_value(reference[2]), *reference[:2])
    assert store.get_run(run_id).metrics == {"m": -1.0}
    assert len(store.get_metric_history(run_id, "m")) == len(sequence)


def test_writes_to_a_missing_or_deleted_run_write_nothing(store: SqlStore, exp_id: str) -> None:
    run_id = store.create_run(exp_id).run_id
    points = [Metric("m", float(i), i, i) for i in range(50)]
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        store.log_batch("nope", metrics=points)
    store.delete_run(run_id)
    with pytest.raises(NotFoundError, match="is deleted; restore_run"):
        store.log_batch(run_id, metrics=points)
    store.restore_run(run_id)
    store.delete_experiment(exp_id)
    with pytest.raises(NotFoundError, match=r"experiment of run .* is deleted"):
        store.log_batch(run_id, metrics=points)
    with pytest.raises(NotFoundError, match=r"experiment of run .* is deleted"):
        store.log_metric(run_id, "m", 1.0)
    for tags in ({"t": "v"}, {"t": "v", "u": "w"}):
        with pytest.raises(NotFoundError, match=r"experiment of run .* is deleted"):
            store.log_batch(run_id, tags=tags)
        with pytest.raises(NotFoundError, match=r"experiment of run .* is deleted"):
            store.log_batch(run_id, metrics=points[:1], tags=tags)
    with store.engine.connect() as conn:
        for table in ("metrics", "latest_metrics", "run_tags"):
            assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one() == 0
    store.restore_experiment(exp_id)
    store.log_batch(run_id, metrics=points)
    assert store.get_run(run_id).metrics == {"m": 49.0}
    # Metrics and tags together (PostgreSQL: one statement); a tag set again is replaced.
    store.log_batch(run_id, metrics=[Metric("n", 1.0, 0, 0)], tags={"t": "1", "u": "2"})
    store.log_batch(run_id, metrics=[Metric("n", 2.0, 1, 0)], tags={"t": "3"})
    store.set_tag(run_id, "u", "4")
    run = store.get_run(run_id)
    assert run.tags == {"t": "3", "u": "4"}
    assert run.metrics == {"m": 49.0, "n": 2.0}
    history = store.get_metric_history(run_id, "m")
    assert [p.step for p in history] == list(range(50))


def test_mysql_metric_keys_equal_to_the_database_are_a_clear_error(
    store: SqlStore, exp_id: str
) -> None:
    """MariaDB ignores trailing spaces: its read-then-write path of `latest_metrics` says so
    and writes nothing; elsewhere 'lr ' and 'lr' are two keys."""
    run_id = store.create_run(exp_id).run_id
    store.log_metric(run_id, "lr", 1.0)
    if store.engine.dialect.name == "mysql":
        with pytest.raises(InvalidParameterError, match="metric key 'lr ' collides with"):
            store.log_metric(run_id, "lr ", 2.0)
        assert store.get_run(run_id).metrics == {"lr": 1.0}
        assert len(store.get_metric_history(run_id, "lr")) == 1
    else:
        store.log_metric(run_id, "lr ", 2.0)
        assert store.get_run(run_id).metrics == {"lr": 1.0, "lr ": 2.0}


class _Float(float):
    pass


def test_prepare_metrics_agrees_with_check_metric() -> None:
    raw: list[Any] = [
        Metric("a", 1.5, 2, 7),
        Metric("a", 3, 2, 7),  # int value
        Metric("b", _Float(0.25), 1),  # float subclass, no timestamp
        ("c", math.nan, 0, 1),
        {"key": "d", "value": -INF, "step": 5},
        ("e", 7),
        Metric("a", INF, 2, 7),
    ]
    rows = prepare_metrics(raw, 1234)
    checked = [check_metric(m, 1234) for m in raw]
    assert rows.keys == [m.key for m in checked]
    assert rows.steps == [m.step for m in checked]
    assert rows.stamps == [m.timestamp_ms for m in checked]
    encoded = [encode_value(m.value) for m in checked]
    assert rows.values == [v for v, _ in encoded]
    assert rows.specials == [s for _, s in encoded]
    assert all(type(v) is float for v in rows.values if v is not None)
    # The latest of each key: "a" is inf (full tie on step and timestamp, larger value).
    assert {k: rows.keys[i] == k for k, i in rows.latest.items()} == dict.fromkeys("abcde", True)
    assert rows.latest["a"] == 6


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (Metric("a", True), "must be a number"),
        (Metric("a", "1.0"), "must be a number"),  # type: ignore[arg-type]
        (Metric("a", 1.0, step=1.5), "step must be an integer"),  # type: ignore[arg-type]
        (Metric("a", 1.0, step=2**63), "step 9223372036854775808 is out of range"),
        (Metric("a", 1.0, 0, timestamp_ms=-(2**63) - 1), "timestamp_ms .* is out of range"),
        (Metric("", 1.0), "key must not be empty"),
        (Metric("../x", 1.0), "invalid metric key"),
        (("a",), "a metric must be a Metric"),
    ],
)
def test_prepare_metrics_rejects_what_check_metric_rejects(metric: Any, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        check_metric(metric, 0)
    with pytest.raises(InvalidParameterError, match=message):
        prepare_metrics([Metric("ok", 1.0), metric], 0)


def test_postgresql_one_statement_errors_are_wrapped_and_the_connection_reused(
    migrated_postgresql_url: str,
) -> None:
    """`_write_statement` (the driver's connection, autocommit): a failing statement raises
    SQLAlchemy's error class, is not retried, and the pooled connection is left as it was."""
    store = SqlStore(migrated_postgresql_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(sa.exc.DataError, match="division by zero"):
            store._write_statement("SELECT 1 / %(zero)s", {"zero": 0})
        exp_id = store.create_experiment("e", artifact_location="/a")
        run_id = store.create_run(exp_id).run_id
        with pytest.raises(InvalidParameterError):
            store.log_batch(run_id, metrics=[("m", 1.0)], params={"p": "1", "q": "x" * 7000})
        store.log_metric(run_id, "m", 1.0)
        with store.engine.connect() as conn:  # a transaction again, not autocommit
            conn.execute(sa.text("SELECT 1"))
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        assert store.get_run(run_id).metrics == {"m": 1.0}
    finally:
        store.close()
