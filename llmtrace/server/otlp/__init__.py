"""OTLP trace ingest: `POST /v1/traces` (protobuf and JSON), an OTLP/gRPC receiver, and the
bounded queue that stores what both receive.

Spans from any OpenTelemetry instrumentation are normalised into llmtrace's stored form (span
type, model, tokens, inputs, outputs, documents, cost) whatever convention they follow:
OpenTelemetry GenAI (current and older), OpenInference, Traceloop/OpenLLMetry or llmtrace's own.
See docs/otlp.md.

Example:
    >>> from llmtrace.server import ServerConfig, create_app
    >>> app = create_app(ServerConfig(store="sqlite:///llmtrace.db", grpc_port=4317))
    >>> # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:5000/v1/traces
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from llmtrace.server.otlp._convert import Batch, to_records
from llmtrace.server.otlp._decode import OtlpError
from llmtrace.server.otlp._http import PROJECT_HEADER, decode_batch, router
from llmtrace.server.otlp._normalise import normalise
from llmtrace.server.otlp._queue import IngestQueue, QueueClosed, QueueFull


def start_grpc(app: FastAPI, port: int, host: str = "127.0.0.1") -> Any:
    """Start the OTLP/gRPC receiver for `app` (needs `pip install 'llmtrace[grpc]'`); returns
    the running `grpc.Server`. See `llmtrace.server.otlp._grpc.start_grpc`."""
    try:
        from llmtrace.server.otlp._grpc import start_grpc as start
    except ImportError as exc:
        raise ImportError(
            "the OTLP/gRPC receiver needs grpcio: pip install 'llmtrace[grpc]'"
        ) from exc
    return start(app, port, host)


__all__ = [
    "PROJECT_HEADER",
    "Batch",
    "IngestQueue",
    "OtlpError",
    "QueueClosed",
    "QueueFull",
    "decode_batch",
    "normalise",
    "router",
    "start_grpc",
    "to_records",
]
