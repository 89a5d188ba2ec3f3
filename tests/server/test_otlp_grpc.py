"""The OTLP/gRPC receiver on a live server: the real gRPC exporter, partial success, project
metadata, auth, back-pressure with retry advice, oversized messages."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy.exc import OperationalError

from llmtrace.server._auth import KeyCache
from llmtrace.store._keys import ApiKey
from tests.server._otlp_helpers import HeldStore, make_request, make_span
from tests.server.conftest import LiveServer, free_port
from tests.server.test_otlp_http import sdk_spans


def grpc_server(
    live_server: Callable[..., LiveServer], url: str | None = None, **config: Any
) -> LiveServer:
    return live_server(url, grpc_port=free_port(), **config)


@pytest.fixture
def stub(live_server: Callable[..., LiveServer]) -> Iterator[tuple[LiveServer, TraceServiceStub]]:
    server = grpc_server(live_server, max_body_bytes=64 * 1024, max_decompressed_bytes=64 * 1024)
    with grpc.insecure_channel(f"127.0.0.1:{server.app.state.grpc_port}") as channel:
        yield server, TraceServiceStub(channel)


def test_real_grpc_exporter(live_server: Callable[..., LiveServer], migrated_db_url: str) -> None:
    server = grpc_server(live_server, migrated_db_url)
    spans = sdk_spans({"service.name": "app", "llmtrace.project": "grpc-proj"})
    exporter = OTLPSpanExporter(
        endpoint=f"127.0.0.1:{server.config.grpc_port}",
        insecure=True,
        compression=grpc.Compression.Gzip,
        timeout=30,
    )
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    (info,) = server.store.search_traces(project="grpc-proj")
    assert (info.name, info.span_count, info.input_tokens, info.output_tokens) == (
        "agent",
        3,
        2000,
        300,
    )
    assert info.cost is not None and info.cost > 0


def test_partial_success_and_project_metadata(stub: tuple[LiveServer, TraceServiceStub]) -> None:
    server, client = stub
    request = make_request(make_span("good"), make_span("bad", span=b"\x00" * 8))
    answer: ExportTraceServiceResponse = client.Export(
        request, metadata=[("x-llmtrace-project", "p9")]
    )
    assert answer.partial_success.rejected_spans == 1
    assert "invalid span id" in answer.partial_success.error_message
    assert [t.name for t in server.store.search_traces(project="p9")] == ["good"]
    assert server.store.count_spans() == 1


def test_oversized_messages_are_refused_and_the_server_keeps_serving(
    stub: tuple[LiveServer, TraceServiceStub],
) -> None:
    server, client = stub
    huge = make_request(make_span(attrs={"blob": "x" * 1_000_000}))
    # Over the limit as sent, and (gzip: ~1 KB on the wire) once decompressed.
    for compression in (grpc.Compression.NoCompression, grpc.Compression.Gzip):
        with pytest.raises(grpc.RpcError) as err:
            client.Export(huge, compression=compression)
        assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    client.Export(make_request(make_span()))
    assert server.store.count_spans() == 1


def test_full_queue_is_resource_exhausted_with_retry_info(
    live_server: Callable[..., LiveServer],
) -> None:
    server = grpc_server(live_server, ingest_queue_spans=3)
    queue = server.app.state.ingest
    held = HeldStore(queue.store)
    queue.store = held
    with grpc.insecure_channel(f"127.0.0.1:{server.app.state.grpc_port}") as channel:
        client = TraceServiceStub(channel)
        with held.hold():
            first = threading.Thread(
                target=client.Export, args=(make_request(make_span(), make_span()),)
            )
            first.start()
            assert held.entered.wait(10)
            with pytest.raises(grpc.RpcError) as err:
                client.Export(make_request(make_span(), make_span()))
        first.join(30)
    assert err.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(err.value.trailing_metadata())
    retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert retry.retry_delay.seconds == 1
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert status.details[0].Unpack(error_details_pb2.RetryInfo())
    assert server.store.count_spans() == 2


class _Keys:
    """A key store with one read-write and one read-only key."""

    def authenticate_api_key(self, secret: str) -> ApiKey | None:
        return {
            "rw-secret": ApiKey("k1", "writer", "write"),
            "ro-secret": ApiKey("k2", "reader", "read"),
        }.get(secret)


def test_auth_metadata(stub: tuple[LiveServer, TraceServiceStub]) -> None:
    server, client = stub
    server.app.state.keys = KeyCache(_Keys(), 60)  # type: ignore[arg-type]
    request = make_request(make_span())
    for metadata, code in [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer wrong"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("x-api-key", "ro-secret"),), grpc.StatusCode.PERMISSION_DENIED),
    ]:
        with pytest.raises(grpc.RpcError) as err:
            client.Export(request, metadata=metadata)
        assert err.value.code() is code
    assert server.store.count_spans() == 0
    client.Export(request, metadata=[("authorization", "Bearer rw-secret")])
    assert server.store.count_spans() == 1


class _DownKeys:
    """A key store whose database is unreachable."""

    def authenticate_api_key(self, secret: str) -> ApiKey | None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))


def test_auth_with_the_database_down_is_unavailable_not_unauthenticated(
    stub: tuple[LiveServer, TraceServiceStub],
) -> None:
    # UNAVAILABLE is retried by exporters; UNAUTHENTICATED would drop the spans for good.
    server, client = stub
    server.app.state.keys = KeyCache(_DownKeys(), 60)  # type: ignore[arg-type]
    with pytest.raises(grpc.RpcError) as err:
        client.Export(make_request(make_span()), metadata=[("authorization", "Bearer any")])
    assert err.value.code() is grpc.StatusCode.UNAVAILABLE
    assert dict(err.value.trailing_metadata() or ()).get("google.rpc.retryinfo-bin")
