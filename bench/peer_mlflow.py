"""The peer's side of the benchmarks: MLflow's `@mlflow.trace` into a SQLite tracking store.

Runs with the interpreter of `bench/.venv-mlflow` (see setup_peer.sh), started by the llmtrace
benchmark scripts so that both are measured in the same run. Prints one JSON line.

    python peer_mlflow.py overhead --n 100 --repeats 5 [--sync]
    python peer_mlflow.py persist --traces 200
    python peer_mlflow.py search --traces 1000 --amplify 100 --runs 20

MLflow's defaults are kept except that its async export queue is made large enough that no
trace is dropped (as for llmtrace); `--sync` turns async trace logging off, which puts the
persisting on the caller's thread and so measures the persist cost per trace directly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import (
    QUESTION,
    SPANS_PER_PIPELINE,
    answer,
    build_pipeline,
    synthetic_trace,
)

# MLflow's database and trace artifacts; removed when the run is over.
_SCRATCH = Path(tempfile.mkdtemp(prefix="llmtrace-bench-mlflow-"))


def _setup(sync: bool) -> tuple[Any, Path]:
    """Import MLflow with the benchmark's settings; point it at a fresh SQLite store."""
    os.environ.setdefault("MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE", "10000000")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    if sync:
        os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    tmp = _SCRATCH
    db = tmp / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    # Trace artifacts go next to the database, not into ./mlruns of the current directory.
    mlflow.create_experiment("bench", artifact_location=(tmp / "artifacts").as_uri())
    mlflow.set_experiment("bench")
    return mlflow, db


def _count(db: Path) -> tuple[int, int]:
    """(traces, spans) stored in the MLflow database."""
    with sqlite3.connect(db) as conn:
        traces = conn.execute("SELECT count(*) FROM trace_info").fetchone()[0]
        spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    return traces, spans


def overhead(n: int, repeats: int, sync: bool) -> dict[str, Any]:
    """Caller-side cost per call of `@mlflow.trace` on `answer`, then the time to persist."""
    mlflow, db = _setup(sync)
    traced = mlflow.trace(answer)
    for _ in range(20):
        traced(QUESTION, 3)
    mlflow.flush_trace_async_logging()
    base_traces, _ = _count(db)
    samples = []
    t_first = time.perf_counter_ns()
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            traced(QUESTION, 3)
        samples.append((time.perf_counter_ns() - t0) / n / 1000)
    t_calls = time.perf_counter_ns()
    mlflow.flush_trace_async_logging()
    t_done = time.perf_counter_ns()
    total = n * repeats
    stored, _ = _count(db)
    return {
        "mode": "sync" if sync else "async",
        "calls": total,
        "per_call_us": statistics.median(samples),
        "samples_us": samples,
        "flush_s": (t_done - t_calls) / 1e9,
        # Wall time from the first timed call until every trace is stored, per trace.
        "persist_ms_per_trace": (t_done - t_first) / 1e6 / total,
        "stored_traces": stored - base_traces,
    }


def persist(traces: int) -> dict[str, Any]:
    """N nested 5-span pipeline traces, from the first call until flush returns."""
    mlflow, db = _setup(False)
    handle = build_pipeline(lambda span_type: mlflow.trace(span_type=span_type))
    for _ in range(5):
        handle(QUESTION)
    mlflow.flush_trace_async_logging()
    base_traces, base_spans = _count(db)
    t0 = time.perf_counter_ns()
    for _ in range(traces):
        handle(QUESTION)
    t_calls = time.perf_counter_ns()
    mlflow.flush_trace_async_logging()
    t_done = time.perf_counter_ns()
    stored_traces, stored_spans = _count(db)
    elapsed = (t_done - t0) / 1e9
    return {
        "traces": traces,
        "spans": traces * SPANS_PER_PIPELINE,
        "calls_s": (t_calls - t0) / 1e9,
        "flush_s": (t_done - t_calls) / 1e9,
        "elapsed_s": elapsed,
        "traces_per_s": traces / elapsed,
        "spans_per_s": traces * SPANS_PER_PIPELINE / elapsed,
        "stored_traces": stored_traces - base_traces,
        "stored_spans": stored_spans - base_spans,
    }


# The search benchmark's filters in MLflow's filter language (same meaning as llmtrace's).
SEARCH_FILTERS = {
    "newest (no filter)": None,
    "status = 'ERROR'": "trace.status = 'ERROR'",
    "latency_ms > 500 and tag.env = 'prod'": "trace.execution_time > 500 AND tag.env = 'prod'",
    "session_id = 's-42'": "metadata.`mlflow.trace.session` = 's-42'",
    "span.type = 'LLM'": "span.type = 'LLM'",
    "text = 'refund'": "trace.text ILIKE '%refund%'",
}


def _log_synthetic(mlflow: Any, count: int) -> None:
    """Store `count` synthetic traces (same generator as llmtrace's) through MLflow's API."""
    base_ns = time.time_ns() - count * 30_000_000 - 3_600_000_000_000
    for i in range(count):
        t = synthetic_trace(i, base_ns)
        root = None
        for s in t.spans:
            start = t.start_ns + s.offset_ns
            if root is None:
                root = mlflow.start_span_no_context(
                    s.name,
                    span_type=s.span_type,
                    inputs=json.loads(s.inputs),
                    tags={"env": t.env},
                    metadata={"mlflow.trace.session": t.session_id},
                    start_time_ns=start,
                )
                continue
            child = mlflow.start_span_no_context(
                s.name,
                span_type=s.span_type,
                parent_span=root,
                inputs=json.loads(s.inputs),
                start_time_ns=start,
            )
            child.end(outputs=json.loads(s.outputs), end_time_ns=start + s.duration_ns)
        assert root is not None
        root.end(
            outputs=json.loads(t.spans[0].outputs),
            status="ERROR" if t.error else "OK",
            end_time_ns=t.start_ns + t.duration_ns,
        )
    mlflow.flush_trace_async_logging()


