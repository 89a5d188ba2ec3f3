"""`POST /v1/traces` on a live server: the real OTLP/HTTP exporter (protobuf, gzip or not),
OTLP/JSON, partial success, traces split over requests, project routing, bad requests (4xx and
the server keeps serving), back-pressure (503 + Retry-After), auth. The end-to-end tests run on
SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from starlette.testclient import TestClient

from llmtrace.server import ServerConfig, create_app
from tests.server._otlp_helpers import HeldStore, make_request, make_span, to_json, trace_id
from tests.server.conftest import LiveServer

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def sdk_spans(resource: dict[str, str] | None = None) -> list[ReadableSpan]:
    """A small agent trace made by the OpenTelemetry SDK: a root and two GenAI chat calls."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "app"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("my.agent")
    with tracer.start_as_current_span("agent") as root:
        root.set_attribute("session.id", "s-1")
        for i in range(2):
            with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                span.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 1000,
                        "gen_ai.usage.output_tokens": 100 * (i + 1),
                        "gen_ai.input.messages": json.dumps(
                            [{"role": "user", "parts": [{"type": "text", "content": f"q{i}"}]}]
                        ),
                    }
                )
        root.set_status(Status(StatusCode.ERROR, "agent gave up"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def export(server: LiveServer, spans: Sequence[ReadableSpan], **kwargs: object) -> SpanExportResult:
    exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", timeout=30, **kwargs)  # type: ignore[arg-type]
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_real_exporter_spans_are_stored_with_rollups(
    server: LiveServer, compression: Compression
) -> None:
    spans = sdk_spans({"service.name": "app", "llmtrace.project": "shop"})
    assert export(server, spans, compression=compression) is SpanExportResult.SUCCESS
    # Acknowledged = queryable: no waiting.
    (info,) = server.store.search_traces(project="shop")
    assert info.trace_id == format(spans[0].context.trace_id, "032x")
    assert (info.name, info.status, info.span_count, info.error_count) == ("agent", "ERROR", 3, 1)
    assert (info.input_tokens, info.output_tokens, info.session_id) == (2000, 300, "s-1")
    assert info.cost == pytest.approx(2000 * 0.15e-6 + 300 * 0.6e-6)
    trace = server.store.get_trace(info.trace_id)
    chats = sorted(
        (s for s in trace.spans if s.name.startswith("chat")), key=lambda s: s.start_time
    )
    assert [s.span_type for s in chats] == ["CHAT_MODEL", "CHAT_MODEL"]
    assert [s.inputs for s in chats] == [
        {"messages": [{"role": "user", "content": "q0"}]},
        {"messages": [{"role": "user", "content": "q1"}]},
    ]
    assert chats[0].attributes["otel.scope.name"] == "my.agent"
    assert trace.roots[0].status_message == "agent gave up"


def test_otlp_json_is_stored_and_answered_in_json(server: LiveServer) -> None:
    tid = trace_id()
    root = make_span("root", trace=tid, attrs={"traceloop.span.kind": "workflow"})
    child = make_span(
        "child",
        trace=tid,
        parent=root.span_id,
        attrs={"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini"},
    )
    body = json.dumps(to_json(make_request(root, child))).encode()
    response = httpx.post(server.url + "/v1/traces", content=body, headers=JSON)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    trace = server.store.get_trace(tid.hex())
    assert {s.name: s.span_type for s in trace.spans} == {"root": "CHAIN", "child": "LLM"}


def test_a_trace_sent_in_two_requests_is_one_trace(server: LiveServer) -> None:
    tid = trace_id()
    root = make_span("root", trace=tid, duration_ns=10_000_000)
    llm = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10}
    first = make_span("a", trace=tid, parent=root.span_id, attrs=llm)
    second = make_span(
        "b",
        trace=tid,
        parent=root.span_id,
        attrs=llm,
        start_ns=first.start_time_unix_nano + 20_000_000,
    )
    url = server.url + "/v1/traces"
    for part in (make_request(first), make_request(second, root)):
        response = httpx.post(url, content=part.SerializeToString(), headers=PROTOBUF)
        assert response.status_code == 200
    info = server.store.get_trace(tid.hex()).info
    assert (info.span_count, info.input_tokens, info.name) == (3, 20, "root")
    assert info.duration_ms == pytest.approx(25.0)  # root start to the end of "b"
    # Sending a request again changes nothing (idempotent).
    httpx.post(url, content=make_request(first).SerializeToString(), headers=PROTOBUF)
    assert server.store.get_trace(tid.hex()).info.span_count == 3


def test_long_values_are_stored_on_every_backend(server: LiveServer) -> None:
    span = make_span(
        "n" * 1000,
        attrs={"input.value": "i" * 1_000_000, "openinference.span.kind": "CHAIN"},
        status=2,
        message="m" * 70_000,
    )
    response = httpx.post(
        server.url + "/v1/traces",
        content=make_request(span).SerializeToString(),
        headers=PROTOBUF,
        timeout=60,
    )
    assert response.status_code == 200
    (stored,) = server.store.get_trace(span.trace_id.hex()).spans
    assert len(stored.name) == 255 and len(stored.status_message or "") == 16_000
    assert stored.inputs == "i" * 1_000_000


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_partial_success(sqlite_server: LiveServer, encoding: str) -> None:
    request = make_request(make_span("good"), make_span("bad", trace=b"\x01\x02"))
    url = sqlite_server.url + "/v1/traces"
    if encoding == "protobuf":
        response = httpx.post(url, content=request.SerializeToString(), headers=PROTOBUF)
        answer = ExportTraceServiceResponse.FromString(response.content)
        rejected, message = (
            answer.partial_success.rejected_spans,
            answer.partial_success.error_message,
        )
    else:
        response = httpx.post(url, content=json.dumps(to_json(request)), headers=JSON)
        partial = response.json()["partialSuccess"]
        rejected, message = int(partial["rejectedSpans"]), partial["errorMessage"]
    assert response.status_code == 200
    assert rejected == 1 and "invalid trace id" in message
    assert sqlite_server.store.count_spans() == 1
    assert sqlite_server.app.state.ingest.stats()["invalid_spans"] == 1


def test_project_header_wins(sqlite_server: LiveServer) -> None:
    spans = sdk_spans({"service.name": "app", "llmtrace.project": "from-resource"})
    result = export(sqlite_server, spans, headers={"x-llmtrace-project": "from-header"})
    assert result is SpanExportResult.SUCCESS
    assert len(sqlite_server.store.search_traces(project="from-header")) == 1
    assert len(sqlite_server.store.search_traces(project="from-resource")) == 0


def _bomb() -> bytes:
    return gzip.compress(b"\0" * (129 * 1024 * 1024), compresslevel=1)


BAD_REQUESTS: list[tuple[str, dict[str, str], Callable[[], bytes], int]] = [
    ("text-plain", {"content-type": "text/plain"}, lambda: b"hello", 415),
    ("no-content-type", {}, lambda: b"\x0a\x00", 415),
    ("brotli", {**PROTOBUF, "content-encoding": "br"}, lambda: b"x", 415),
    ("garbage-protobuf", PROTOBUF, lambda: b"\xff" * 64, 400),
    (
        "truncated-protobuf",
        PROTOBUF,
        lambda: make_request(make_span(attrs={"k": "v" * 50})).SerializeToString()[:-7],
        400,
    ),
    ("bad-json", JSON, lambda: b'{"resourceSpans": [', 400),
    ("json-wrong-shape", JSON, lambda: b'{"resourceSpans": [{"scopeSpans": 3}]}', 400),
    ("bad-gzip", {**PROTOBUF, "content-encoding": "gzip"}, lambda: b"\x1f\x8bnope", 400),
    ("gzip-bomb", {**PROTOBUF, "content-encoding": "gzip"}, _bomb, 413),
    ("huge-body", PROTOBUF, lambda: b"\0" * (33 * 1024 * 1024), 413),
]


@pytest.mark.parametrize(
    ("headers", "make_body", "status"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_get_4xx_and_the_server_keeps_serving(
    sqlite_server: LiveServer, headers: dict[str, str], make_body: Callable[[], bytes], status: int
) -> None:
    response = httpx.post(
        sqlite_server.url + "/v1/traces", content=make_body(), headers=headers, timeout=60
    )
    assert response.status_code == status
    if headers.get("content-type") == PROTOBUF["content-type"] and status != 413:
        # Protobuf clients get a google.rpc.Status, as the OTLP spec asks.
        assert status_pb2.Status.FromString(response.content).message
    elif response.headers["content-type"].startswith("application/json"):
        assert response.json()["error"]["status"] == status
    ok = httpx.post(
        sqlite_server.url + "/v1/traces",
        content=make_request(make_span()).SerializeToString(),
        headers=PROTOBUF,
    )
    assert ok.status_code == 200
    assert httpx.get(sqlite_server.url + "/health").status_code == 200


def test_full_queue_answers_503_with_retry_after(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(ingest_queue_spans=5)
    queue = server.app.state.ingest
    held = HeldStore(queue.store)
    queue.store = held
    url = server.url + "/v1/traces"
    answers: list[int] = []
    with held.hold():
        body = make_request(*(make_span() for _ in range(4))).SerializeToString()
        waiting = threading.Thread(
            target=lambda: answers.append(
                httpx.post(url, content=body, headers=PROTOBUF, timeout=30).status_code
            )
        )
        waiting.start()
        held.entered.wait(10)
        more = make_request(make_span(), make_span()).SerializeToString()
        refused = httpx.post(url, content=more, headers=PROTOBUF)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "queue full" in status_pb2.Status.FromString(refused.content).message
        as_json = httpx.post(
            url, content=json.dumps(to_json(make_request(make_span(), make_span()))), headers=JSON
        )
        assert as_json.status_code == 503 and as_json.json()["error"]["code"] == "UNAVAILABLE"
        ready = httpx.get(server.url + "/ready").json()
        assert ready["ingest"]["queued_spans"] == 4 and ready["ingest"]["rejected_spans"] == 4
    waiting.join(30)
    assert answers == [200]  # the waiting request was stored once the writer went on
    assert server.store.count_spans() == 4


def test_a_failed_write_answers_503_and_nothing_is_lost_silently(
    sqlite_server: LiveServer,
) -> None:
    from sqlalchemy.exc import OperationalError

    queue = sqlite_server.app.state.ingest
    held = HeldStore(queue.store)
    held.fail_with = OperationalError("INSERT", {}, Exception("database is locked"))
    queue.store = held
    response = httpx.post(
        sqlite_server.url + "/v1/traces",
        content=make_request(make_span()).SerializeToString(),
        headers=PROTOBUF,
    )
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert queue.stats()["failed_spans"] == 1


def test_a_stopped_queue_answers_503(sqlite_server: LiveServer) -> None:
    sqlite_server.app.state.ingest.stop()  # what shutdown does once the server stops serving
    response = httpx.post(
        sqlite_server.url + "/v1/traces",
        content=make_request(make_span()).SerializeToString(),
        headers=PROTOBUF,
    )
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert "shutting down" in status_pb2.Status.FromString(response.content).message


def test_auth_is_required_when_on(tmp_path: Path) -> None:
    # In-process (the live fixture's anonymous /health probe is not what this is about).
    app = create_app(ServerConfig(store=f"sqlite:///{tmp_path / 'a.db'}", auth=True))
    body = make_request(make_span()).SerializeToString()
    with TestClient(app) as client:
        assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 401
        wrong = {**PROTOBUF, "authorization": "Bearer nope"}
        assert client.post("/v1/traces", content=body, headers=wrong).status_code == 401
        assert app.state.store.count_spans() == 0
