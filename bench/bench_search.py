"""(c) `search_traces` latency: the 100 newest traces matching a filter, 100k traces stored.

The store is bulk-loaded through `SqlStore.log_spans` with synthetic traces
(`_workload.synthetic_trace`: ~5% ERROR, log-normal latencies, tag env=prod/dev, 5,000
sessions, LLM spans with token usage in 60% of traces, "refund" in 10% of questions). Each
filter is timed with `llmtrace.search_traces(filter, limit=100)`: median of `--runs` runs (after
one warm-up run; 3 runs for a query slower than 1 s; for one slower than 10 s only the warm-up,
and no page 2) for the first page, and for the second
page (`page_token` of the first).

MLflow gets the same synthetic traces through its own API (`start_span_no_context`), fewer of
them because its logging is slow, optionally replicated in SQL (`--peer-amplify`) to reach the
same store size; both numbers are reported with their N.

Usage: python bench/bench_search.py [--traces 100000] [--runs 20]
                                    [--backends sqlite,postgresql] [--quick] [--[no-]peer]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
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
from _workload import SyntheticTrace, synthetic_trace

import llmtrace
from llmtrace.store import SpanRecord, SqlStore

TARGET_MS = 50.0
SLOW_MS, SLOW_RUNS, VERY_SLOW_MS = 1000.0, 3, 10_000.0
BATCH = 2048
LIMIT = 100

# label -> llmtrace filter. The peer uses the same labels with MLflow's syntax.
FILTERS: dict[str, str | None] = {
    "newest (no filter)": None,
    "status = 'ERROR'": "status = 'ERROR'",
    "latency_ms > 500 and tag.env = 'prod'": "latency_ms > 500 and tag.env = 'prod'",
    "session_id = 's-42'": "session_id = 's-42'",
    "span.type = 'LLM'": "span.type = 'LLM'",
    "text = 'refund'": "text = 'refund'",
}
_RESOURCE = {"service.name": "bench-search", "llmtrace.project": "bench-search"}


def trace_records(t: SyntheticTrace) -> list[SpanRecord]:
    """The spans of one synthetic trace as the exporter would hand them to the store."""
    root_id = f"{t.index:016x}"
    trace_id = f"{t.index:032x}"
    records = []
    for j, s in enumerate(t.spans):
        attributes: dict[str, Any] = {
            "llmtrace.span.type": s.span_type,
            "llmtrace.span.inputs": s.inputs,
            "llmtrace.span.outputs": s.outputs,
        }
        if j == 0:
            attributes["llmtrace.trace.tag.env"] = t.env
            attributes["llmtrace.trace.session_id"] = t.session_id
        if s.input_tokens is not None:
            attributes["gen_ai.request.model"] = "gpt-4o-mini"
            attributes["llmtrace.usage.input_tokens"] = s.input_tokens
            attributes["llmtrace.usage.output_tokens"] = s.output_tokens
        start = t.start_ns + s.offset_ns
        records.append(
            SpanRecord(
                trace_id=trace_id,
                span_id=root_id if j == 0 else f"{t.index:012x}{j:04x}",
                parent_span_id=None if j == 0 else root_id,
                name=s.name,
                start_time_ns=start,
                end_time_ns=start + s.duration_ns,
                status="ERROR" if t.error and j == 0 else "OK",
                status_message="RuntimeError: upstream timeout" if t.error and j == 0 else None,
                attributes=attributes,
                resource=_RESOURCE,
                is_local_root=j == 0,
            )
        )
    return records


def load(url: str, traces: int) -> dict[str, Any]:
    """Bulk-load `traces` synthetic traces; returns timing and counts."""
    store = SqlStore(url)
    base_ns = time.time_ns() - traces * 30_000_000 - 3_600_000_000_000
    batch: list[SpanRecord] = []
    spans = 0
    t0 = time.perf_counter()
    for i in range(traces):
        batch.extend(trace_records(synthetic_trace(i, base_ns)))
        if len(batch) >= BATCH:
            store.log_spans(batch)
            spans += len(batch)
            batch = []
    if batch:
        store.log_spans(batch)
        spans += len(batch)
    elapsed = time.perf_counter() - t0
    store.close()
    return {"traces": traces, "spans": spans, "load_s": elapsed, "spans_per_s": spans / elapsed}


def _median_ms(call: Callable[[], object], runs: int) -> tuple[float, float, int]:
    """(median ms, max ms, timed runs) of `call` after one warm-up run. A query slower than
    SLOW_MS gets SLOW_RUNS runs, one slower than VERY_SLOW_MS none (its warm-up time is
    reported), so that a pathological plan cannot stall the benchmark."""
    t0 = time.perf_counter_ns()
    call()
    warm_ms = (time.perf_counter_ns() - t0) / 1e6
    if warm_ms > VERY_SLOW_MS:
        return warm_ms, warm_ms, 0
    if warm_ms > SLOW_MS:
        runs = min(runs, SLOW_RUNS)
    samples = []
    for _ in range(max(runs, 1)):
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples), max(samples), runs


def time_queries(runs: int) -> dict[str, Any]:
    """Median latency of every filter (first and second page) on the configured store."""
    out: dict[str, Any] = {}
    for label, flt in FILTERS.items():
        print(f"    {label}", file=sys.stderr)
        page = llmtrace.search_traces(flt, limit=LIMIT)
        first, first_max, done = _median_ms(
            lambda f=flt: llmtrace.search_traces(f, limit=LIMIT), runs
        )
        second = None
        token = page.next_page_token
        if token and done:  # a page 1 slower than VERY_SLOW_MS: page 2 is not timed
            second, _, _ = _median_ms(
                lambda f=flt, t=token: llmtrace.search_traces(f, limit=LIMIT, page_token=t), done
            )
        out[label] = {
            "filter": flt,
            "rows": len(page),
            "first_page_ms": first,
            "first_page_max_ms": first_max,
            "second_page_ms": second,
            "runs": done,
        }
    return out


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="llmtrace-bench-") as tmp:
            yield f"sqlite:///{tmp}/search.db"
        return
    with throwaway_database(backend) as url:
        yield url


def analyze(url: str) -> float:
    """Refresh the planner statistics (what autovacuum or `PRAGMA optimize` would do); seconds."""
    store = SqlStore(url)
    t0 = time.perf_counter()
    with store.engine.begin() as conn:
        if store.engine.dialect.name in ("mysql", "mariadb"):
            conn.execute(sa.text("ANALYZE TABLE traces, spans, trace_tags, trace_metadata"))
        else:
            conn.execute(sa.text("ANALYZE"))
    elapsed = time.perf_counter() - t0
    store.close()
    return elapsed


def run(
    traces: int = 100_000,
    runs: int = 20,
    backends: tuple[str, ...] = ("sqlite", "postgresql"),
    *,
    quick: bool = False,
    peer: bool = True,
    peer_traces: int = 1000,
    peer_amplify: int = 100,
) -> dict[str, Any]:
    """Load and query every backend (and the peer); returns the results as a dict.

    Every store is queried twice: as loaded, and after ANALYZE (fresh planner statistics),
    because a freshly bulk-loaded table has none and both SQLite and PostgreSQL then pick
    different plans.
    """
    if quick:
        traces, runs, peer_traces, peer_amplify = min(traces, 2000), min(runs, 3), 50, 1
    results: dict[str, Any] = {"traces": traces, "runs": runs, "limit": LIMIT, "backends": {}}
    for backend in backends:
        with _database(backend) as url:
            if url is None:
                results["backends"][backend] = {"skipped": "server unavailable"}
                continue
            print(f"  [{backend}] loading {traces:,} traces ...", file=sys.stderr)
            loaded = load(url, traces)
            llmtrace.configure(store=url, project="bench-search")
            print(f"  [{backend}] querying as loaded ...", file=sys.stderr)
            queries = time_queries(runs)
            loaded["analyze_s"] = analyze(url)
            print(f"  [{backend}] querying after ANALYZE ...", file=sys.stderr)
            analyzed = time_queries(runs)
            llmtrace.shutdown()
            results["backends"][backend] = {
                "load": loaded,
                "queries": queries,
                "queries_analyzed": analyzed,
            }
    if peer:
        print("  [mlflow] loading and querying ...", file=sys.stderr)
        args = ["search", "--traces", str(peer_traces), "--amplify", str(peer_amplify)]
        results["mlflow"] = run_peer([*args, "--runs", str(runs)], timeout=3600)
    else:
        results["mlflow"] = {"skipped": PEER_OFF}
    sqlite = results["backends"].get("sqlite", {})
    if "queries" in sqlite:
        slowest = max(q["first_page_ms"] for q in sqlite["queries"].values())
        slowest_analyzed = max(q["first_page_ms"] for q in sqlite["queries_analyzed"].values())
        results["target"] = {
            "ms": TARGET_MS,
            "slowest_ms": slowest,
            "met": slowest < TARGET_MS,
            "slowest_analyzed_ms": slowest_analyzed,
            "met_analyzed": slowest_analyzed < TARGET_MS,
        }
    return results


def report(results: dict[str, Any]) -> None:
    """Print a table per store: a row per filter; as loaded and after ANALYZE."""
    stores = []
    for backend, r in results["backends"].items():
        if "skipped" in r:
            print(f"note: {backend} skipped ({r['skipped']})")
            continue
        stores.append((f"llmtrace → {backend}, {r['load']['traces']:,} traces", r))
    m = results.get("mlflow", {})
    if "skipped" in m:
        print(f"note: {m['skipped']}")
    else:
        stores.append((f"MLflow {m.get('mlflow_version', '')} → sqlite, {m['traces']:,} traces", m))
    for title, r in stores:
        rows = []
        for label in FILTERS:
            q, qa = r["queries"].get(label, {}), r["queries_analyzed"].get(label, {})
            if "error" in q:
                rows.append([label, "error", None, None, None, None, None])
                continue
            rows.append(
                [label, q["first_page_ms"], q["second_page_ms"], qa.get("first_page_ms"),
                 qa.get("second_page_ms"), q["rows"], f"{q.get('runs')}/{qa.get('runs')}"]
            )  # fmt: skip
        print_table(
            ["filter (limit 100, newest first)", "ms", "page 2 ms", "ms after ANALYZE",
             "page 2 ms", "rows", "runs"],
            rows,
            title=f"(c) {title}: median of {results['runs']} runs (fewer for slow queries)",
        )  # fmt: skip
    for backend, r in results["backends"].items():
        if "load" in r:
            ld = r["load"]
            print(
                f"llmtrace {backend}: loaded {ld['traces']:,} traces / {ld['spans']:,} spans in "
                f"{ld['load_s']:.1f} s ({ld['spans_per_s']:,.0f} spans/s via SqlStore.log_spans); "
                f"ANALYZE {ld['analyze_s']:.1f} s"
            )
    if "skipped" not in m:
        print(
            f"MLflow: {m['logged_traces']:,} traces logged through its API in {m['load_s']:.1f} s "
            f"({m['load_traces_per_s']:.1f} traces/s), replicated x{m['amplify']} in SQL to "
            f"{m['traces']:,} traces / {m['spans']:,} spans"
        )
        for label, q in m["queries"].items():
            if "error" in q:
                print(f"MLflow could not run {label!r}: {q['error']}")
    t = results.get("target")
    if t:
        print(
            f"target < {t['ms']:.0f} ms on SQLite: slowest filter {t['slowest_ms']:.1f} ms as "
            f"loaded ({'met' if t['met'] else 'MISSED'}), {t['slowest_analyzed_ms']:.1f} ms after "
            f"ANALYZE ({'met' if t['met_analyzed'] else 'MISSED'})"
        )


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--backends",
        default=None,
        help="comma-separated: sqlite,postgresql,mysql (none: only MLflow)",
    )
    parser.add_argument("--peer-traces", type=int, default=1000, help="traces MLflow logs")
    parser.add_argument(
        "--peer-amplify", type=int, default=100, help="copies of MLflow's traces made in SQL"
    )
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.backends:
        # "none" measures only the peer.
        backends = tuple(
            b.strip() for b in args.backends.split(",") if b.strip() not in ("", "none")
        )
    else:
        backends = ("sqlite",) if args.quick else ("sqlite", "postgresql")
    results = run(
        args.traces,
        args.runs,
        backends,
        quick=args.quick,
        peer=want_peer(args),
        peer_traces=args.peer_traces,
        peer_amplify=args.peer_amplify,
    )
    results["machine"] = machine_info()
    report(results)
    write_json(args.json, results)


if __name__ == "__main__":
    main()
