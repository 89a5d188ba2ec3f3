"""Concurrent logging from 8 processes (spawned, so nothing is shared but the database) to one
SQLite file, PostgreSQL and MariaDB: each process logs 200 metric points, params and tags to its
own run and to one shared run. Afterwards every count is exact, the latest metrics are right,
and no process saw an error (deadlock, "database is locked", duplicate key)."""

from __future__ import annotations

import logging
import multiprocessing
import traceback
from typing import Any

import sqlalchemy as sa

from llmtrace.store import Metric, SqlStore

WORKERS = 8
POINTS = 200
BATCH = 5


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying a tracking write" in record.getMessage():
            self.retries += 1


def _worker(url: str, worker: int, own: str, shared: str, barrier: Any, results: Any) -> None:
    """Log to `own` and `shared`; put (worker, retries, error or None) on `results`."""
    counter = _Counter()
    logger = logging.getLogger("llmtrace")
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    store = SqlStore(url, migrate=False)
    try:
        barrier.wait(timeout=60)
        store.log_batch(own, params={"worker": worker, "lr": 0.1}, tags={"worker": worker})
        for i in range(POINTS):
            # One transaction per point on the own run, batches of 5 on the shared one.
            store.log_metric(own, "loss", worker * 1000 + i, step=i, timestamp_ms=i)
            if i % BATCH == BATCH - 1:
                steps = range(i - BATCH + 1, i + 1)
                store.log_batch(
                    shared,
                    metrics=[
                        *(Metric("shared_loss", worker * 1000 + s, s, s) for s in steps),
                        *(Metric(f"w{worker}", float(s), s, s) for s in steps),
                    ],
                    # Every process logs the same "common": a no-op after the first.
                    params={"common": "same", f"p{worker}": worker} if i % 50 == 4 else {},
                    tags={"last": str(worker), f"t{worker}": str(i)},
                )
        results.put((worker, counter.retries, None))
    except BaseException:
        results.put((worker, counter.retries, traceback.format_exc()))
    finally:
        store.close()


def test_eight_processes_lose_nothing(migrated_db_url: str) -> None:
    store = SqlStore(migrated_db_url)
    try:
        exp_id = store.create_experiment("concurrency", artifact_location="/c")
        shared = store.create_run(exp_id, name="shared").run_id
        own = [store.create_run(exp_id, name=f"own-{w}").run_id for w in range(WORKERS)]
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(WORKERS)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_worker, args=(migrated_db_url, w, own[w], shared, barrier, results))
            for w in range(WORKERS)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=240) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        errors = [f"worker {w}:\n{err}" for w, _, err in outcomes if err]
        assert not errors, "\n".join(errors)
        assert [p.exitcode for p in procs] == [0] * WORKERS
        retries = sum(r for _, r, _ in outcomes)

        for w, run_id in enumerate(own):
            run = store.get_run(run_id)
            assert run.metrics == {"loss": float(w * 1000 + POINTS - 1)}
            assert run.params == {"worker": str(w), "lr": "0.1"}
            assert run.tags == {"worker": str(w)}
            history = store.get_metric_history(run_id, "loss")
            assert [m.step for m in history] == list(range(POINTS))

        run = store.get_run(shared)
        # Step 199 and timestamp 199 tie across workers: the larger value wins.
        expected = {"shared_loss": float((WORKERS - 1) * 1000 + POINTS - 1)}
        expected.update({f"w{w}": float(POINTS - 1) for w in range(WORKERS)})
        assert run.metrics == expected
        assert run.params == {"common": "same", **{f"p{w}": str(w) for w in range(WORKERS)}}
        assert run.tags["last"] in {str(w) for w in range(WORKERS)}
        assert {k: v for k, v in run.tags.items() if k != "last"} == {
            f"t{w}": str(POINTS - 1) for w in range(WORKERS)
        }
        assert len(store.get_metric_history(shared, "shared_loss")) == WORKERS * POINTS
        with store.engine.connect() as conn:
            total = conn.execute(sa.text("SELECT COUNT(*) FROM metrics")).scalar_one()
            latest = conn.execute(sa.text("SELECT COUNT(*) FROM latest_metrics")).scalar_one()
        assert total == WORKERS * POINTS * 3
        assert latest == WORKERS + 1 + WORKERS
        # Writers lock one run row before anything else: nothing to retry on the servers.
        if store.engine.dialect.name != "sqlite":
            assert retries == 0
    finally:
        store.close()
