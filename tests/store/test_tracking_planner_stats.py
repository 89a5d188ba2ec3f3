"""PostgreSQL without planner statistics (a bulk load; autovacuum off or not yet around): the
first `search_runs` analyses the tracking tables once, returns the right runs, and the search
then reads its page off the `(key, value, run_id)` index; small tables are left alone and
looked at again later; a failing ANALYZE never fails the search."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from llmtrace.store import SqlStore, _tracking_stats

RUNS = 3000
METRICS = 5


@pytest.fixture
def store(postgresql_url: str) -> Iterator[SqlStore]:
    # A new database (not the emptied one other tests share): tables never analysed.
    s = SqlStore(postgresql_url)
    yield s
    s.close()


def _bulk_load(store: SqlStore, exp_id: str, runs: int, seed: int = 7) -> dict[str, list[float]]:
    """`runs` runs with metrics m0..m4 straight into the tables; {run_id: values}."""
    rng = random.Random(seed)
    values = {f"{seed:04d}{i:028x}": [rng.random() for _ in range(METRICS)] for i in range(runs)}
    run_rows = [
        {
            "run_id": rid,
            "experiment_id": exp_id,
            "name": f"run-{i}",
            "status": "FINISHED",
            "start_time": "2025-01-01",
            "lifecycle_stage": "active",
            "artifact_uri": f"/a/{rid}",
        }
        for i, rid in enumerate(values)
    ]
    metric_rows = [
        {"run_id": rid, "key": f"m{j}", "value": v, "step": 0, "timestamp_ms": 0}
        for rid, vs in values.items()
        for j, v in enumerate(vs)
    ]
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time, "
                "lifecycle_stage, artifact_uri) VALUES (:run_id, :experiment_id, :name, "
                ":status, :start_time, :lifecycle_stage, :artifact_uri)"
            ),
            run_rows,
        )
        conn.execute(
            sa.text(
                "INSERT INTO latest_metrics (run_id, key, value, step, timestamp_ms) "
                "VALUES (:run_id, :key, :value, :step, :timestamp_ms)"
            ),
            metric_rows,
        )
    return values


def _analysed(store: SqlStore) -> set[str]:
    q = "SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema()"
    with store.engine.connect() as conn:
        return set(conn.exec_driver_sql(q).scalars())


class _Statements:
    """The statements an engine runs (with their parameters), while attached."""

    def __init__(self, engine: sa.Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _c: Any, _cur: Any, statement: str, params: Any, *_rest: Any) -> None:
        self.seen.append((statement, params))

    def analyses(self) -> int:
        return sum(s.lstrip().upper().startswith("ANALYZE") for s, _ in self.seen)

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def _expected(values: dict[str, list[float]], limit: int) -> list[str]:
    """Runs with m0 > 0.5, by m1 descending then run_id descending."""
    hits = [(vs[1], rid) for rid, vs in values.items() if vs[0] > 0.5]
    return [rid for _, rid in sorted(hits, reverse=True)[:limit]]


def test_first_search_after_a_bulk_load_analyses_once_and_uses_the_index(store: SqlStore) -> None:
    exp_id = store.create_experiment("bulk", artifact_location="/a")
    values = _bulk_load(store, exp_id, RUNS)
    assert not _analysed(store) & {"runs", "latest_metrics"}
    statements = _Statements(store.engine)
    try:
        page = store.search_runs([exp_id], "metrics.m0 > 0.5", order_by="metrics.m1 desc", limit=20)
        assert [r.info.run_id for r in page] == _expected(values, 20)
        assert statements.analyses() == 1
        assert {"runs", "latest_metrics"} <= _analysed(store)
        # The page's main query, as the search ran it: an index scan in the order asked for.
        main = next(
            (s, p) for s, p in statements.seen if "ORDER BY" in s and "latest_metrics AS o0" in s
        )
        statements.seen.clear()
        again = store.search_runs(
            [exp_id], "metrics.m0 > 0.5", order_by="metrics.m1 desc", limit=20
        )
        assert [r.info.run_id for r in again] == _expected(values, 20)
        assert statements.analyses() == 0
    finally:
        statements.close()
    with store.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        plan = "\n".join(r[0] for r in driver.execute("EXPLAIN " + main[0], main[1]))
    assert "ix_latest_metrics_key_value_run_id" in plan, plan
    assert "Sort" not in plan.splitlines()[1], plan  # no sort of every matching run


def test_small_tables_are_left_alone_and_checked_again(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_tracking_stats, "RECHECK_S", 0.0)
    exp_id = store.create_experiment("small", artifact_location="/a")
    _bulk_load(store, exp_id, 20, seed=1)
    statements = _Statements(store.engine)
    try:
        assert len(store.search_runs([exp_id], limit=5)) == 5
        assert statements.analyses() == 0
        values = _bulk_load(store, exp_id, RUNS, seed=2)
        page = store.search_runs([exp_id], "metrics.m0 > 0.5", order_by="metrics.m1 desc")
        assert statements.analyses() == 1
        # Runs of seed 1 take part in the search too: compare only the bulk's best ones.
        assert [r.info.run_id for r in page][:3] == _expected(values, 3)
    finally:
        statements.close()


def test_a_failing_analyze_never_fails_the_search(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """ANALYZE waits for a lock that a concurrent VACUUM would hold: after its lock timeout
    the search goes on without statistics, and does not try again."""
    monkeypatch.setattr(_tracking_stats, "LOCK_TIMEOUT_MS", 100)
    exp_id = store.create_experiment("locked", artifact_location="/a")
    values = _bulk_load(store, exp_id, RUNS)
    holder = sa.create_engine(store.engine.url)
    try:
        with holder.begin() as conn, caplog.at_level(logging.WARNING, logger="llmtrace"):
            conn.exec_driver_sql("LOCK TABLE latest_metrics IN SHARE UPDATE EXCLUSIVE MODE")
            page = store.search_runs(
                [exp_id], "metrics.m0 > 0.5", order_by="metrics.m1 desc", limit=10
            )
        assert [r.info.run_id for r in page] == _expected(values, 10)
        assert "could not analyse the tracking tables" in caplog.text
        statements = _Statements(store.engine)
        try:
            store.search_runs([exp_id], limit=1)
            assert statements.analyses() == 0
        finally:
            statements.close()
    finally:
        holder.dispose()


def test_other_backends_never_analyse(migrated_db_url: str) -> None:
    store = SqlStore(migrated_db_url)
    statements = _Statements(store.engine)
    try:
        exp_id = store.create_experiment("e", artifact_location="/a")
        store.search_runs([exp_id])
        if store.engine.dialect.name != "postgresql":
            assert store._planner_stats is None
            assert statements.analyses() == 0
    finally:
        statements.close()
        store.close()
