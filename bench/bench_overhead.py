"""(a) Caller-side cost per traced call: llmtrace vs a bare OpenTelemetry span vs MLflow.

The traced function is `answer(question: str, k: int) -> str` (bench/_workload.py). Each
contender is called `--n` times per repeat after a warm-up; the result is the median over
`--repeats` of the mean time per call on the caller's thread, in microseconds. Repeats are
round-robin (every repeat runs every contender), so that load from other processes spreads
over all contenders, and the ratio to the bare OpenTelemetry span is the median of the
per-repeat ratios (baseline: the cheaper of the two OTel processors in that repeat). MLflow
runs afterwards in its own interpreter (bench/peer_mlflow.py).

llmtrace is measured in two ways, because CPython runs the export thread under the same GIL:

- "export running": the default pipeline; the background writer converts and stores spans
  while the loop runs, so the time per call includes the export work it takes from the caller
  (what a tight loop sees; the steady state of a CPU-bound caller).
- "hot path": the export is deferred until the flush after each repeat (flush interval 1 h,
  batch size above the queue), which isolates what the decorator itself costs the caller
  (what a caller sees when the export runs while it waits on I/O, e.g. an LLM call).

Usage: python bench/bench_overhead.py [--n 20000] [--repeats 7] [--quick] [--[no-]peer]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PEER_OFF,
    add_common_args,
    machine_info,
    print_table,
    run_peer,
    want_peer,
    write_json,
)
from _workload import QUESTION, answer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

import llmtrace
from llmtrace.store import SqlStore

TARGET_RATIO = 1.5


class NoOpExporter(SpanExporter):
    """Accepts every span and does nothing: the cost of the SDK alone."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class Contender:
    """Something to call: `start()` before each repeat returns the call, `settle()` and
    `end_repeat()` run untimed after the warm-up and after the timed calls."""

    label = ""

    def start(self) -> Callable[[], object]:
        return lambda: answer(QUESTION, 3)

    def settle(self) -> None:
        """Untimed, after the warm-up."""

    def end_repeat(self) -> None:
        """Untimed, after the timed calls."""

    def close(self) -> dict[str, Any]:
        return {}


class Plain(Contender):
    label = "plain function"


class OtelSpan(Contender):
    """`answer` inside `tracer.start_as_current_span` on its own provider."""

    def __init__(self, label: str, processor: SimpleSpanProcessor | BatchSpanProcessor) -> None:
        self.label = label
        self.processor = processor
        self.provider = TracerProvider()
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("bench")

    def start(self) -> Callable[[], object]:
        tracer = self.tracer

        def call() -> str:
            with tracer.start_as_current_span("answer"):
                return answer(QUESTION, 3)

        return call

    def settle(self) -> None:
        self.processor.force_flush()

    end_repeat = settle

    def close(self) -> dict[str, Any]:
        self.provider.shutdown()
        return {}


class Llmtrace(Contender):
    """`@llmtrace.trace` on `answer`, storing into its own SQLite file.

    `deferred` keeps the export thread asleep until the flush after the timed calls.
    """

    def __init__(
        self, label: str, db: Path, queue_size: int, *, capture: bool, deferred: bool
    ) -> None:
        self.label = label
        self.url = f"sqlite:///{db}"
        self.options: dict[str, Any] = {
            "queue_size": queue_size,
            "capture_inputs": capture,
            "capture_outputs": capture,
        }
        if deferred:
            self.options.update(batch_size=queue_size, flush_interval=3600.0)
        self.flush_s: list[float] = []
        self.calls = 0
        self.exported = 0
        self.dropped = 0

    def start(self) -> Callable[[], object]:
        llmtrace.configure(store=self.url, project="bench-overhead", **self.options)
        traced = llmtrace.trace(answer)
        return lambda: traced(QUESTION, 3)

    def settle(self) -> None:
        llmtrace.flush(timeout=600)

    def end_repeat(self) -> None:
        t0 = time.perf_counter()
        llmtrace.flush(timeout=600)
        self.flush_s.append(time.perf_counter() - t0)
        stats = llmtrace.stats()
        self.exported += stats.exported
        self.dropped += stats.dropped
        llmtrace.shutdown()

    def close(self) -> dict[str, Any]:
        store = SqlStore(self.url)
        stored = store.count_spans()
        store.close()
        return {
            "flush_after_repeat_s": self.flush_s,
            "exported": self.exported,
            "dropped": self.dropped,
            "stored_spans": stored,
        }


def measure(
    contenders: list[Contender], n: int, repeats: int, warmup: int
) -> dict[str, dict[str, Any]]:
    """Round-robin: every repeat runs every contender once, so that load from other processes
    on the machine spreads over all of them instead of hitting one."""
    samples: dict[str, list[float]] = {c.label: [] for c in contenders}
    perf = time.perf_counter_ns
    for r in range(repeats):
        print(f"  repeat {r + 1}/{repeats}", file=sys.stderr)
        for c in contenders:
            call = c.start()
            for _ in range(warmup):
                call()
            c.settle()
            t0 = perf()
            for _ in range(n):
                call()
            samples[c.label].append((perf() - t0) / n / 1000)
            c.end_repeat()
    out = {}
    for c in contenders:
        row = {"per_call_us": statistics.median(samples[c.label]), "samples_us": samples[c.label]}
        row.update(c.close())
        if "flush_after_repeat_s" in row:
            # Call-to-stored time per trace: the timed calls plus the flush completing them.
            per_trace = [
                (us * n / 1000 + f * 1000) / n
                for us, f in zip(row["samples_us"], row["flush_after_repeat_s"], strict=True)
            ]
            row["call_to_stored_ms_per_trace"] = statistics.median(per_trace)
            row["expected_spans"] = (n + warmup) * repeats
        out[c.label] = row
    return out


