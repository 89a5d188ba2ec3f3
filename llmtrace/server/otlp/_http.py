"""`POST /v1/traces`: the OTLP/HTTP trace receiver.

Protobuf (`application/x-protobuf`) or JSON (`application/json`) bodies, gzip/deflate or not.
The answer is sent once the spans are committed, in the request's encoding: an
`ExportTraceServiceResponse`, with `partial_success` when some spans were rejected. Errors are
4xx for anything wrong with the request (the server keeps serving), 503 with `Retry-After`
when the ingest queue is full or the database is unavailable. Protobuf clients get error bodies
as a protobuf `google.rpc.Status` (as the OTLP spec asks), other clients llmtrace's JSON error
shape.
"""

from __future__ import annotations

import asyncio
import logging
import math

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from sqlalchemy.exc import DataError

from llmtrace.server._errors import error_response
from llmtrace.server.otlp import _wire
from llmtrace.server.otlp._convert import Batch, to_records
from llmtrace.server.otlp._decode import (
    PROTOBUF,
    OtlpError,
    check_encoding,
    decompress,
    media_kind,
    parse,
)
from llmtrace.server.otlp._queue import IngestQueue, QueueClosed, QueueFull

logger = logging.getLogger("llmtrace.server")

PROJECT_HEADER = "x-llmtrace-project"
PROTOBUF_MEDIA_TYPE = "application/x-protobuf"
# gRPC status codes for the protobuf `Status` body of an HTTP error.
_GRPC_CODES = {400: 3, 413: 8, 415: 3, 500: 13, 503: 14}
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}

router = APIRouter(tags=["otlp"])


def decode_batch(body: bytes, kind: str, encoding: str, limit: int, project: str | None) -> Batch:
    """Decompress, parse, validate and normalise one request body (CPU work, run off the
    event loop). Raises `OtlpError`."""
    return to_records(parse(decompress(body, encoding, limit), kind), project)


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (protobuf or JSON)",
    response_model=None,
    openapi_extra=_BODY_DOC,
)
async def export_traces(request: Request) -> Response:
    """Store the spans of an OTLP `ExportTraceServiceRequest`; answers once they are
    committed (every acknowledged span is queryable)."""
    kind = media_kind(request.headers.get("content-type"))
    if kind is None:
        return error_response(
            415, "Content-Type must be application/x-protobuf or application/json"
        )
    queue: IngestQueue = request.app.state.ingest
    try:
        queue.check_room()  # before the body is read: a full queue costs a flood nothing
    except QueueFull as exc:
        return _error(kind, 503, str(exc), retry_after=exc.retry_after)
    try:
        encoding = check_encoding(request.headers.get("content-encoding"))
        body = await request.body()
        limit = request.app.state.config.max_decompressed_bytes
        project = request.headers.get(PROJECT_HEADER)
        batch = await asyncio.to_thread(decode_batch, body, kind, encoding, limit, project)
    except OtlpError as exc:
        return _error(kind, exc.status, exc.message)
    if batch.rejected:
        queue.count_invalid(batch.rejected)
    try:
        future = queue.submit(batch.records)
    except QueueFull as exc:
        return _error(kind, 503, str(exc), retry_after=exc.retry_after)
    except QueueClosed as exc:
        return _error(kind, 503, str(exc), retry_after=queue.retry_after)
    try:
        # Shielded: a client that hangs up must not cancel the shared write.
        await asyncio.shield(asyncio.wrap_future(future))
    except DataError as exc:
        return _error(kind, 400, f"the database refused these spans: {exc.orig}")
    except Exception as exc:
        return _error(kind, 503, f"spans not stored, retry: {type(exc).__name__}", retry_after=1.0)
    return _success(kind, batch)


def _success(kind: str, batch: Batch) -> Response:
    answer = ExportTraceServiceResponse()
    if batch.rejected:
        answer.partial_success.CopyFrom(
            ExportTracePartialSuccess(
                rejected_spans=batch.rejected, error_message=batch.error_message
            )
        )
    if kind == PROTOBUF:
        return Response(answer.SerializeToString(), media_type=PROTOBUF_MEDIA_TYPE)
    text = json_format.MessageToJson(answer, indent=None)
    return Response(text, media_type="application/json")


def _error(kind: str, status: int, message: str, *, retry_after: float | None = None) -> Response:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    if kind == PROTOBUF:
        body = _wire.status(_GRPC_CODES.get(status, 2), message)
        return Response(body, status_code=status, media_type=PROTOBUF_MEDIA_TYPE, headers=headers)
    return error_response(status, message, headers=headers)


__all__ = ["PROJECT_HEADER", "decode_batch", "router"]
