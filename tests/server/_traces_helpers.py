"""Span records for the trace REST tests: small traces with models, tokens, costs, tags,
metadata, sessions, payloads and errors, built the way the tracing layer builds them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from llmtrace import semconv as sc
from llmtrace.store import SpanRecord

NOW_NS = int(datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc).timestamp() * 1e9)
MS = 1_000_000


def tid(n: int) -> str:
    return f"{n:032x}"


def sid(n: int) -> str:
    return f"{n:016x}"


def record(
    trace: int,
    span: int,
    parent: int | None = None,
    *,
    name: str = "step",
    start_ms: float = 0,
    dur_ms: float = 10,
    status: str = "OK",
    attrs: dict[str, Any] | None = None,
    project: str = "proj",
) -> SpanRecord:
    start = NOW_NS + int(start_ms * MS)
    return SpanRecord(
        trace_id=tid(trace),
        span_id=sid(span),
        parent_span_id=sid(parent) if parent is not None else None,
        name=name,
        start_time_ns=start,
        end_time_ns=start + int(dur_ms * MS),
        status=status,
        status_message="boom" if status == "ERROR" else None,
        attributes=attrs or {},
        events=[{"name": "retry", "timestamp_ns": start + 1000, "attributes": {"n": 1}}],
        resource={sc.RESOURCE_PROJECT: project},
        is_local_root=parent is None,
    )


def llm_attrs(
    inp: int, out: int, cost: float | None = None, model: str = "gpt-test"
) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.SPAN_TYPE: "LLM",
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_USAGE_INPUT_TOKENS: inp,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: out,
        "gen_ai.request.stop_sequences": ("\n", "END"),
    }
    if cost is not None:
        attrs[sc.COST_TOTAL] = cost
    return attrs


def many_traces(n: int = 30) -> list[SpanRecord]:
    """`n` traces `t0`..`t{n-1}` (ids 100+i), one a second, each a root and an LLM call;
    every 7th fails, odd ones are tagged env=prod, even ones env=dev; every 3rd is in project
    "other"; priced calls cost 0.001 (model "priced"), the others have no price."""
    batch = []
    for i in range(n):
        attrs = {
            sc.TRACE_TAG_PREFIX + "env": "prod" if i % 2 else "dev",
            sc.TRACE_METADATA_PREFIX + "build": f"b{i % 4}",
            sc.TRACE_SESSION_ID: f"s-{i % 3}",
            sc.SPAN_INPUTS: json.dumps({"q": f"question {i}", "n": i, "ok": True}),
            sc.SPAN_OUTPUTS: json.dumps(["answer", i, None, 1.5]),
        }
        project = "other" if i % 3 == 0 else "proj"
        status = "ERROR" if i % 7 == 0 else "OK"
        batch.append(
            record(
                100 + i,
                1,
                name=f"t{i}",
                start_ms=i * 1000,
                dur_ms=i * 10 + 0.123,
                status=status,
                attrs=attrs,
                project=project,
            )
        )
        priced = i % 2 == 0
        llm = llm_attrs(i, 1, 0.001 if priced else None, "priced" if priced else "free")
        batch.append(
            record(
                100 + i,
                2,
                1,
                name="generate",
                start_ms=i * 1000 + 1,
                attrs=llm,
                project=project,
            )
        )
    return batch


def deep_trace(trace: int, depth: int) -> list[SpanRecord]:
    """One trace whose spans form a chain `depth` deep (an agent calling itself)."""
    return [
        record(trace, i + 1, i if i else None, name=f"level{i}", start_ms=i * 0.01, dur_ms=1000)
        for i in range(depth)
    ]
