"""Context propagation: asyncio tasks, thread pools, threads, and the OpenTelemetry provider."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import llmtrace
from llmtrace.tracing import _runtime
from tests.tracing.conftest import only_trace, stored_traces


@llmtrace.trace
def leaf(i: int) -> int:
    return i


def _parent_names(trace: llmtrace.Trace) -> dict[str, str | None]:
    by_id = {s.span_id: s for s in trace.spans}
    out = {}
    for s in trace.spans:
        parent = by_id.get(s.parent_span_id) if s.parent_span_id else None
        out[f"{s.name}:{s.span_id}"] = parent.name if parent else None
    return out


@pytest.mark.usefixtures("traced")
def test_asyncio_gather_children_nest_under_the_caller() -> None:
    @llmtrace.trace
    async def task(i: int) -> int:
        await asyncio.sleep(0.001 * (3 - i))
        return leaf(i)

    @llmtrace.trace
    async def fan_out() -> list[int]:
        return await asyncio.gather(*(task(i) for i in range(3)))

    assert asyncio.run(fan_out()) == [0, 1, 2]
    trace = only_trace()
    root = trace.root
    assert root is not None
    assert len(root.children) == 3
    for child in root.children:
        assert child.name.endswith("task")
        assert [c.name.rsplit(".", 1)[-1] for c in child.children] == ["leaf"]


@pytest.mark.usefixtures("traced")
def test_context_thread_pool_nests_worker_spans() -> None:
    @llmtrace.trace
    def parallel() -> list[int]:
        with llmtrace.ContextThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(leaf, range(8)))

    assert parallel() == list(range(8))
    trace = only_trace()
    root = trace.root
    assert root is not None
    assert len(root.children) == 8
    assert trace.info.span_count == 9


@pytest.mark.usefixtures("traced")
def test_with_context_for_plain_threads_and_pools() -> None:
    @llmtrace.trace
    def spawn() -> None:
        t = threading.Thread(target=llmtrace.with_context(leaf), args=(1,))
        t.start()
        t.join()
        bound = llmtrace.with_context(leaf)
        with ThreadPoolExecutor(2) as pool:  # one bound callable, called from two threads
            list(pool.map(bound, [2, 3]))

    spawn()
    trace = only_trace()
    assert trace.root is not None
    assert len(trace.root.children) == 3


@pytest.mark.usefixtures("traced")
def test_plain_thread_pool_without_helper_starts_new_traces() -> None:
    @llmtrace.trace
    def parallel() -> None:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(leaf, range(2)))

    parallel()
    assert len(stored_traces()) == 3


def test_own_provider_leaves_global_alone(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    before = otel_trace.get_tracer_provider()
    configure_tracing()
    with llmtrace.span("x"):
        pass
    assert otel_trace.get_tracer_provider() is before
    assert _runtime.get_runtime().provider is not before


def test_join_existing_global_provider(configure_tracing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Install a global provider for this test only (OpenTelemetry allows setting it once).
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", provider)
    configure_tracing(use_global_provider=True)

    with llmtrace.span("shared"):
        pass
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["shared"]
    assert only_trace().info.name == "shared"


def test_span_under_foreign_parent_is_the_stored_root(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    configure_tracing()
    other = TracerProvider().get_tracer("app")
    with other.start_as_current_span("http request") as parent, llmtrace.span("handler"):
        pass
    trace = only_trace()
    assert trace.info.name == "handler"
    assert trace.trace_id == format(parent.get_span_context().trace_id, "032x")
    assert trace.root is not None and trace.root.parent_span_id is not None
