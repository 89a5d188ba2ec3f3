"""The export pipeline: sampling, no loss under load, failures, drops, OTLP, configuration."""

from __future__ import annotations

import contextlib
import gzip
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan

import llmtrace
from llmtrace.tracing import _runtime
from llmtrace.tracing._processor import ExportProcessor
from tests.tracing.conftest import stored_traces


@llmtrace.trace
def _inner(i: int) -> int:
    return i


@llmtrace.trace
def _outer(i: int) -> int:
    return _inner(i) + 1


@llmtrace.trace
def _maybe_fail(i: int, mode: str) -> int:
    if mode == "root":
        raise ValueError(f"fail {i}")
    if mode == "child":
        with contextlib.suppress(KeyError):
            _failing_child()
    return i


@llmtrace.trace
def _failing_child() -> None:
    raise KeyError("child")


def test_no_loss_under_concurrency(configure_tracing, db_url: str) -> None:  # type: ignore[no-untyped-def]
    configure_tracing(store=db_url)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(1000):
                _outer(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert llmtrace.flush(120)
    st = llmtrace.stats()
    assert st.dropped == 0
    assert st.exported == 16_000
    store = llmtrace.get_store()
    assert store.count_spans() == 16_000  # type: ignore[attr-defined]
    page = store.search_traces(limit=10_000)
    assert len(page) == 8000 and page.next_page_token is None
    assert all(t.span_count == 2 and t.status == "OK" for t in page)


def test_sampling_zero_without_keep_errors_stores_nothing(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    configure_tracing(sample_rate=0.0, keep_errors=False)
    for i in range(20):
        _maybe_fail(i, "child")
        with pytest.raises(ValueError):
            _maybe_fail(i, "root")
    assert stored_traces() == []


def test_keep_errors_keeps_whole_failing_traces(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    configure_tracing(sample_rate=0.0, keep_errors=True)
    for i in range(20):
        _maybe_fail(i, "ok")
    for i in range(5):
        _maybe_fail(i, "child")
        with pytest.raises(ValueError):
            _maybe_fail(i, "root")
    traces = stored_traces()
    assert len(traces) == 10
    child_failed = [t for t in traces if t.info.span_count == 2]
    assert len(child_failed) == 5
    for t in child_failed:
        assert t.info.status == "OK" and t.info.error_count == 1
    assert sum(t.info.status == "ERROR" for t in traces) == 5
    assert llmtrace.stats().sampled_out_traces == 20


def test_head_sampling_ratio(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    configure_tracing(sample_rate=0.5)
    for i in range(1000):
        _outer(i)
    kept = stored_traces()
    assert 400 < len(kept) < 600
    # Children follow their root's decision: kept traces are complete.
    assert all(t.info.span_count == 2 for t in kept)


def test_unreachable_database_never_breaks_the_app(configure_tracing, caplog) -> None:  # type: ignore[no-untyped-def]
    configure_tracing(store="postgresql+psycopg://postgres@127.0.0.1:1/nowhere", queue_size=50)
    with caplog.at_level(logging.WARNING, logger="llmtrace"):
        results = [_outer(i) for i in range(100)]
        assert results == [i + 1 for i in range(100)]
        assert llmtrace.flush(1.0) is False
    st = llmtrace.stats()
    assert st.exported == 0
    assert st.failed_attempts >= 1
    assert st.dropped == 150  # 200 spans, 50 wait in the queue
    assert st.queued == 50
    assert st.last_error
    messages = " ".join(r.message for r in caplog.records)
    assert "could not store" in messages
    assert "dropped" in messages
    llmtrace.shutdown(timeout=0.2)  # the store stays down: give up quickly


def test_locked_sqlite_waits_and_loses_nothing(configure_tracing, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "locked.db"
    configure_tracing(store=f"sqlite:///{path}")
    _outer(0)
    assert llmtrace.flush(10)
    blocker = sqlite3.connect(path, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(200):
            _outer(i)
        time.sleep(0.5)
        assert llmtrace.stats().exported == 2  # the writer is waiting on the lock
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    assert llmtrace.flush(30)
    assert llmtrace.get_store().count_spans() == 402  # type: ignore[attr-defined]
    assert llmtrace.stats().dropped == 0


class FlakySink:
    """Fails the first `failures` exports, then stores batches in memory."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.batches: list[list[str]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database is down")
        self.batches.append([s.name for s in spans])

    def shutdown(self) -> None:
        pass


def test_processor_retries_failed_batches_in_order() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    sink = FlakySink(failures=3)
    processor = ExportProcessor(sink, max_queue=1000, batch_size=10, interval=0.01)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for i in range(25):
        tracer.start_span(f"s{i}").end()
    assert processor.force_flush(10_000)
    names = [n for batch in sink.batches for n in batch]
    assert names == [f"s{i}" for i in range(25)]
    st = processor.stats()
    assert (st.exported, st.dropped, st.failed_attempts) == (25, 0, 3)
    processor.shutdown()


def test_shutdown_counts_what_it_could_not_export(caplog) -> None:  # type: ignore[no-untyped-def]
    from opentelemetry.sdk.trace import TracerProvider

    sink = FlakySink(failures=10**9)
    processor = ExportProcessor(sink, max_queue=1000, batch_size=10, interval=0.01)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    for i in range(5):
        provider.get_tracer("t").start_span(f"s{i}").end()
    with caplog.at_level(logging.WARNING, logger="llmtrace"):
        processor.shutdown(timeout_millis=300)
    assert processor.stats().dropped == 5
    assert any("dropped 5" in r.message for r in caplog.records)


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    _Collector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", _Collector.bodies
    server.shutdown()


def test_otlp_export_alongside_the_store(configure_tracing, collector) -> None:  # type: ignore[no-untyped-def]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    endpoint, bodies = collector
    configure_tracing(otlp_endpoint=endpoint, project="otlp-test")
    with llmtrace.span("llm call", span_type="LLM") as s:
        s.set_usage(input_tokens=3, output_tokens=4)
    assert llmtrace.flush(10)
    names, attrs = [], {}
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            resource = {a.key: a.value.string_value for a in rs.resource.attributes}
            assert resource["llmtrace.project"] == "otlp-test"
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    names.append(sp.name)
                    attrs.update({a.key: a.value for a in sp.attributes})
    assert names == ["llm call"]
    assert attrs["gen_ai.usage.input_tokens"].int_value == 3
    assert len(stored_traces()) == 1


def test_settings_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("LLMTRACE_STORE", url)
    monkeypatch.setenv("LLMTRACE_PROJECT", "from-env")
    monkeypatch.setenv("LLMTRACE_CAPTURE_INPUTS", "false")
    monkeypatch.setenv("LLMTRACE_FLUSH_INTERVAL", "0.05")
    _runtime.reset()
    try:
        _outer(5)
        traces = stored_traces()
        assert len(traces) == 1
        assert traces[0].info.project == "from-env"
        assert traces[0].root is not None and traces[0].root.inputs is None
        assert traces[0].root.outputs == 6
    finally:
        _runtime.reset()


def test_default_store_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LLMTRACE_STORE", raising=False)
    _runtime.reset()
    try:
        _outer(1)
        assert llmtrace.flush(10)
        assert (tmp_path / "home" / "llmtrace.db").exists()
    finally:
        _runtime.reset()


def test_bad_environment_disables_tracing_without_breaking(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LLMTRACE_SAMPLE_RATE", "lots")
    _runtime.reset()
    try:
        with caplog.at_level(logging.ERROR, logger="llmtrace"):
            assert _outer(1) == 2
        assert "LLMTRACE_SAMPLE_RATE" in caplog.text
        assert not _runtime.get_runtime().enabled
    finally:
        _runtime.reset()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"store": "notadb://x"}, "store URL"),
        ({"max_payload_bytes": 10}, "max_payload_bytes"),
        ({"capture_inputs": "yes"}, "capture_inputs"),
    ],
)
def test_configure_rejects_bad_values(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(llmtrace.ConfigError, match=message):
        llmtrace.configure(**overrides)  # type: ignore[arg-type]


def test_deferred_payloads_are_released_when_spans_are_not_stored(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    from llmtrace.tracing import _deferred

    configure_tracing(sample_rate=0.0, keep_errors=True)
    for i in range(50):
        _outer(i)  # sampled out: held, then discarded at the root's end
    assert stored_traces() == []
    assert _deferred.PENDING == {}
    configure_tracing(store="postgresql+psycopg://postgres@127.0.0.1:1/nowhere", queue_size=10)
    for i in range(50):
        _outer(i)  # most overflow the queue and are dropped
    assert llmtrace.stats().dropped == 90
    assert len(_deferred.PENDING) <= 10
    llmtrace.shutdown(timeout=0.2)
    assert _deferred.PENDING == {}
