"""OTLP/HTTP request bodies -> `ExportTraceServiceRequest`: media types, decompression, parsing.

Binary protobuf is parsed by the generated classes (the C/upb backend). OTLP/JSON follows the
spec's mapping of protobuf to JSON with its one exception: trace and span ids are hex strings,
not base64. Ids are rewritten to what `json_format` expects, then the message is parsed; enum
names or numbers and 64-bit integers as strings or numbers are accepted as the spec requires.
Every failure is an `OtlpError` carrying a 4xx status.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PROTOBUF = "protobuf"
JSON = "json"

_MEDIA_TYPES = {
    "application/x-protobuf": PROTOBUF,
    "application/protobuf": PROTOBUF,
    "application/json": JSON,
}
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ENCODINGS = {"gzip": _GZIP_WBITS, "x-gzip": _GZIP_WBITS, "deflate": zlib.MAX_WBITS}
# An id that is neither hex nor base64 becomes this one byte, which validation then rejects
# with the span alone (partial success) instead of failing the whole request.
_BAD_ID = base64.b64encode(b"\x00").decode()
_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class OtlpError(Exception):
    """A request that cannot be ingested: HTTP `status` (4xx) and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_kind(content_type: str | None) -> str | None:
    """`PROTOBUF`, `JSON`, or None for a media type OTLP/HTTP does not define."""
    if not content_type:
        return None
    return _MEDIA_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def check_encoding(content_encoding: str | None) -> str:
    """The normalised Content-Encoding; `OtlpError(415)` for one the server cannot decode."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return "identity"
    if encoding not in _ENCODINGS:
        raise OtlpError(
            415, f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or identity"
        )
    return encoding


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """`body` decoded per `encoding` (gzip, deflate or identity), at most `limit` bytes.

    The output is bounded while inflating, so a compression bomb costs `limit` bytes of memory
    at most before it is refused with 413. Concatenated gzip members are all read.
    """
    encoding = check_encoding(encoding)
    if encoding == "identity":
        if len(body) > limit:
            raise OtlpError(413, f"request body exceeds the limit of {limit} bytes")
        return body
    wbits = _ENCODINGS[encoding]
    try:
        return _inflate(body, wbits, limit, multi_member=wbits == _GZIP_WBITS)
    except zlib.error as exc:
        if encoding == "deflate":
            # HTTP "deflate" is zlib-wrapped, but some clients send a raw deflate stream.
            try:
                return _inflate(body, -zlib.MAX_WBITS, limit, multi_member=False)
            except zlib.error:
                pass
        raise OtlpError(400, f"invalid {encoding} body: {exc}") from exc


def _inflate(data: bytes, wbits: int, limit: int, *, multi_member: bool) -> bytes:
    out: list[bytes] = []
    total = 0
    while True:
        inflater = zlib.decompressobj(wbits)
        pending = data
        while True:
            # total <= limit here, so max_length >= 1 (0 would mean "unbounded").
            chunk = inflater.decompress(pending, limit + 1 - total)
            total += len(chunk)
            if total > limit:
                raise OtlpError(413, f"decompressed body exceeds the limit of {limit} bytes")
            out.append(chunk)
            pending = inflater.unconsumed_tail
            if not pending:
                break
        if not inflater.eof:
            raise OtlpError(400, "truncated compressed body")
        data = inflater.unused_data
        if not data:
            return b"".join(out)
        if not multi_member:
            raise OtlpError(400, "unexpected bytes after the compressed body")


def parse(body: bytes, kind: str) -> ExportTraceServiceRequest:
    """Parse a decompressed body of media `kind`; `OtlpError(400)` when malformed."""
    if kind == PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except (DecodeError, ValueError, RecursionError) as exc:
            raise OtlpError(400, f"malformed OTLP protobuf: {exc}") from exc
    return parse_json(body)


def _json_loader() -> Callable[[bytes], Any]:
    try:
        import orjson
    except ImportError:
        return json.loads
    loads: Callable[[bytes], Any] = orjson.loads
    return loads


_loads = _json_loader()


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON body (ids in hex, as the spec says)."""
    try:
        doc = _loads(body)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise OtlpError(400, f"malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise OtlpError(400, "an OTLP/JSON body must be an object with 'resourceSpans'")
    try:
        _ids_to_base64(doc)
        request = ExportTraceServiceRequest()
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except Exception as exc:  # ParseError mostly; any failure here is the document's
        raise OtlpError(400, f"invalid OTLP/JSON: {exc}") from exc
    return request


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ids_to_base64(doc: dict[str, Any]) -> None:
    for rs in _items(doc.get("resourceSpans", doc.get("resource_spans"))):
        if not isinstance(rs, dict):
            continue
        for ss in _items(rs.get("scopeSpans", rs.get("scope_spans"))):
            if not isinstance(ss, dict):
                continue
            for span in _items(ss.get("spans")):
                if isinstance(span, dict):
                    _fix_ids(span)
                    for link in _items(span.get("links")):
                        if isinstance(link, dict):
                            _fix_ids(link)


def _fix_ids(obj: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            obj[key] = _id_base64(value)


def _id_base64(value: str) -> str:
    if len(value) in (16, 32):
        try:
            return base64.b64encode(bytes.fromhex(value)).decode()
        except ValueError:
            pass
    # Not hex: some clients send base64 (protobuf's generic JSON mapping); take it if valid.
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return _BAD_ID
    return value


__all__ = [
    "JSON",
    "PROTOBUF",
    "OtlpError",
    "check_encoding",
    "decompress",
    "media_kind",
    "parse",
    "parse_json",
]
