"""The two tiny protobuf messages OTLP errors carry, encoded by hand.

`google.rpc.Status` (the body of an OTLP/HTTP protobuf error) and `google.rpc.RetryInfo` (the
retry delay a gRPC client reads from trailing metadata) have two fields each; encoding them here
spares the server a dependency on `googleapis-common-protos` for a few bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

RETRY_INFO_TYPE_URL = "type.googleapis.com/google.rpc.RetryInfo"


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int32/int64 values are sent as 10-byte two's complement
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(value)) + value if value else b""


def duration(seconds: float) -> bytes:
    """A `google.protobuf.Duration`."""
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)
    return _field_varint(1, whole) + _field_varint(2, nanos)


def retry_info(seconds: float) -> bytes:
    """A `google.rpc.RetryInfo` asking the client to wait `seconds` before retrying."""
    return _field_bytes(1, duration(seconds))


def status(code: int, message: str, details: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A `google.rpc.Status`; `details` are (type URL, serialized message) pairs (`Any`)."""
    out = _field_varint(1, code) + _field_bytes(2, message.encode("utf-8"))
    for type_url, value in details:
        any_msg = _field_bytes(1, type_url.encode("utf-8")) + _field_bytes(2, value)
        out += _field_bytes(3, any_msg)
    return out


__all__ = ["RETRY_INFO_TYPE_URL", "duration", "retry_info", "status"]
