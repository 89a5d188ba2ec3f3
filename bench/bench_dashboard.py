"""(i) Dashboard page render times: 100,000 traces and one trace of 10,000 spans in SQLite.

The store is bulk-loaded through `SqlStore.log_spans` with the synthetic traces of the search
benchmark (`bench_search.load`), plus one trace of exactly 10,000 spans (a root, 99 children,
100 leaves under each). Each page is rendered with `streamlit.testing.v1.AppTest` — the page
script run end to end, store queries and element serialisation included, but not the
browser's drawing — with the dashboard's query caches cleared before every timed run (a cold
page; a rerun after a click hits the caches and is faster). Median of `--runs` runs after one
warm-up, and the slowest run.

Peers (the Phoenix and Langfuse UIs) are JavaScript apps over their own servers: they cannot be
timed the same way headlessly here, so no peer column is given.

Usage: python bench/bench_dashboard.py [--traces 100000] [--runs 7] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamlit as st
from _common import _cpu_model, _memory_gib, print_table, version_of, write_json
from bench_search import load
from streamlit.testing.v1 import AppTest

from llmtrace.store import SpanRecord, SqlStore

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
BIG_TRACE_ID = "f" * 32
TIMEOUT_S = 120
FILTER = "status = 'ERROR' and latency_ms > 500"


def big_trace(spans: int = 10_000) -> list[SpanRecord]:
    """One trace of `spans` spans: a root, 99 children, the rest as leaves under them."""
    base = time.time_ns()
    records = [_span(0, None, "root", base, 60_000)]
    children = 99
    for i in range(1, children + 1):
        records.append(_span(i, 0, f"step-{i}", base + i * 500_000_000, 400))
    n = children + 1
    while n < spans:
        parent = 1 + (n - children - 1) % children
        records.append(_span(n, parent, f"leaf-{n}", base + parent * 500_000_000 + n, 1))
        n += 1
    return records


def _span(n: int, parent: int | None, name: str, start_ns: int, dur_ms: int) -> SpanRecord:
    return SpanRecord(
        trace_id=BIG_TRACE_ID,
        span_id=f"{n + 1:016x}",
        parent_span_id=None if parent is None else f"{parent + 1:016x}",
        name=name,
        start_time_ns=start_ns,
        end_time_ns=start_ns + dur_ms * 1_000_000,
        status="OK",
        attributes={"llmtrace.span.type": "CHAIN" if parent is None else "TOOL"},
        resource={"llmtrace.project": "bench-dashboard"},
        is_local_root=parent is None,
    )


def _cold() -> None:
    st.cache_data.clear()
    from dashboard import _store  # the bench may import the app's modules; llmtrace may not

    _store.get_trace.clear()


def _median(
    render: Callable[[], AppTest], runs: int, prepare: Callable[[], object] | None = None
) -> tuple[float, float, int]:
    """(median ms, max ms, table rows shown) of `render` after one warm-up; `prepare` runs
    untimed before each, then the caches are cleared."""
    samples = []
    rows = 0
    for i in range(runs + 1):
        if prepare is not None:
            prepare()
        _cold()
        t0 = time.perf_counter()
        at = render()
        elapsed = (time.perf_counter() - t0) * 1000
        if at.exception:
            raise RuntimeError(at.exception[0].value)
        rows = len(at.dataframe[0].value) if at.dataframe else 0
        if i:  # the first run warms up
            samples.append(elapsed)
    return statistics.median(samples), max(samples), rows


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Render times of the pages, in ms, and the rows each page's main table shows."""
    out: dict[str, dict[str, float]] = {}

    def record(
        label: str, render: Callable[[], AppTest], prepare: Callable[[], object] | None = None
    ) -> None:
        print(f"    {label}", file=sys.stderr)
        median, worst, rows = _median(render, runs, prepare)
        out[label] = {"median_ms": median, "max_ms": worst, "rows": rows}

    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    record("traces: first page (50 newest)", app.run)

    filtered = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    filtered.text_input(key="traces_filter").set_value(FILTER)
    record(f"traces: filtered ({FILTER})", filtered.run)

    paged = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()

    def back_to_page_one() -> None:
        paged.session_state["traces_tokens"] = [None]
        paged.run()

    record(
        "traces: next page", lambda: paged.button(key="traces_next").click().run(), back_to_page_one
    )

    sessions = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    sessions.switch_page("pages/sessions.py")
    record("sessions: list (500 traces scanned)", sessions.run)

    detail = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    detail.switch_page("pages/trace.py")
    detail.query_params["trace_id"] = BIG_TRACE_ID
    record("trace detail: 10,000 spans (get_trace + render)", detail.run)
    print("    trace detail, cached rerun", file=sys.stderr)
    detail.run()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        detail.run()
        samples.append((time.perf_counter() - t0) * 1000)
    out["trace detail: 10,000 spans, rerun (trace cached)"] = {
        "median_ms": statistics.median(samples),
        "max_ms": max(samples),
        "rows": len(detail.dataframe[0].value),
    }
    return out


def main(argv: list[str] | None = None) -> None:
    """Load, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="10,000 traces, 3 runs")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    traces, runs = (10_000, 3) if args.quick else (args.traces, args.runs)
    with tempfile.TemporaryDirectory(prefix="llmtrace-bench-") as tmp:
        url = f"sqlite:///{tmp}/dashboard.db"
        print(f"loading {traces:,} traces and one of 10,000 spans", file=sys.stderr)
        loaded = load(url, traces)
        store = SqlStore(url)
        t0 = time.perf_counter()
        store.log_spans(big_trace())
        big_load_s = time.perf_counter() - t0
        store.close()
        os.environ["LLMTRACE_DASHBOARD_STORE"] = url
        results = measure(runs)
    rows = [[label, r["median_ms"], r["max_ms"], int(r["rows"])] for label, r in results.items()]
    print_table(
        ["page (AppTest, cold caches)", "median ms", "max ms", "table rows"],
        rows,
        title=f"Dashboard render times: {traces:,} traces in SQLite, median of {runs} runs",
    )
    machine = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "streamlit": version_of("streamlit"),
        "sqlalchemy": version_of("sqlalchemy"),
    }
    print(f"\nmachine: {machine}")
    spans, load_s = loaded["spans"], loaded["load_s"]
    print(f"load: {spans:,} spans in {load_s:.1f} s; the 10,000-span trace in {big_load_s:.1f} s")
    write_json(args.json, {"load": loaded, "results": results, "machine": machine})


if __name__ == "__main__":
    main()
