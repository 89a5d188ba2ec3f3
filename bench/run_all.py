"""Run the benchmarks (each in its own process) and print one summary table.

    python bench/run_all.py              # full run (~20 minutes; MLflow if set up)
    python bench/run_all.py --quick      # smoke run, ~2 minutes, SQLite only, no MLflow
    python bench/run_all.py --out DIR    # also keep each benchmark's JSON results in DIR
    python bench/run_all.py --only tracking,openai      # a subset

The benchmarks: (a) overhead, (b) persist, (c) search, (d) openai (the integration's overhead
against a local server; no peer), (e) tracking (experiment tracking beside MLflow's).

Each benchmark prints its own detailed table as it finishes; the summary compares llmtrace with
the bare OpenTelemetry span and with MLflow against the targets of the issue.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt, machine_info, peer_python, print_table

BENCHES = (
    "bench_overhead",
    "bench_persist",
    "bench_search",
    "bench_openai",
    "bench_tracking",
    "bench_ingest",
    "bench_eval",
)
# bench_openai has no peer (its flags: --quick only); bench_ingest takes --quick, --no-peer
# and --json; the others share _common's flags.
_NO_PEER = {"bench_openai"}
_NO_PEER_FLAG_ONLY = {"bench_ingest"}


def _flags(name: str, quick: bool, peer: bool, no_peer: bool) -> list[str]:
    """The command-line flags `name` accepts of the ones run_all was given."""
    flags = ["--quick"] if quick else []
    if name in _NO_PEER_FLAG_ONLY:
        return flags + (["--no-peer"] if no_peer or (quick and not peer) else [])
    if name not in _NO_PEER:
        flags += ["--peer"] if peer else []
        flags += ["--no-peer"] if no_peer else []
    if name == "bench_tracking" and quick:
        flags += ["--backends", "sqlite"]  # the smoke run stays off the servers
    return flags


def _run(name: str, out_dir: Path, extra: list[str]) -> dict[str, Any] | None:
    """Run one benchmark script; its JSON results, or None if it failed."""
    path = out_dir / f"{name}.json"
    script = Path(__file__).resolve().parent / f"{name}.py"
    print(f"\n=== {name} {' '.join(extra)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), "--json", str(path), *extra], check=False)
    print(f"=== {name}: {time.perf_counter() - t0:.0f} s, exit {proc.returncode}", flush=True)
    if proc.returncode != 0 or not path.exists():
        return None
    return json.loads(path.read_text())


def _verdict(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "MISSED")


def summary(results: dict[str, dict[str, Any] | None]) -> list[list[Any]]:
    """One row per headline number: llmtrace, bare OTel, MLflow, target, verdict."""
    rows: list[list[Any]] = []
    ov = results.get("bench_overhead")
    if ov:
        c = ov["contenders"]
        t = ov["target"]
        otel = t["baseline_us"]
        mlflow_row = c.get("MLflow @mlflow.trace (async logging, default)")
        mlflow = (
            f"{fmt(mlflow_row['per_call_us'])} ({mlflow_row['x_otel']:.0f}x)"
            if mlflow_row
            else None
        )
        for label, key, met in (
            ("(a) µs per call, hot path", "llmtrace, capture on, hot path", t["hot_path_met"]),
            (
                "(a) µs per call, export running",
                "llmtrace, capture on, export running",
                t["export_running_met"],
            ),
        ):
            us = c[key]["per_call_us"]
            rows.append(
                [label, f"{fmt(us)} ({c[key]['x_otel']:.2f}x)", fmt(otel), fmt(mlflow),
                 "≤ 1.5x OTel", _verdict(met)]
            )  # fmt: skip
        sync = c.get("MLflow @mlflow.trace (sync logging)", {}).get("persist_ms_per_trace")
        e2e = c["llmtrace, capture on, export running"]["call_to_stored_ms_per_trace"]
        rows.append(["(a) ms per trace, call → stored", fmt(e2e, 3), "—", fmt(sync), "—", "—"])
    pe = results.get("bench_persist")
    if pe:
        mlflow = pe.get("mlflow", {}).get("spans_per_s")
        for backend, r in pe["backends"].items():
            if "end_to_end" not in r:
                continue
            target = "≥ 30,000" if backend == "sqlite" else "—"
            t = pe.get("target", {}) if backend == "sqlite" else {}
            rows.append(
                [f"(b) spans/s end to end → {backend}", fmt(r["end_to_end"]["spans_per_s"], 0),
                 "—", fmt(mlflow, 0) if backend == "sqlite" else "—", target,
                 _verdict(t.get("end_to_end_met"))]
            )  # fmt: skip
            rows.append(
                [f"(b) spans/s store write → {backend}", fmt(r["store_write"]["spans_per_s"], 0),
                 "—", "—", target, _verdict(t.get("store_write_met"))]
            )  # fmt: skip
    se = results.get("bench_search")
    if se:
        m = se.get("mlflow", {})
        for backend, r in se["backends"].items():
            if "queries" not in r:
                continue
            q = r["queries"]
            n = r["load"]["traces"]
            slow_label = max(q, key=lambda k: q[k]["first_page_ms"])
            fast = [k for k in q if q[k]["first_page_ms"] < 50]
            target = "< 50 ms" if backend == "sqlite" else "—"
            met = se.get("target", {}).get("met") if backend == "sqlite" else None
            mq = m.get("queries", {}) if backend == "sqlite" else {}
            m_slow = max(
                (v["first_page_ms"] for v in mq.values() if "first_page_ms" in v), default=None
            )
            rows.append(
                [f"(c) search ms, slowest filter, {backend} {n // 1000}k ({slow_label})",
                 fmt(q[slow_label]["first_page_ms"]), "—",
                 f"{fmt(m_slow)} ({m['traces'] // 1000}k)" if m_slow is not None else "—",
                 target, _verdict(met)]
            )  # fmt: skip
            rows.append(
                [f"(c) filters under 50 ms, {backend}", f"{len(fast)} of {len(q)}", "—",
                 "—", "all", "—"]
            )  # fmt: skip
    rows += _summary_openai(results.get("bench_openai"))
    rows += _summary_tracking(results.get("bench_tracking"))
    rows += _summary_eval(results.get("bench_eval"))
    return rows


def _summary_openai(op: dict[str, Any] | None) -> list[list[Any]]:
    """(d): the traced mode's overhead per call against the uninstrumented client."""
    if not op:
        return []
    target = op.get("target_percent", 5.0)
    rows: list[list[Any]] = []
    for name, by_mode in op["results"].items():
        traced = by_mode["traced"]
        pct = traced["overhead_median_pct"]
        rows.append(
            [f"(d) instrument('openai'), {name}: added per call",
             f"{pct:+.1f} % ({traced['added_us_median']:,.0f} µs)", "—", "not measured",
             f"< {target:g} %", _verdict(pct < target)]
        )  # fmt: skip
    return rows