def run(n: int = 20_000, repeats: int = 7, *, quick: bool = False, peer: bool = True) -> dict:
    """Measure every contender; returns the results as a dict (also printed as a table)."""
    if quick:
        n, repeats = min(n, 1000), min(repeats, 3)
    warmup = max(500, n // 20)
    queue_size = max(200_000, 2 * (n + warmup))
    results: dict[str, Any] = {"n": n, "repeats": repeats, "warmup": warmup}
    with tempfile.TemporaryDirectory(prefix="llmtrace-bench-") as tmp:
        contenders: list[Contender] = [
            Plain(),
            OtelSpan("OTel span, SimpleSpanProcessor", SimpleSpanProcessor(NoOpExporter())),
            OtelSpan(
                "OTel span, BatchSpanProcessor",
                BatchSpanProcessor(NoOpExporter(), max_queue_size=queue_size),
            ),
        ]
        for label, capture, deferred in (
            ("llmtrace, capture on, export running", True, False),
            ("llmtrace, capture on, hot path", True, True),
            ("llmtrace, capture off, export running", False, False),
            ("llmtrace, capture off, hot path", False, True),
        ):
            db = Path(tmp) / f"{len(contenders)}.db"
            contenders.append(Llmtrace(label, db, queue_size, capture=capture, deferred=deferred))
        rows = measure(contenders, n, repeats, warmup)
    results["contenders"] = rows

    if peer:
        peer_n, peer_repeats = (10, 2) if quick else (100, 5)
        results["mlflow_async"] = run_peer(
            ["overhead", "--n", str(peer_n), "--repeats", str(peer_repeats)]
        )
        results["mlflow_sync"] = run_peer(
            [
                "overhead",
                "--n",
                "5" if quick else "20",
                "--repeats",
                "2" if quick else "3",
                "--sync",
            ]
        )
        for key, label in (
            ("mlflow_async", "MLflow @mlflow.trace (async logging, default)"),
            ("mlflow_sync", "MLflow @mlflow.trace (sync logging)"),
        ):
            if "skipped" not in results[key]:
                rows[label] = results[key]
    else:
        results["mlflow_async"] = {"skipped": PEER_OFF}

    simple = rows["OTel span, SimpleSpanProcessor"]["samples_us"]
    batch_us = rows["OTel span, BatchSpanProcessor"]["samples_us"]
    # The bare-span baseline of each repeat: the cheaper of the two OTel processors.
    baseline = [min(a, b) for a, b in zip(simple, batch_us, strict=True)]
    for row in rows.values():
        row["min_us"] = min(row["samples_us"])
        if len(row["samples_us"]) == len(baseline):
            # Paired: each repeat's llmtrace time over the same repeat's bare span, so that
            # load from other processes (which moves both) cancels out.
            row["x_otel"] = statistics.median(
                x / b for x, b in zip(row["samples_us"], baseline, strict=True)
            )
        else:  # MLflow runs separately, not round-robin: ratio of medians
            row["x_otel"] = row["per_call_us"] / statistics.median(baseline)
    hot = rows["llmtrace, capture on, hot path"]["x_otel"]
    running = rows["llmtrace, capture on, export running"]["x_otel"]
    results["target"] = {
        "ratio_limit": TARGET_RATIO,
        "baseline_us": statistics.median(baseline),
        "hot_path_ratio": hot,
        "export_running_ratio": running,
        "hot_path_met": hot <= TARGET_RATIO,
        "export_running_met": running <= TARGET_RATIO,
    }
    return results


def report(results: dict[str, Any]) -> None:
    """Print the results as a table."""
    table = []
    for label, row in results["contenders"].items():
        extra = []
        if "dropped" in row:
            extra.append(
                f"dropped {row['dropped']}, stored {row['stored_spans']:,}/"
                f"{row['expected_spans']:,}"
            )
            extra.append(f"call→stored {row['call_to_stored_ms_per_trace']:.3f} ms/trace")
        if "persist_ms_per_trace" in row:
            extra.append(f"{row['calls']} calls, stored {row['stored_traces']}")
            extra.append(f"call→stored {row['persist_ms_per_trace']:.1f} ms/trace")
        table.append(
            [label, row["per_call_us"], row["min_us"], f"{row['x_otel']:.2f}x", "; ".join(extra)]
        )
    print_table(
        ["contender", "µs/call (median)", "µs/call (min)", "x bare OTel span", "notes"],
        table,
        title=f"(a) caller-side cost, {results['n']:,} calls x {results['repeats']} repeats",
    )
    for key in ("mlflow_async", "mlflow_sync"):
        if "skipped" in results.get(key, {}):
            print(f"note: {results[key]['skipped']}")
            break
    t = results["target"]
    print(
        f"target ≤ {t['ratio_limit']}x bare OTel span ({t['baseline_us']:.1f} µs): hot path "
        f"{t['hot_path_ratio']:.2f}x ({'met' if t['hot_path_met'] else 'MISSED'}), "
        f"export running {t['export_running_ratio']:.2f}x "
        f"({'met' if t['export_running_met'] else 'MISSED'})"
    )


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    add_common_args(parser)
    args = parser.parse_args(argv)
    results = run(args.n, args.repeats, quick=args.quick, peer=want_peer(args))
    results["machine"] = machine_info()
    report(results)
    write_json(args.json, results)


if __name__ == "__main__":
    main()
