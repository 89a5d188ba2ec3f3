"""(d) The OpenAI integration's overhead: wall time per call of the real `openai` client against a
local OpenAI-compatible server that answers after 5 ms, with and without
`llmtrace.instrument("openai")`, in the same run.

The server (tests/integrations/fake_openai_server.py) runs in its own process, so that its work
does not compete with the client for this interpreter's GIL. Two calls are measured: a chat
completion, and a streamed chat completion read to the end (5 chunks; traced, the server also
sends the usage chunk llmtrace asks for and hides from the caller).

Modes, all in the same run: "plain" (not instrumented, the baseline); "traced" (the defaults:
payload capture on, SQLite store, the export thread running during the calls as in an
application); "traced, export deferred" (the export thread sleeps until the untimed flush after
the block: what the integration costs the calling thread alone); for the stream also
"traced, stream_usage=False" (no usage chunk asked for). Every round runs every mode of every
workload, in an order reversed every other round so that drift on the machine spreads over all
modes; each mode makes `--block` calls after a short warm-up, each call timed on its own, and
is flushed (untimed) afterwards so that no export work lands on the next block.

Reported per mode: median and p95 wall time over all its calls, the overhead against "plain"
in percent (of the medians, and the median over rounds of the per-round median ratio, which is
robust to slow phases of the machine) and in microseconds. Target: under 5 % on the median.

Usage: python bench/bench_openai.py [--rounds 20] [--block 50] [--latency 0.005] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import openai
from _common import BENCH_DIR, machine_info, print_table, version_of, write_json

import llmtrace

SERVER_SCRIPT = BENCH_DIR.parent / "tests" / "integrations" / "fake_openai_server.py"
TARGET_PERCENT = 5.0
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one word."},
]


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    """The fake server in a child process; returns it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"fake server did not start (said {url!r})")
    return proc, url


def workloads(client: openai.OpenAI) -> dict[str, Callable[[], object]]:
    """The calls measured, by name."""

    def chat() -> object:
        return client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            temperature=0.2,  # type: ignore[arg-type]
        )

    def chat_stream() -> object:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            temperature=0.2,
            stream=True,
        )
        return [chunk for chunk in stream]

    return {"chat": chat, "chat, streamed": chat_stream}


def run_block(call: Callable[[], object], n: int, warmup: int) -> list[float]:
    """`n` calls after `warmup` untimed ones; each call's wall time in ms."""
    for _ in range(warmup):
        call()
    perf = time.perf_counter_ns
    out = []
    for _ in range(n):
        t0 = perf()
        call()
        out.append((perf() - t0) / 1e6)
    return out


def p95(values: list[float]) -> float:
    """95th percentile (inclusive method)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


class Mode:
    """One way of running the calls: plain, or traced with some settings."""

    def __init__(self, label: str, db: str | None, *, deferred: bool = False, **options: Any):
        self.label = label
        self.db = db
        self.deferred = deferred
        self.options = options

    def __enter__(self) -> None:
        if self.db is None:
            return
        settings: dict[str, Any] = {"store": self.db, "project": "bench-openai"}
        if self.deferred:  # the export thread sleeps until the untimed flush after the block
            settings.update(flush_interval=3600.0, batch_size=100_000, queue_size=100_000)
        llmtrace.configure(**settings)
        llmtrace.instrument("openai", **self.options)

    def __exit__(self, *exc: object) -> None:
        if self.db is None:
            return
        llmtrace.uninstrument("openai")
        llmtrace.flush(timeout=60)


def modes(db: str) -> dict[str, list[Mode]]:
    """The modes compared, per workload; the first is the baseline."""
    plain = Mode("plain", None)
    traced = Mode("traced", db)
    deferred = Mode("traced, export deferred", db, deferred=True)
    no_usage = Mode("traced, stream_usage=False", db, stream_usage=False)
    return {
        "chat": [plain, traced, deferred],
        "chat, streamed": [plain, traced, deferred, no_usage],
    }


def measure(
    calls: dict[str, Callable[[], object]],
    by_workload: dict[str, list[Mode]],
    rounds: int,
    block: int,
    warmup: int,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Interleaved rounds: every round runs every mode of every workload, in an order that is
    reversed every other round."""
    samples: dict[tuple[str, str], list[float]] = {}
    ratios: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        print(f"  round {r + 1}/{rounds}", file=sys.stderr)
        for name, call in calls.items():
            run = by_workload[name] if r % 2 == 0 else list(reversed(by_workload[name]))
            medians = {}
            for mode in run:
                with mode:
                    times = run_block(call, block, warmup)
                samples.setdefault((name, mode.label), []).extend(times)
                medians[mode.label] = statistics.median(times)
            base = medians[by_workload[name][0].label]
            for label, median in medians.items():
                ratios.setdefault((name, label), []).append(median / base)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name in calls:
        base = samples[(name, by_workload[name][0].label)]
        base_median, base_p95 = statistics.median(base), p95(base)
        results[name] = {}
        for mode in by_workload[name]:
            times = samples[(name, mode.label)]
            median, tail = statistics.median(times), p95(times)
            results[name][mode.label] = {
                "median_ms": median,
                "p95_ms": tail,
                "overhead_median_pct": 100 * (median / base_median - 1),
                "overhead_p95_pct": 100 * (tail / base_p95 - 1),
                "overhead_round_pct": 100 * (statistics.median(ratios[(name, mode.label)]) - 1),
                "added_us_median": 1000 * (median - base_median),
                "calls": len(times),
            }
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=50, help="timed calls per mode and round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.005, help="server delay, seconds")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (< 30 s)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.block = 4, 20

    proc, url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="llmtrace-bench-openai-") as tmp:
            db = f"sqlite:///{Path(tmp) / 'bench.db'}"
            with openai.OpenAI(base_url=url, api_key="sk-bench", max_retries=0) as client:
                results = measure(
                    workloads(client), modes(db), args.rounds, args.block, args.warmup
                )
            llmtrace.shutdown()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    rows = []
    for name, by_mode in results.items():
        for label, r in by_mode.items():
            baseline = label == "plain"
            rows.append(
                [
                    name,
                    label,
                    round(r["median_ms"], 3),
                    "—" if baseline else f"{r['overhead_median_pct']:+.1f} %",
                    "—" if baseline else f"{r['overhead_round_pct']:+.1f} %",
                    "—" if baseline else round(r["added_us_median"]),
                    round(r["p95_ms"], 3),
                    "—" if baseline else f"{r['overhead_p95_pct']:+.1f} %",
                ]
            )
    headers = [
        "call",
        "mode",
        "median ms",
        "overhead (medians)",
        "overhead (median of round ratios)",
        "added µs",
        "p95 ms",
        "p95 overhead",
    ]
    title = (
        f"OpenAI integration, server latency {args.latency * 1000:g} ms, {args.rounds} rounds x "
        f"{args.block} calls per mode (openai {version_of('openai')})"
    )
    print_table(headers, rows, title)
    worst = max(results[name]["traced"]["overhead_median_pct"] for name in results)
    verdict = "met" if worst < TARGET_PERCENT else "missed"
    target = f"median overhead < {TARGET_PERCENT:g} % (traced)"
    print(f"\nTarget: {target} — {verdict} (worst {worst:+.1f} %)")
    payload = {
        "machine": machine_info(),
        "openai_version": version_of("openai"),
        "args": vars(args),
        "results": results,
    }
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
