"""The peer's side of the tracking benchmark (`bench_tracking.py`): MLflow run tracking.

Runs with the interpreter of `bench/.venv-mlflow` (see setup_peer.sh) against the tracking URI
it is given (a SQLite file or a PostgreSQL database), and prints one JSON line:

    python peer_mlflow_tracking.py --uri sqlite:////tmp/x/mlflow.db --params 100 \
        --points 10000 --keys 10 --batch 1000 --runs 10000 --metrics 20 --repeats 20

(a) one run gets `--params` params and `--points` metric points (`--keys` keys, step-major),
first one call per value (`log_param`, `log_metric`), then in a second run with `log_batch`
(the params in one call, the points in calls of `--batch`). (b) `--runs` runs with `--metrics`
metrics each are written straight into MLflow's tables with SQLAlchemy Core bulk inserts on its
store's own engine and models (its API needs ~20-30 ms per run here, minutes for 10,000), then
`search_runs` is timed. The data of (b) comes from `search_dataset`, which `bench_tracking.py`
imports too, so both systems search the same values.

Only the standard library is imported at module level: llmtrace's benchmark imports this file
for `search_dataset` and the filter constants.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# The search of (b), in each system's syntax (the same in both here).
SEARCH_FILTER = "metrics.m0 > 0.5"
SEARCH_ORDER_MLFLOW = "metrics.m1 DESC"
SEARCH_ORDER_LLMTRACE = "metrics.m1 desc"
PAGE = 100
PARAMS_PER_RUN = 5
BASE_MS = 1_750_000_000_000  # start time of run 0 (2025-06-15), one second apart


@dataclass(frozen=True)
class SearchRun:
    """One run of the search data set."""

    index: int
    name: str
    start_ms: int
    metrics: list[float]
    params: dict[str, str]
    stage: str


def search_dataset(runs: int, metrics: int, seed: int = 4) -> Iterator[SearchRun]:
    """The runs of (b): metric m<j> uniform in [0, 1), five params, a `stage` tag."""
    rng = random.Random(seed)
    models = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku", "llama-3.1-8b")
    for i in range(runs):
        yield SearchRun(
            index=i,
            name=f"run-{i:05d}",
            start_ms=BASE_MS + i * 1000,
            metrics=[rng.random() for _ in range(metrics)],
            params={
                "lr": f"{(i % 10 + 1) / 1000:g}",
                "batch_size": str(2 ** (i % 6 + 3)),
                "model": models[i % len(models)],
                "k": str(i % 8 + 1),
                "seed": str(i),
            },
            stage="prod" if i % 3 == 0 else "dev",
        )


def log_values(
    params: int, points: int, keys: int
) -> tuple[dict[str, str], list[tuple[str, float, int]]]:
    """(a)'s params and metric points (key, value, step), step-major like a training loop."""
    param_map = {f"param_{i:03d}": f"value-{i}" for i in range(params)}
    steps = points // keys
    series = [(f"m{k}", (s * keys + k) / points, s) for s in range(steps) for k in range(keys)]
    return param_map, series


def _median_ms(call: Callable[[], Any], runs: int) -> float:
    call()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples)


