"""(a') Caller-side cost per traced call in the steady state: the export queue drained.

`bench_overhead.py` times 20,000 calls in one go. With the export deferred, 20,000 finished
spans then sit in memory and CPython's cyclic garbage collector rescans them again and again,
which inflates the per-call time of every contender that keeps spans (OpenTelemetry's own
BatchSpanProcessor included). A running application drains its queue every 0.5 s or 2,048
spans, so here every contender is timed in blocks of 1,000 calls, and the export is flushed
(untimed) between blocks: what remains is what the decorator costs the calling thread.

Usage: python bench/bench_steady.py [--blocks 40] [--block 1000] [--json FILE]
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

from _common import machine_info, print_table, write_json
from _workload import QUESTION, answer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

import llmtrace
from llmtrace.tracing import _runtime

TARGET_RATIO = 1.5


class _NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _otel(processor: Any) -> tuple[Callable[[], object], Callable[[], object]]:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")

    def call() -> object:
        with tracer.start_as_current_span("answer"):
            return answer(QUESTION, 3)

    return call, provider.force_flush


def _llmtrace(db: Path, capture: bool) -> tuple[Callable[[], object], Callable[[], object]]:
    llmtrace.configure(
        store=f"sqlite:///{db}",
        project="bench-steady",
        capture_inputs=capture,
        capture_outputs=capture,
        flush_interval=3600.0,
    )
    traced = llmtrace.trace(answer)
    return lambda: traced(QUESTION, 3), llmtrace.flush


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--block", type=int, default=1000)
    parser.add_argument("--json", help="write results as JSON here")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="llmtrace-steady-"))
    labels = [
        "OTel span, SimpleSpanProcessor",
        "OTel span, BatchSpanProcessor",
        "llmtrace, capture on",
        "llmtrace, capture off",
    ]
    samples: dict[str, list[float]] = {label: [] for label in labels}
    perf = time.perf_counter_ns
    for b in range(args.blocks):
        for label in labels:
            if label.startswith("OTel span, Simple"):
                call, flush = _otel(SimpleSpanProcessor(_NoopExporter()))
            elif label.startswith("OTel span, Batch"):
                call, flush = _otel(BatchSpanProcessor(_NoopExporter()))
            else:
                call, flush = _llmtrace(tmp / f"b{b}.db", capture=label.endswith("on"))
            for _ in range(100):  # warm-up
                call()
            flush()
            t0 = perf()
            for _ in range(args.block):
                call()
            samples[label].append((perf() - t0) / args.block / 1000)
            flush()
            if label.startswith("llmtrace"):
                _runtime.reset()
    base = [min(a, b) for a, b in zip(samples[labels[0]], samples[labels[1]], strict=True)]
    rows, results = [], {}
    for label in labels:
        ratios = [s / b for s, b in zip(samples[label], base, strict=True)]
        results[label] = {
            "per_call_us": statistics.median(samples[label]),
            "x_otel": statistics.median(ratios),
            "samples_us": samples[label],
        }
        rows.append(
            [label, f"{results[label]['per_call_us']:.1f}", f"{statistics.median(ratios):.2f}x"]
        )
    print_table(
        ["contender", "µs/call (median)", "vs bare OTel"],
        rows,
        f"Steady-state caller cost: {args.blocks} blocks x {args.block} calls, queue drained",
    )
    ratio = results["llmtrace, capture on"]["x_otel"]
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"target <= {TARGET_RATIO}x bare OTel span: {ratio:.2f}x ({verdict})")
    write_json(
        args.json,
        {
            "blocks": args.blocks,
            "block": args.block,
            "contenders": results,
            "target": {"ratio_limit": TARGET_RATIO, "ratio": ratio, "met": ratio <= TARGET_RATIO},
            "machine": machine_info(),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
