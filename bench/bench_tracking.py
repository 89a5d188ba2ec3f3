"""(e) Experiment tracking beside MLflow: logging one run, and `search_runs` over many runs.

(a) One run gets 100 params and 10,000 metric points (10 keys x 1,000 steps): first one call
per value (`log_param`, `log_metric` through `TrackingClient`), then in a second run with
`log_batch` (the params in one call, the points in batches of 1,000). The stored counts are
checked afterwards. Per call: the mean (the loop's wall time / calls, warm-up included) and
the median of the calls, each timed on its own.
(b) 10,000 runs x 20 metrics (plus 5 params and a tag each), then `search_runs` with the filter
`metrics.m0 > 0.5`, ordered by `metrics.m1 desc`, 100 per page: median of `--repeats` runs of
the first page and of the second (its page token), as loaded and after `ANALYZE`. Both systems
get the same values (`peer_mlflow_tracking.search_dataset`) and must return the same pages.
The very first search after populating is timed on its own too ("first search"): on a
PostgreSQL database without planner statistics it includes what the store pays once for them
(llmtrace's first `search_runs` analyses tracking tables that were never analysed), so the
"as loaded" medians that follow run with those statistics; the JSON says which tables had
statistics before and after that first search.

Each backend — SQLite files in a temporary folder, and PostgreSQL (two throwaway databases,
`llmtrace_bench_<hex>` and `mlflow_bench_<hex>`, dropped afterwards) — is measured for llmtrace
and then for MLflow (`peer_mlflow_tracking.py` in bench/.venv-mlflow) in the same run.
llmtrace is populated through its API (`create_run`, `log_batch`, `update_run`); MLflow's API
takes ~20-30 ms per run here, so its tables are bulk-inserted through its own SQLAlchemy
models. Populating is reported, not compared.

Usage: python bench/bench_tracking.py [--quick] [--[no-]peer] [--backends sqlite,postgresql]
                                      [--runs 10000] [--points 10000] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from _common import (
    BENCH_DIR,
    PEER_MISSING,
    PEER_OFF,
    PG_ADMIN_URL,
    add_common_args,
    peer_python,
    print_table,
    version_of,
    want_peer,
    write_json,
)
from peer_mlflow_tracking import (
    PAGE,
    PARAMS_PER_RUN,
    SEARCH_FILTER,
    SEARCH_ORDER_LLMTRACE,
    log_values,
    search_dataset,
)

from llmtrace.store import Metric, SqlStore
from llmtrace.store._engine import normalize_url
from llmtrace.tracking import TrackingClient

PEER_SCRIPT = BENCH_DIR / "peer_mlflow_tracking.py"
TARGET_RATIO = 5.0
TARGET_SEARCH_MS = 200.0
FULL = {"params": 100, "points": 10_000, "keys": 10, "batch": 1000, "runs": 10_000, "metrics": 20}
QUICK = {"params": 20, "points": 1000, "keys": 10, "batch": 250, "runs": 1000, "metrics": 20}


# --- databases ---------------------------------------------------------------------------------


@contextlib.contextmanager
def database_pair(backend: str, scratch: Path) -> Iterator[tuple[str, str] | None]:
    """(llmtrace URL, MLflow URL) on `backend`, or None when its server is unreachable."""
    if backend == "sqlite":
        yield f"sqlite:///{scratch / 'llmtrace.db'}", f"sqlite:///{scratch / 'mlflow.db'}"
        return
    suffix = uuid.uuid4().hex[:8]
    names = [f"llmtrace_bench_{suffix}", f"mlflow_bench_{suffix}"]
    url = normalize_url(PG_ADMIN_URL)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    created: list[str] = []
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
                created.append(name)
    except Exception as exc:  # server down, no permission
        print(f"  [{backend}] skipped: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
        yield None
        return
    try:
        plain = sa.make_url(PG_ADMIN_URL)  # MLflow gets the URL as a user would write it
        yield (
            url.set(database=names[0]).render_as_string(hide_password=False),
            plain.set(database=names[1]).render_as_string(hide_password=False),
        )
    finally:
        with contextlib.suppress(Exception), admin.connect() as conn:
            for name in created:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _analyze(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _tables_with_statistics(engine: sa.Engine) -> list[str] | None:
    """PostgreSQL: the tables that have planner statistics (`pg_stats`); None elsewhere."""
    if engine.dialect.name != "postgresql":
        return None
    q = "SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema() ORDER BY 1"
    with engine.connect() as conn:
        return list(conn.exec_driver_sql(q).scalars())


def _median_ms(call: Callable[[], Any], runs: int) -> float:
    call()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples)


# --- llmtrace ----------------------------------------------------------------------------------


def bench_log(client: TrackingClient, sizes: dict[str, int]) -> dict[str, Any]:
    """(a) for llmtrace, mirroring `peer_mlflow_tracking.bench_log`."""
    keys = sizes["keys"]
    exp = client.create_experiment("log-bench")
    param_map, series = log_values(sizes["params"], sizes["points"], keys)
    out: dict[str, Any] = {"params": len(param_map), "points": len(series), "keys": keys}

    def stored(run_id: str) -> tuple[int, int]:
        points = sum(len(client.get_metric_history(run_id, f"m{k}")) for k in range(keys))
        return points, len(client.get_run(run_id).params)

    run = client.create_run(exp).run_id
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
    out["loop"]["stored_points"], out["loop"]["stored_params"] = stored(run)

    run = client.create_run(exp).run_id
    batch = sizes["batch"]
    t0 = time.perf_counter()
    client.log_batch(run, params=param_map)
    for i in range(0, len(series), batch):
        now = int(time.time() * 1000)
        client.log_batch(run, metrics=[Metric(k, v, s, now) for k, v, s in series[i : i + batch]])
    out["batch"] = {"total_s": time.perf_counter() - t0}
    out["batch"]["stored_points"], out["batch"]["stored_params"] = stored(run)
    return out


def _populate(client: TrackingClient, exp: str, runs: int, metrics: int) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for r in search_dataset(runs, metrics):
        start = epoch + timedelta(milliseconds=r.start_ms)
        run_id = client.create_run(exp, name=r.name, start_time=start, user_id="bench").run_id
        points = [Metric(f"m{j}", v, 0, r.start_ms + 400) for j, v in enumerate(r.metrics)]
        client.log_batch(run_id, metrics=points, params=r.params, tags={"stage": r.stage})
        client.set_terminated(run_id, end_time=start + timedelta(milliseconds=500))


def bench_search(client: TrackingClient, sizes: dict[str, int], repeats: int) -> dict[str, Any]:
    """(b) for llmtrace: populate through the API, then time the pages."""
    exp = client.create_experiment("search-bench")
    store = client.store
    assert isinstance(store, SqlStore)
    engine = store.engine
    t0 = time.perf_counter()
    _populate(client, exp, sizes["runs"], sizes["metrics"])
    populate_s = time.perf_counter() - t0

    def page(token: str | None = None) -> Any:
        return client.search_runs(
            [exp], SEARCH_FILTER, order_by=[SEARCH_ORDER_LLMTRACE], limit=PAGE, page_token=token
        )

    stats_before = _tables_with_statistics(engine)
    t0 = time.perf_counter()
    first = page()  # the process's first search: whatever the store does once is in here
    first_call_ms = (time.perf_counter() - t0) * 1000
    stats_after = _tables_with_statistics(engine)
    second = page(first.next_page_token)
    sample = client.search_runs([exp], "name = 'run-00000'")[0]
    assert len(sample.metrics) == sizes["metrics"] and len(sample.params) == PARAMS_PER_RUN
    out: dict[str, Any] = {
        "runs": sizes["runs"],
        "metrics": sizes["metrics"],
        "populate_s": populate_s,
        "populate_path": "TrackingClient: create_run + log_batch + set_terminated per run",
        "first_call_ms": first_call_ms,
        "statistics_before_first_call": stats_before,
        "statistics_after_first_call": stats_after,
        "first_page_names": [r.info.name for r in first],
        "second_page_names": [r.info.name for r in second],
    }
    for label in ("as_loaded", "analyzed"):
        if label == "analyzed":
            _analyze(engine)
        out[label] = {
            "first_page_ms": _median_ms(page, repeats),
            "second_page_ms": _median_ms(lambda: page(first.next_page_token), repeats),
        }
    return out


def run_llmtrace(url: str, sizes: dict[str, int], repeats: int, scratch: Path) -> dict[str, Any]:
    """(a) and (b) for llmtrace on one database."""
    store = SqlStore(url)
    client = TrackingClient(store, artifact_root=scratch / "llmtrace-artifacts")
    try:
        return {
            "log": bench_log(client, sizes),
            "search": bench_search(client, sizes, repeats),
        }
    finally:
        store.close()


# --- the peer ----------------------------------------------------------------------------------


def run_mlflow(url: str, sizes: dict[str, int], repeats: int) -> dict[str, Any]:
    """(a) and (b) for MLflow, in its virtualenv; its JSON, or {"skipped": why}."""
    python = peer_python()
    if python is None:
        return {"skipped": PEER_MISSING}
    argv = [str(python), str(PEER_SCRIPT), "--uri", url, "--repeats", str(repeats)]
    for key in ("params", "points", "keys", "batch", "runs", "metrics"):
        argv += [f"--{key}", str(sizes[key])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTRACE_")}
    env["PYTHONWARNINGS"] = "ignore"
    try:
        with tempfile.TemporaryDirectory(prefix="llmtrace-bench-peer-") as cwd:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=1800, env=env, cwd=cwd, check=False
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"skipped": f"MLflow peer failed: {exc}"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"skipped": f"MLflow peer failed (exit {proc.returncode}): {' | '.join(tail)}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --- report ------------------------------------------------------------------------------------


def _ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "—"
    ratio = theirs / ours
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:,.1f}x"


def _num(value: float | None) -> str:
    """Three significant digits at least (0.0123, 1.23, 12.3, 1,234)."""
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.3g}"


def _check_log(name: str, backend: str, log: dict[str, Any], sizes: dict[str, int]) -> list[str]:
    problems = []
    for mode in ("loop", "batch"):
        got = (log[mode]["stored_points"], log[mode]["stored_params"])
        if got != (sizes["points"], sizes["params"]):
            problems.append(f"{name} {backend} {mode}: stored {got}, expected points/params")
    return problems


def report(results: dict[str, Any], sizes: dict[str, int]) -> list[str]:
    """Print the tables; returns the problems found (lost writes, differing pages)."""
    problems: list[str] = []
    rows_a, rows_b, rows_pop = [], [], []
    for backend, res in results.items():
        ours, peer = res["llmtrace"], res.get("mlflow", {})
        theirs = None if "skipped" in peer else peer
        problems += _check_log("llmtrace", backend, ours["log"], sizes)
        if theirs:
            problems += _check_log("mlflow", backend, theirs["log"], sizes)
            for p in ("first_page_names", "second_page_names"):
                if ours["search"][p] != theirs["search"][p]:
                    problems.append(f"{backend}: {p} differ between llmtrace and MLflow")
        n_params, n_points = sizes["params"], sizes["points"]
        for label, mode, key in (
            (f"loop: {n_params} log_param", "loop", "params_s"),
            (f"loop: {n_points:,} log_metric", "loop", "metrics_s"),
            ("loop: total", "loop", "total_s"),
            (f"log_batch: params + {sizes['batch']:,}-point batches", "batch", "total_s"),
        ):
            a = ours["log"][mode][key]
            b = theirs["log"][mode][key] if theirs else None
            calls = {"params_s": n_params, "metrics_s": n_points}.get(key)
            per_a = a / calls * 1e6 if calls else None
            per_b = b / calls * 1e6 if calls and b is not None else None
            median = {"params_s": "param_median_us", "metrics_s": "metric_median_us"}.get(key)
            med_a = ours["log"][mode].get(median) if median else None
            med_b = theirs["log"][mode].get(median) if median and theirs else None
            rows_a.append(
                [backend, label, _num(a), _num(b), _ratio(a, b), _num(per_a), _num(per_b),
                 _num(med_a), _num(med_b), _ratio(med_a, med_b)]
            )  # fmt: skip
        cells = [("page 1, first search after loading (one call)", "first_call_ms", None)]
        for state in ("as_loaded", "analyzed"):
            for page in ("first_page_ms", "second_page_ms"):
                where = "page 1" if page == "first_page_ms" else "page 2"
                cells.append((f"{where}, {state.replace('_', ' ')} (median)", page, state))
        for label, page, state in cells:
            a = (ours["search"][state] if state else ours["search"])[page]
            b = None
            if theirs and page in (theirs["search"][state] if state else theirs["search"]):
                b = (theirs["search"][state] if state else theirs["search"])[page]
            fast = a < TARGET_SEARCH_MS and (b is None or b / a >= TARGET_RATIO)
            met = ("yes" if fast else "no") + (" (ms only, no peer)" if b is None else "")
            rows_b.append([backend, label, _num(a), _num(b), _ratio(a, b), met])
        rows_pop.append(
            [
                backend,
                _num(ours["search"]["populate_s"]),
                _num(theirs["search"]["populate_s"] if theirs else None),
                _num(theirs["startup_s"] if theirs else None),
            ]
        )
    print_table(
        ["backend", "(a) one run", "llmtrace s", "MLflow s", "MLflow/llmtrace",
         "llmtrace µs/call", "MLflow µs/call", "llmtrace median µs", "MLflow median µs",
         "MLflow/llmtrace (medians)"],
        rows_a,
        f"(a) {sizes['params']} params + {sizes['points']:,} metric points ({sizes['keys']} keys)",
    )  # fmt: skip
    print_table(
        ["backend", f"(b) search_runs, {PAGE}/page", "llmtrace ms", "MLflow ms",
         "MLflow/llmtrace", f"target (<{TARGET_SEARCH_MS:.0f} ms, {TARGET_RATIO:.0f}x)"],
        rows_b,
        f"(b) `{SEARCH_FILTER}` order by `{SEARCH_ORDER_LLMTRACE}` over {sizes['runs']:,} runs "
        f"x {sizes['metrics']} metrics (median of the timed runs)",
    )  # fmt: skip
    print_table(
        [
            "backend",
            "llmtrace populate s (API)",
            "MLflow populate s (bulk SQL)",
            "MLflow start-up s",
        ],
        rows_pop,
        "(b) populating (not compared: different paths)",
    )
    for backend, res in results.items():
        if "skipped" in res.get("mlflow", {}):
            print(f"\n[{backend}] {res['mlflow']['skipped']}")
    return problems


def _machine() -> dict[str, Any]:
    # Not _common.machine_info(): that one asks git for the revision.
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "packages": {d: version_of(d) for d in ("llmtrace", "sqlalchemy", "psycopg")},
    }


def main() -> None:
    """Run the benchmark on each backend and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--repeats", type=int, help="timed searches per page (default 20; 5 quick)")
    for key in FULL:
        parser.add_argument(
            f"--{key}", type=int, help=f"default {FULL[key]:,} ({QUICK[key]:,} quick)"
        )
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    for key in FULL:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    repeats = args.repeats or (5 if args.quick else 20)
    peer = want_peer(args)
    print(f"sizes: {sizes}, repeats: {repeats}, peer: {peer}")
    print(
        f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
    )
    results: dict[str, Any] = {}
    t_start = time.perf_counter()
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with tempfile.TemporaryDirectory(prefix="llmtrace-bench-tracking-") as tmp:
            scratch = Path(tmp)
            with database_pair(backend, scratch) as urls:
                if urls is None:
                    continue
                t0 = time.perf_counter()
                print(f"[{backend}] llmtrace ...", file=sys.stderr, flush=True)
                res: dict[str, Any] = {"llmtrace": run_llmtrace(urls[0], sizes, repeats, scratch)}
                res["llmtrace"]["elapsed_s"] = time.perf_counter() - t0
                if peer:
                    print(f"[{backend}] MLflow ...", file=sys.stderr, flush=True)
                    t0 = time.perf_counter()
                    res["mlflow"] = run_mlflow(urls[1], sizes, repeats)
                    res["mlflow"]["elapsed_s"] = time.perf_counter() - t0
                else:
                    res["mlflow"] = {"skipped": PEER_OFF}
                results[backend] = res
    problems = report(results, sizes)
    load = os.getloadavg()
    print(f"\nload after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"total {time.perf_counter() - t_start:.0f} s")  # fmt: skip
    for problem in problems:
        print(f"PROBLEM: {problem}")
    write_json(
        args.json,
        {"machine": _machine(), "sizes": sizes, "repeats": repeats, "results": results},
    )
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