def _setup(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(uri)
    from mlflow import MlflowClient

    return MlflowClient()


def bench_log(
    client: Any, artifacts: str, params: int, points: int, keys: int, batch: int
) -> dict[str, Any]:
    """(a): one run logged call by call, another with log_batch; counts checked."""
    from mlflow.entities import Metric, Param

    exp = client.create_experiment("log-bench", artifact_location=artifacts)
    param_map, series = log_values(params, points, keys)
    out: dict[str, Any] = {"params": params, "points": len(series), "keys": keys, "batch": batch}

    run = client.create_run(exp).info.run_id
    param_ns: list[int] = []
    metric_ns: list[int] = []
    clock = time.perf_counter_ns
    t0 = time.perf_counter()
    for key, text in param_map.items():
        c0 = clock()
        client.log_param(run, key, text)
        param_ns.append(clock() - c0)
    t1 = time.perf_counter()
    for key, value, step in series:
        c0 = clock()
        client.log_metric(run, key, value, step=step)
        metric_ns.append(clock() - c0)
    t2 = time.perf_counter()
    out["loop"] = {
        "params_s": t1 - t0,
        "metrics_s": t2 - t1,
        "total_s": t2 - t0,
        # The median call: without the first calls' warm-up (connection, plan caches).
        "param_median_us": statistics.median(param_ns) / 1000,
        "metric_median_us": statistics.median(metric_ns) / 1000,
    }
    out["loop"]["stored_points"] = sum(
        len(client.get_metric_history(run, f"m{k}")) for k in range(keys)
    )
    out["loop"]["stored_params"] = len(client.get_run(run).data.params)

    run = client.create_run(exp).info.run_id
    t0 = time.perf_counter()
    client.log_batch(run, params=[Param(k, v) for k, v in param_map.items()])
    for i in range(0, len(series), batch):
        now = int(time.time() * 1000)
        chunk = [Metric(k, v, now, s) for k, v, s in series[i : i + batch]]
        client.log_batch(run, metrics=chunk)
    t1 = time.perf_counter()
    out["batch"] = {"total_s": t1 - t0}
    out["batch"]["stored_points"] = sum(
        len(client.get_metric_history(run, f"m{k}")) for k in range(keys)
    )
    out["batch"]["stored_params"] = len(client.get_run(run).data.params)
    return out


def _populate(client: Any, exp_id: str, artifacts: str, runs: int, metrics: int) -> None:
    """Bulk-insert the data set into MLflow's tables (its own models and engine)."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )

    store = client._tracking_client.store
    tables = {
        "runs": SqlRun.__table__,
        "tags": SqlTag.__table__,
        "params": SqlParam.__table__,
        "metrics": SqlMetric.__table__,
        "latest_metrics": SqlLatestMetric.__table__,
    }
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}

    def flush(conn: sa.Connection) -> None:
        for name, table in tables.items():  # parents first (foreign keys)
            if rows[name]:
                conn.execute(sa.insert(table), rows[name])
                rows[name].clear()

    with store.engine.begin() as conn:
        for r in search_dataset(runs, metrics):
            run_uuid = f"{r.index:032x}"
            rows["runs"].append(
                {
                    "run_uuid": run_uuid,
                    "name": r.name,
                    "source_type": "LOCAL",
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": "bench",
                    "status": "FINISHED",
                    "start_time": r.start_ms,
                    "end_time": r.start_ms + 500,
                    "deleted_time": None,
                    "source_version": "",
                    "lifecycle_stage": "active",
                    "artifact_uri": f"{artifacts}/{run_uuid}/artifacts",
                    "experiment_id": int(exp_id),
                }
            )
            tags = {"mlflow.runName": r.name, "mlflow.user": "bench", "stage": r.stage}
            rows["tags"] += [{"key": k, "value": v, "run_uuid": run_uuid} for k, v in tags.items()]
            rows["params"] += [
                {"key": k, "value": v, "run_uuid": run_uuid} for k, v in r.params.items()
            ]
            for j, value in enumerate(r.metrics):
                point = {
                    "key": f"m{j}",
                    "value": value,
                    "timestamp": r.start_ms + 400,
                    "step": 0,
                    "is_nan": False,
                    "run_uuid": run_uuid,
                }
                rows["metrics"].append(point)
                rows["latest_metrics"].append(dict(point))
            if len(rows["runs"]) == 500:
                flush(conn)
        flush(conn)


def _analyze(client: Any) -> None:
    engine = client._tracking_client.store.engine
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def bench_search(
    client: Any, artifacts: str, runs: int, metrics: int, repeats: int
) -> dict[str, Any]:
    """(b): populate, then time the first search, and the first and second page as loaded
    and after ANALYZE."""
    exp = client.create_experiment("search-bench", artifact_location=artifacts)
    t0 = time.perf_counter()
    _populate(client, exp, artifacts, runs, metrics)
    populate_s = time.perf_counter() - t0
    sample = client.get_run(f"{runs // 2:032x}")
    assert len(sample.data.metrics) == metrics and len(sample.data.params) == PARAMS_PER_RUN

    def page(token: str | None = None) -> Any:
        return client.search_runs(
            [exp],
            SEARCH_FILTER,
            order_by=[SEARCH_ORDER_MLFLOW],
            max_results=PAGE,
            page_token=token,
        )

    t0 = time.perf_counter()
    first = page()  # the first search after populating, as llmtrace's benchmark times it
    first_call_ms = (time.perf_counter() - t0) * 1000
    second = page(first.token)
    out: dict[str, Any] = {
        "runs": runs,
        "metrics": metrics,
        "populate_s": populate_s,
        "first_call_ms": first_call_ms,
        "populate_path": "SQLAlchemy Core bulk inserts into MLflow's tables (its models, engine)",
        "first_page_names": [r.info.run_name for r in first],
        "second_page_names": [r.info.run_name for r in second],
    }
    for label in ("as_loaded", "analyzed"):
        if label == "analyzed":
            _analyze(client)
        out[label] = {
            "first_page_ms": _median_ms(page, repeats),
            "second_page_ms": _median_ms(lambda: page(first.token), repeats),
        }
    return out


def main() -> None:
    """Parse the arguments, run (a) and (b), print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True, help="MLflow tracking URI (database)")
    parser.add_argument("--params", type=int, default=100)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    t0 = time.perf_counter()
    client = _setup(args.uri)
    artifacts = tempfile.mkdtemp(prefix="llmtrace-bench-mlflow-artifacts-")
    client.search_experiments()  # the store is created (migrated) here
    out: dict[str, Any] = {"startup_s": time.perf_counter() - t0}
    out["log"] = bench_log(client, artifacts, args.params, args.points, args.keys, args.batch)
    out["search"] = bench_search(client, artifacts, args.runs, args.metrics, args.repeats)
    out["mlflow_version"] = sys.modules["mlflow"].__version__
    out["sqlalchemy_version"] = sys.modules["sqlalchemy"].__version__
    out["python"] = sys.version.split()[0]
    print(json.dumps(out))
    sys.stdout.flush()
    shutil.rmtree(artifacts, ignore_errors=True)
    os._exit(0)  # skip MLflow's exit hooks: everything is written


if __name__ == "__main__":
    main()
