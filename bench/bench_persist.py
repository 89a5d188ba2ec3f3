"""(b) Spans persisted per second into SQLite, PostgreSQL and MariaDB; MLflow into SQLite.

Two measurements per backend:

- end to end: `--traces` calls of a 5-span nested pipeline (bench/_workload.py) through
  `@llmtrace.trace`, then `llmtrace.flush()`; spans/s = spans / (first call -> flush returned).
  The caller and the export thread share one GIL, so this is bounded by their sum.
- store write: `SqlStore.log_spans` with prebuilt `SpanRecord`s (the same 5-span shape and
  attributes) in batches of 2048, i.e. what the background thread can write per second.

For SQLite, a reference row inserts the same rows with plain `sqlite3.executemany` (tuples
prebuilt, same schema and pragmas): the ceiling that SQLite on this disk sets.

PostgreSQL and MariaDB get a throwaway database each (see _common.py for the server URLs) and
are skipped when unreachable.

Usage: python bench/bench_persist.py [--traces 20000] [--backends sqlite,postgresql,mysql]
                                     [--quick] [--[no-]peer] [--profile]

--quick uses 500 traces and SQLite only (unless --backends is given).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PEER_OFF,
    add_common_args,
    machine_info,
    print_table,
    run_peer,
    throwaway_database,
    want_peer,
    write_json,
)
from _workload import QUESTION, SPANS_PER_PIPELINE, build_pipeline

import llmtrace
from llmtrace.store import SpanRecord, SqlStore

TARGET_SPANS_PER_S = 30_000
BATCH = 2048
BACKENDS = ("sqlite", "postgresql", "mysql")
_EPOCH = datetime(1970, 1, 1)

_RESOURCE = {
    "service.name": "bench-persist",
    "llmtrace.project": "bench-persist",
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.0",
}
# (name, span type, parent index, inputs, outputs): the pipeline of _workload.build_pipeline.
_SHAPE = (
    ("handle", "CHAIN", None, f'{{"question":"{QUESTION}"}}', '"Damaged items can be refunded."'),
    ("retrieve", "RETRIEVER", 0, f'{{"query":"{QUESTION}","k":3}}', '["doc-0","doc-1","doc-2"]'),
    ("rerank", "RERANKER", 0, f'{{"query":"{QUESTION}","docs":["doc-0"]}}', '["doc-0","doc-1"]'),
    ("generate", "CHAIN", 0, f'{{"query":"{QUESTION}","docs":["doc-0"]}}', '"Damaged items."'),
    ("call_model", "LLM", 3, f'{{"prompt":"Context: doc-0\\nQuestion: {QUESTION}"}}', '"Yes."'),
)


def pipeline_records(traces: int) -> list[SpanRecord]:
    """Prebuilt records shaped like what the pipeline produces (5 spans per trace)."""
    records = []
    now = time.time_ns()
    for i in range(traces):
        trace_id = uuid.uuid4().hex
        span_ids = [uuid.uuid4().hex[:16] for _ in _SHAPE]
        start = now + i * 1_000_000
        for j, (name, span_type, parent, inputs, outputs) in enumerate(_SHAPE):
            attributes: dict[str, Any] = {
                "llmtrace.span.type": span_type,
                "llmtrace.span.inputs": inputs,
                "llmtrace.span.outputs": outputs,
            }
            if span_type == "LLM":
                attributes["gen_ai.operation.name"] = "text_completion"
            records.append(
                SpanRecord(
                    trace_id=trace_id,
                    span_id=span_ids[j],
                    parent_span_id=None if parent is None else span_ids[parent],
                    name=name,
                    start_time_ns=start + j * 10_000,
                    end_time_ns=start + 900_000 - j * 10_000,
                    status="UNSET",
                    attributes=attributes,
                    resource=_RESOURCE,
                    is_local_root=parent is None,
                )
            )
    return records


def end_to_end(url: str, traces: int) -> dict[str, Any]:
    """Traced calls then flush, through the whole pipeline."""
    spans = traces * SPANS_PER_PIPELINE
    llmtrace.configure(
        store=url, project="bench-persist", queue_size=max(200_000, 2 * spans + 1000)
    )
    handle = build_pipeline(lambda span_type: llmtrace.trace(span_type=span_type))
    warmup = 100
    for _ in range(warmup):  # also opens and migrates the store
        handle(QUESTION)
    llmtrace.flush(timeout=600)
    before = llmtrace.stats().exported
    t0 = time.perf_counter_ns()
    for _ in range(traces):
        handle(QUESTION)
    t_calls = time.perf_counter_ns()
    ok = llmtrace.flush(timeout=1800)
    t_done = time.perf_counter_ns()
    stats = llmtrace.stats()
    stored = llmtrace.get_store().count_spans()
    llmtrace.shutdown()
    elapsed = (t_done - t0) / 1e9
    return {
        "traces": traces,
        "spans": spans,
        "calls_s": (t_calls - t0) / 1e9,
        "flush_s": (t_done - t_calls) / 1e9,
        "elapsed_s": elapsed,
        "spans_per_s": spans / elapsed,
        "traces_per_s": traces / elapsed,
        "flushed": ok,
        "exported": stats.exported - before,
        "dropped": stats.dropped,
        "stored_spans": stored,
        "expected_spans": spans + warmup * SPANS_PER_PIPELINE,
    }


def store_write(url: str, traces: int, profile: bool = False) -> dict[str, Any]:
    """`SqlStore.log_spans` throughput with prebuilt records in batches of 2048."""
    store = SqlStore(url)
    store.log_spans(pipeline_records(50))  # warm-up: connection, statement caches
    records = pipeline_records(traces)
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
    profiler = cProfile.Profile() if profile else None
    t0 = time.perf_counter_ns()
    if profiler is not None:
        profiler.enable()
    for batch in batches:
        store.log_spans(batch)
    if profiler is not None:
        profiler.disable()
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    stored = store.count_spans()
    store.close()
    out: dict[str, Any] = {
        "spans": len(records),
        "elapsed_s": elapsed,
        "spans_per_s": len(records) / elapsed,
        "stored_spans": stored,
    }
    if profiler is not None:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(18)
        out["profile"] = buf.getvalue()
    return out


def _sqlite_time(ns: int) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite."""
    return (_EPOCH + timedelta(microseconds=ns // 1000)).isoformat(" ", "microseconds")


def sqlite_ceiling(db: Path, traces: int) -> dict[str, Any]:
    """Reference: the same rows (spans and traces) inserted with plain `sqlite3.executemany`
    into the same schema with the same pragmas, tuples prebuilt outside the timing. This is
    what SQLite on this disk allows before any Python-side work."""
    SqlStore(f"sqlite:///{db}").close()  # the llmtrace schema
    records = pipeline_records(traces)
    per_batch = BATCH - BATCH % SPANS_PER_PIPELINE  # whole traces per batch
    batches = []
    for i in range(0, len(records), per_batch):
        spans, trace_rows = [], {}
        for r in records[i : i + per_batch]:
            a = r.attributes
            start, end = _sqlite_time(r.start_time_ns), _sqlite_time(r.end_time_ns)
            spans.append(
                (r.trace_id, r.span_id, r.parent_span_id, r.name, a["llmtrace.span.type"], "OK",
                 start, end, (r.end_time_ns - r.start_time_ns) / 1e6,
                 a["llmtrace.span.inputs"], a["llmtrace.span.outputs"], "{}", "[]")
            )  # fmt: skip
            if r.is_local_root:
                trace_rows[r.trace_id] = (
                    r.trace_id, "bench-persist", r.name, start, end, 0.9, "OK", 0, 0, 0,
                    SPANS_PER_PIPELINE, 0, 1,
                )  # fmt: skip
        batches.append((list(trace_rows.values()), spans))
    span_sql = (
        "INSERT INTO spans (trace_id, span_id, parent_span_id, name, span_type, status, "
        "start_time, end_time, duration_ms, inputs, outputs, attributes, events) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    trace_sql = (
        "INSERT INTO traces (trace_id, project, name, start_time, end_time, duration_ms, "
        "status, input_tokens, output_tokens, total_tokens, span_count, error_count, has_root) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter_ns()
    for trace_rows, spans in batches:
        conn.execute("BEGIN")
        conn.executemany(trace_sql, trace_rows)
        conn.executemany(span_sql, spans)
        conn.execute("COMMIT")
    elapsed = (time.perf_counter_ns() - t0) / 1e9
    conn.close()
    return {"spans": len(records), "elapsed_s": elapsed, "spans_per_s": len(records) / elapsed}


@contextlib.contextmanager
def _two_databases(backend: str) -> Iterator[tuple[str | None, str | None]]:
    """Two fresh databases on `backend` (one per measurement), removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="llmtrace-bench-") as tmp:
            yield f"sqlite:///{tmp}/e2e.db", f"sqlite:///{tmp}/store.db"
        return
    with throwaway_database(backend) as first, throwaway_database(backend) as second:
        yield first, second


def run(
    traces: int = 20_000,
    backends: tuple[str, ...] = BACKENDS,
    *,
    quick: bool = False,
    peer: bool = True,
    profile: bool = False,
) -> dict[str, Any]:
    """Measure every backend (and the peer); returns the results as a dict."""
    if quick:
        traces = min(traces, 300)
    results: dict[str, Any] = {"traces": traces, "backends": {}}
    for backend in backends:
        with _two_databases(backend) as (e2e_url, store_url):
            if e2e_url is None or store_url is None:
                results["backends"][backend] = {"skipped": "server unavailable"}
                continue
            print(f"  [{backend}] end to end ...", file=sys.stderr)
            e2e = end_to_end(e2e_url, traces)
            print(f"  [{backend}] store write ...", file=sys.stderr)
            write = store_write(store_url, traces, profile=profile and backend == "sqlite")
            results["backends"][backend] = {"end_to_end": e2e, "store_write": write}
            if backend == "sqlite":
                print("  [sqlite] raw sqlite3 ceiling ...", file=sys.stderr)
                with tempfile.TemporaryDirectory(prefix="llmtrace-bench-") as tmp:
                    ceiling = sqlite_ceiling(Path(tmp) / "ceiling.db", traces)
                results["backends"][backend]["sqlite_ceiling"] = ceiling
    if peer:
        results["mlflow"] = run_peer(["persist", "--traces", "20" if quick else "200"])
    else:
        results["mlflow"] = {"skipped": PEER_OFF}
    sqlite = results["backends"].get("sqlite", {})
    if "end_to_end" in sqlite:
        results["target"] = {
            "spans_per_s": TARGET_SPANS_PER_S,
            "end_to_end_met": sqlite["end_to_end"]["spans_per_s"] >= TARGET_SPANS_PER_S,
            "store_write_met": sqlite["store_write"]["spans_per_s"] >= TARGET_SPANS_PER_S,
        }
    return results


def report(results: dict[str, Any]) -> None:
    """Print the results as a table."""
    rows = []
    for backend, r in results["backends"].items():
        if "skipped" in r:
            rows.append([f"llmtrace → {backend}", "skipped", "", "", "", "", r["skipped"]])
            continue
        e, w = r["end_to_end"], r["store_write"]
        rows.append(
            [
                f"llmtrace → {backend}",
                e["spans_per_s"],
                e["traces_per_s"],
                e["calls_s"],
                e["flush_s"],
                w["spans_per_s"],
                f"dropped {e['dropped']}, stored {e['stored_spans']:,}/{e['expected_spans']:,}",
            ]
        )
        if "sqlite_ceiling" in r:
            c = r["sqlite_ceiling"]
            rows.append(
                ["reference: raw sqlite3 executemany", None, None, None, None, c["spans_per_s"],
                 "same rows, schema and pragmas; tuples prebuilt (SQLite + disk only)"]
            )  # fmt: skip
    m = results.get("mlflow", {})
    if "skipped" in m:
        print(f"note: {m['skipped']}")
    else:
        rows.append(
            [
                "MLflow → sqlite",
                m["spans_per_s"],
                m["traces_per_s"],
                m["calls_s"],
                m["flush_s"],
                None,
                f"{m['traces']} traces, stored {m['stored_traces']}",
            ]
        )
    print_table(
        [
            "contender",
            "e2e spans/s",
            "e2e traces/s",
            "calls s",
            "flush s",
            "store write spans/s",
            "notes",
        ],
        rows,
        title=f"(b) persisting {results['traces']:,} traces x {SPANS_PER_PIPELINE} spans",
    )
    t = results.get("target")
    if t:
        sqlite = results["backends"]["sqlite"]
        print(
            f"target ≥ {t['spans_per_s']:,} spans/s into SQLite: end to end "
            f"{sqlite['end_to_end']['spans_per_s']:,.0f} "
            f"({'met' if t['end_to_end_met'] else 'MISSED'}), store write "
            f"{sqlite['store_write']['spans_per_s']:,.0f} "
            f"({'met' if t['store_write_met'] else 'MISSED'})"
        )
    profile = results["backends"].get("sqlite", {}).get("store_write", {}).get("profile")
    if profile:
        print("\ncProfile of the SQLite store write (top by own time):")
        print(profile)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--backends", default=None, help="comma-separated: " + ",".join(BACKENDS))
    parser.add_argument("--profile", action="store_true", help="cProfile the SQLite store write")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.backends:
        backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    else:
        backends = ("sqlite",) if args.quick else BACKENDS
    results = run(
        args.traces, backends, quick=args.quick, peer=want_peer(args), profile=args.profile
    )
    results["machine"] = machine_info()
    report(results)
    write_json(args.json, results)


if __name__ == "__main__":
    main()