def _summary_eval(ev: dict[str, Any] | None) -> list[list[Any]]:
    """(g): evaluation wall time against the concurrency limit, and per row against MLflow."""
    if not ev or "llmtrace" not in ev:
        return []
    ours = ev["llmtrace"]
    ratio = ours.get("wall_over_limit")
    speedup = ev.get("speedup_vs_mlflow_per_row")
    return [
        [f"(g) evaluate {ev['rows']} rows x 3 judges, wall / limit",
         f"{ratio:.2f}x" if ratio else "—", "—",
         f"{speedup:.0f}x slower per row" if speedup else "—",
         "≤ 1.3x limit, ≥ 3x MLflow",
         _verdict(None if ratio is None else ratio <= 1.3 and (speedup is None or speedup >= 3))]
    ]  # fmt: skip


def _summary_tracking(tr: dict[str, Any] | None) -> list[list[Any]]:
    """(e): per backend, µs per log_param / log_metric and search_runs page 1, beside MLflow."""
    if not tr:
        return []
    rows: list[list[Any]] = []
    params, points = tr["sizes"]["params"], tr["sizes"]["points"]
    for backend, res in tr["results"].items():
        ours, peer = res["llmtrace"], res.get("mlflow", {})
        theirs = None if "skipped" in peer else peer
        for label, key, calls in (
            ("log_param", "params_s", params),
            ("log_metric", "metrics_s", points),
        ):
            a = ours["log"]["loop"][key] / calls * 1e6
            b = theirs["log"]["loop"][key] / calls * 1e6 if theirs else None
            ratio = b / a if b else None
            rows.append(
                [f"(e) µs per {label}, {backend}", fmt(a, 0),
                 "—", f"{fmt(b, 0)} ({ratio:.1f}x)" if b else "—",
                 "≥ 5x faster", _verdict(None if ratio is None else ratio >= 5)]
            )  # fmt: skip
        search = ours["search"]
        for label, a, b in (
            ("first search after load", search["first_call_ms"],
             theirs["search"].get("first_call_ms") if theirs else None),
            ("page 1, as loaded", search["as_loaded"]["first_page_ms"],
             theirs["search"]["as_loaded"]["first_page_ms"] if theirs else None),
            ("page 1, analysed", search["analyzed"]["first_page_ms"],
             theirs["search"]["analyzed"]["first_page_ms"] if theirs else None),
        ):  # fmt: skip
            ratio = b / a if b else None
            met = a < 200 and (ratio is None or ratio >= 5)
            rows.append(
                [f"(e) search_runs ms, {label}, {backend} {search['runs'] // 1000}k runs",
                 fmt(a), "—", f"{fmt(b)} ({ratio:.1f}x)" if b else "—",
                 "< 200 ms, ≥ 5x", _verdict(met if ratio is not None else None)]
            )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run everything and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: < 60 s, no MLflow")
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument("--peer", action="store_true", help="measure MLflow even with --quick")
    peer.add_argument("--no-peer", action="store_true", help="skip MLflow")
    parser.add_argument("--out", help="directory for the JSON results (default: a temp dir)")
    parser.add_argument(
        "--only",
        help="comma-separated subset: overhead,persist,search,openai,tracking,ingest,eval",
    )
    args = parser.parse_args(argv)
    names = BENCHES
    if args.only:
        wanted = {f"bench_{w.strip()}" for w in args.only.split(",")}
        names = tuple(n for n in BENCHES if n in wanted)
    machine = machine_info()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="llmtrace-bench-results-") as tmp:
        out_dir = Path(args.out) if args.out else Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        results = {
            name: _run(name, out_dir, _flags(name, args.quick, args.peer, args.no_peer))
            for name in names
        }
        total = time.perf_counter() - t0
    print("\n=== summary")
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}, Python {machine['python']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in load) if load else 'n/a'}"
    )
    print("packages: " + ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v))
    print(f"llmtrace revision: {machine['llmtrace_revision']}")
    mlflow_version = next(
        (
            r.get(k, {}).get("mlflow_version")
            for r in results.values()
            if r
            for k in ("mlflow", "mlflow_async")
            if isinstance(r.get(k), dict) and r[k].get("mlflow_version")
        ),
        None,
    )
    if mlflow_version:
        print(f"peer: MLflow {mlflow_version} ({peer_python()})")
    else:
        print("peer: MLflow not measured (not set up, --no-peer, or --quick)")
    print_table(
        ["measure", "llmtrace", "bare OTel span", "MLflow", "target", "verdict"], summary(results)
    )
    failed = [n for n, r in results.items() if r is None]
    print(f"\ntotal {total:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