def _median_ms(call: Any, runs: int) -> tuple[float, int]:
    """(median ms, timed runs) after a warm-up run; 3 runs for a call slower than 1 s, none
    (the warm-up time is reported, and page 2 is skipped) for one slower than 10 s, as in
    bench_search.py."""
    t0 = time.perf_counter_ns()
    call()
    warm_ms = (time.perf_counter_ns() - t0) / 1e6
    if warm_ms > 10_000:
        return warm_ms, 0
    if warm_ms > 1000:
        runs = min(runs, 3)
    samples = []
    for _ in range(max(runs, 1)):
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples), runs


def _amplify(db: Path, copies: int, spacing_ms: int) -> None:
    """Replicate every stored trace `copies - 1` times in SQL (new ids, older timestamps).

    MLflow logs ~15-20 traces/s here, so a 100k-trace store cannot be built through its API in
    a benchmark run; copying the rows it wrote keeps its schema, indexes and data shapes.
    """
    if copies <= 1:
        return
    with sqlite3.connect(db) as conn:
        n = conn.execute("SELECT count(*) FROM trace_info").fetchone()[0]
        conn.execute("CREATE TEMP TABLE base AS SELECT request_id FROM trace_info")

        def columns(table: str) -> list[str]:
            # table_info leaves out generated columns (spans.duration_ns), as INSERT must.
            return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]

        shift_ms = n * spacing_ms
        for c in range(1, copies):
            suffix = f"-{c}"
            for table, id_col in (
                ("trace_info", "request_id"),
                ("trace_tags", "request_id"),
                ("trace_request_metadata", "request_id"),
                ("spans", "trace_id"),
            ):
                cols = columns(table)
                select = []
                for col in cols:
                    if col == id_col:
                        select.append(f"{col} || '{suffix}'")
                    elif col == "timestamp_ms":
                        select.append(f"{col} - {c * shift_ms}")
                    elif col in ("start_time_unix_nano", "end_time_unix_nano"):
                        select.append(f"{col} - {c * shift_ms * 1_000_000}")
                    else:
                        select.append(f'"{col}"')
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(chr(34) + c + chr(34) for c in cols)}) "
                    f"SELECT {', '.join(select)} FROM {table} "
                    f"WHERE {id_col} IN (SELECT request_id FROM base)"
                )
        conn.commit()


def search(traces: int, runs: int, amplify: int) -> dict[str, Any]:
    """Latency of `MlflowClient.search_traces` (100 newest matching) on the stored traces."""
    mlflow, db = _setup(False)
    from mlflow import MlflowClient

    t0 = time.perf_counter()
    _log_synthetic(mlflow, traces)
    load_s = time.perf_counter() - t0
    _amplify(db, amplify, 30)
    stored, stored_spans = _count(db)
    experiment = mlflow.get_experiment_by_name("bench").experiment_id
    client = MlflowClient()

    def time_all() -> dict[str, Any]:
        results: dict[str, Any] = {}
        for label, flt in SEARCH_FILTERS.items():

            def first_page(flt: str | None = flt, token: str | None = None) -> Any:
                return client.search_traces(
                    locations=[experiment],
                    filter_string=flt,
                    max_results=100,
                    order_by=["timestamp_ms DESC"],
                    page_token=token,
                    include_spans=False,  # like llmtrace's search: trace infos, no span trees
                )

            try:
                page = first_page()
                first, done = _median_ms(first_page, runs)
                second = None
                if page.token and done:  # a page 1 slower than 10 s: page 2 is not timed
                    second = _median_ms(lambda t=page.token: first_page(token=t), done)[0]
                results[label] = {
                    "filter": flt,
                    "rows": len(page),
                    "first_page_ms": first,
                    "second_page_ms": second,
                    "runs": done,
                }
            except Exception as exc:  # an unsupported filter in this MLflow version
                results[label] = {"filter": flt, "error": f"{type(exc).__name__}: {exc}"[:200]}
        return results

    queries = time_all()
    with sqlite3.connect(db) as conn:
        conn.execute("ANALYZE")
    analyzed = time_all()
    return {
        "traces": stored,
        "spans": stored_spans,
        "logged_traces": traces,
        "amplify": amplify,
        "load_s": load_s,
        "load_traces_per_s": traces / load_s,
        "runs": runs,
        "queries": queries,
        "queries_analyzed": analyzed,
    }


def main() -> None:
    """Parse the mode and print its results as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("overhead")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sync", action="store_true")
    p = sub.add_parser("persist")
    p.add_argument("--traces", type=int, default=200)
    p = sub.add_parser("search")
    p.add_argument("--traces", type=int, default=1000)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--amplify", type=int, default=1, help="copies of the logged traces (SQL)")
    args = parser.parse_args()
    import mlflow  # noqa: F401 - fail early with a clear error if the peer is missing

    if args.mode == "overhead":
        out = overhead(args.n, args.repeats, args.sync)
    elif args.mode == "persist":
        out = persist(args.traces)
    else:
        out = search(args.traces, args.runs, args.amplify)
    out["mlflow_version"] = sys.modules["mlflow"].__version__
    out["python"] = sys.version.split()[0]
    print(json.dumps(out))
    sys.stdout.flush()
    shutil.rmtree(_SCRATCH, ignore_errors=True)
    # Skip MLflow's exit hooks (everything is flushed already) so the run ends promptly.
    os._exit(0)


if __name__ == "__main__":
    main()
