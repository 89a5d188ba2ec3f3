"""The OTLP/gRPC trace receiver: `TraceService/Export` over the same conversion and queue as
`POST /v1/traces`.

Auth reads the API key from the `authorization` (`Bearer <key>`) or `x-api-key` metadata;
`x-llmtrace-project` routes to a project like the HTTP header. A full queue answers
RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` delay (trailing metadata
`google.rpc.retryinfo-bin`, and inside `grpc-status-details-bin`); a database that cannot take
the spans answers UNAVAILABLE. Both are codes OTLP clients retry.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any, NoReturn

import grpc  # type: ignore[import-untyped]
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy.exc import DataError

from llmtrace.server._auth import authenticate, key_from_headers
from llmtrace.server._config import ServerConfig
from llmtrace.server._errors import ApiError
from llmtrace.server.otlp import _wire
from llmtrace.server.otlp._convert import to_records
from llmtrace.server.otlp._http import PROJECT_HEADER
from llmtrace.server.otlp._queue import IngestQueue, QueueClosed, QueueFull

# Threads serving calls; each mostly waits for its commit, so a few cover many clients.
MAX_WORKERS = 16
# Calls admitted at once (beyond them gRPC answers RESOURCE_EXHAUSTED itself): bounds the
# memory held by messages waiting for a thread.
MAX_CONCURRENT_RPCS = 64
# How long a call waits for its commit before answering UNAVAILABLE.
COMMIT_TIMEOUT_S = 60.0


class _Status(grpc.Status):  # type: ignore[misc]
    def __init__(self, code: Any, details: str, trailing_metadata: tuple[Any, ...]) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def _abort(context: Any, code: Any, message: str, retry_after: float | None = None) -> NoReturn:
    """End the call with `code` (grpc's abort raises)."""
    if retry_after is None:
        context.abort(code, message)
        raise AssertionError("unreachable: abort raises")
    retry = _wire.retry_info(retry_after)
    details = _wire.status(code.value[0], message, [(_wire.RETRY_INFO_TYPE_URL, retry)])
    metadata = (("google.rpc.retryinfo-bin", retry), ("grpc-status-details-bin", details))
    context.abort_with_status(_Status(code, message, metadata))
    raise AssertionError("unreachable: abort raises")


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """`opentelemetry.proto.collector.trace.v1.TraceService` backed by an `IngestQueue`."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def Export(
        self, request: ExportTraceServiceRequest, context: Any
    ) -> ExportTraceServiceResponse:
        """Store the request's spans; returns once they are committed."""
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        try:
            authenticate(self.app.state.keys, key_from_headers(metadata), "write")
        except ApiError as exc:
            codes = {403: grpc.StatusCode.PERMISSION_DENIED, 503: grpc.StatusCode.UNAVAILABLE}
            # 503: the key could not be checked (database down): a retryable status.
            code = codes.get(exc.status, grpc.StatusCode.UNAUTHENTICATED)
            _abort(context, code, exc.message, 1.0 if exc.status == 503 else None)
        queue: IngestQueue = self.app.state.ingest
        try:
            queue.check_room()
            batch = to_records(request, metadata.get(PROJECT_HEADER))
            if batch.rejected:
                queue.count_invalid(batch.rejected)
            queue.submit(batch.records).result(timeout=COMMIT_TIMEOUT_S)
        except QueueFull as exc:
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), exc.retry_after)
        except QueueClosed as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, str(exc), queue.retry_after)
        except DataError as exc:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the database refused these spans: {exc.orig}",
            )
        except Exception as exc:
            _abort(
                context,
                grpc.StatusCode.UNAVAILABLE,
                f"spans not stored, retry: {type(exc).__name__}",
                1.0,
            )
        answer = ExportTraceServiceResponse()
        if batch.rejected:
            answer.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=batch.rejected, error_message=batch.error_message
                )
            )
        return answer


def start_grpc(app: FastAPI, port: int, host: str = "127.0.0.1") -> Any:
    """Serve OTLP/gRPC on `host:port` for `app`'s store and queue; returns the started
    `grpc.Server` (stop it with ``server.stop(grace).wait()``). Port 0 picks a free port,
    recorded as ``app.state.grpc_port``.

    Example:
        >>> server = start_grpc(app, 4317, "0.0.0.0")
    """
    config: ServerConfig = app.state.config
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="llmtrace-grpc"),
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
        options=[
            ("grpc.max_receive_message_length", config.max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
    )
    # The generated module is untyped.
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        TraceService(app), server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    if not bound:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}")
    server.start()
    app.state.grpc_port = bound
    return server


__all__ = ["TraceService", "start_grpc"]
