"""OTLP request decoding and conversion to records: media types, compression limits, OTLP/JSON
specifics, validation with partial success, project routing, attribute values."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmtrace.server.otlp import OtlpError, decode_batch, to_records
from llmtrace.server.otlp._decode import (
    check_encoding,
    decompress,
    media_kind,
    parse,
    parse_json,
)
from tests.server._otlp_helpers import NOW_NS, make_request, make_span, span_id, to_json, trace_id

LIMIT = 1 << 20


# --- media types and compression ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("application/x-protobuf", "protobuf"),
        ("application/protobuf", "protobuf"),
        ("Application/JSON; charset=utf-8", "json"),
        ("text/plain", None),
        ("", None),
        (None, None),
    ],
)
def test_media_kind(header: str | None, kind: str | None) -> None:
    assert media_kind(header) == kind


def test_unknown_content_encoding_is_415() -> None:
    assert check_encoding(None) == "identity"
    assert check_encoding(" GZIP ") == "gzip"
    with pytest.raises(OtlpError) as err:
        check_encoding("br")
    assert err.value.status == 415


def test_gzip_deflate_and_raw_deflate_roundtrip() -> None:
    data = b"x" * 10_000
    assert decompress(gzip.compress(data), "gzip", LIMIT) == data
    assert decompress(zlib.compress(data), "deflate", LIMIT) == data
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decompress(raw.compress(data) + raw.flush(), "deflate", LIMIT) == data
    # Concatenated gzip members are one body (what `cat a.gz b.gz` gives).
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", LIMIT) == b"abcd"


def test_gzip_bomb_is_413_without_inflating_it_all() -> None:
    bomb = gzip.compress(b"\0" * (50 * LIMIT))  # ~50 KB that inflates to 50 MB
    with pytest.raises(OtlpError) as err:
        decompress(bomb, "gzip", LIMIT)
    assert err.value.status == 413
    with pytest.raises(OtlpError) as err:
        decompress(b"y" * (LIMIT + 1), "identity", LIMIT)
    assert err.value.status == 413


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(b"a" * 1000)[:-12],  # truncated
        b"not gzip at all",
        gzip.compress(b"ok") + b"trailing garbage",
    ],
    ids=["truncated", "not-gzip", "trailing-garbage"],
)
def test_bad_gzip_is_400(body: bytes) -> None:
    with pytest.raises(OtlpError) as err:
        decompress(body, "gzip", LIMIT)
    assert err.value.status == 400


# --- parsing -----------------------------------------------------------------------------------


def test_truncated_or_garbage_protobuf_is_400() -> None:
    body = make_request(make_span("a", attrs={"k": "v" * 100})).SerializeToString()
    for bad in (body[: len(body) // 2], b"\xff\xff\xff\xff"):
        with pytest.raises(OtlpError) as err:
            parse(bad, "protobuf")
        assert err.value.status == 400


def test_empty_bodies_are_empty_requests() -> None:
    assert len(parse(b"", "protobuf").resource_spans) == 0
    assert len(parse(b"{}", "json").resource_spans) == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b'{"resourceSpans": 5}', b"[" * 100_000],
    ids=["syntax", "array", "string", "wrong-type", "deep"],
)
def test_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(OtlpError) as err:
        parse_json(body)
    assert err.value.status == 400


def test_json_ids_are_hex_enums_names_or_numbers_int64_strings() -> None:
    tid, sid, pid = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b173"
    doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "lib"},
                        "spans": [
                            {
                                "traceId": tid,
                                "spanId": sid,
                                "parentSpanId": pid,
                                "name": "a",
                                "kind": "SPAN_KIND_CLIENT",
                                "startTimeUnixNano": str(NOW_NS),
                                "endTimeUnixNano": NOW_NS + 1000,
                                "status": {"code": 2, "message": "boom"},
                                "attributes": [
                                    {"key": "n", "value": {"intValue": "42"}},
                                    {"key": "f", "value": {"doubleValue": 0.5}},
                                ],
                                "someFutureField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    batch = to_records(parse_json(json.dumps(doc).encode()))
    (record,) = batch.records
    assert (record.trace_id, record.span_id, record.parent_span_id) == (tid, sid, pid)
    assert record.start_time_ns == NOW_NS and record.end_time_ns == NOW_NS + 1000
    assert record.status == "ERROR" and record.status_message == "boom"
    assert record.attributes["n"] == 42 and record.attributes["f"] == 0.5
    assert record.attributes["otel.scope.name"] == "lib"


def test_json_matches_protobuf() -> None:
    request = make_request(make_span("a", attrs={"x": [1, 2], "y": {"z": True}}))
    from_json = to_records(parse_json(json.dumps(to_json(request)).encode())).records
    from_proto = to_records(request).records
    assert from_json == from_proto


def test_bad_json_id_rejects_only_that_span() -> None:
    request = make_request(make_span("good"), make_span("bad"))
    doc = to_json(request)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "not-an-id!"
    batch = to_records(parse_json(json.dumps(doc).encode()))
    assert [r.name for r in batch.records] == ["good"]
    assert batch.rejected == 1 and "bad" in batch.error_message


# --- validation and partial success ------------------------------------------------------------


def test_invalid_spans_are_rejected_one_by_one() -> None:
    request = make_request(
        make_span("ok"),
        make_span("short-trace", trace=b"\x01" * 5),
        make_span("zero-trace", trace=bytes(16)),
        make_span("zero-span", span=bytes(8)),
        make_span("bad-parent", parent=b"\x01\x02"),
        make_span("no-start", start_ns=0, duration_ns=0),
    )
    batch = to_records(request)
    assert [r.name for r in batch.records] == ["ok"]
    assert batch.rejected == 5
    assert batch.error_message.startswith("5 span(s) rejected: span 'short-trace': invalid trace")
    assert batch.error_message.endswith("(and 2 more)")


def test_end_before_start_becomes_zero_length_and_zero_parent_is_root() -> None:
    span = make_span("a", parent=bytes(8))
    span.end_time_unix_nano = span.start_time_unix_nano - 10
    (record,) = to_records(make_request(span)).records
    assert record.end_time_ns == record.start_time_ns
    assert record.parent_span_id is None and record.is_local_root


def test_remote_parent_flag_makes_a_local_root() -> None:
    parent = span_id()
    local = make_span("local", parent=parent, flags=0x100)
    remote = make_span("remote", parent=parent, flags=0x300)
    foreign = make_span("foreign", parent=parent, attrs={"llmtrace.span.foreign_parent": True})
    records = {r.name: r for r in to_records(make_request(local, remote, foreign)).records}
    assert not records["local"].is_local_root
    assert records["remote"].is_local_root and records["foreign"].is_local_root


def test_attribute_values_of_every_type_and_events() -> None:
    attrs = {"s": "x", "i": -3, "d": 1.25, "b": False, "a": ["p", "q"], "kv": {"k": [1]}}
    span = make_span("a", attrs={**attrs, "raw": b"\x00\x01"}, events=[("exception", {"m": "x"})])
    (record,) = to_records(make_request(span)).records
    assert {k: record.attributes[k] for k in attrs} == attrs
    assert record.attributes["raw"] == "AAE="  # bytes as base64 text, as OTLP/JSON has them
    assert record.events == [
        {"name": "exception", "timestamp_ns": NOW_NS, "attributes": {"m": "x"}}
    ]


def test_nul_characters_are_dropped_from_names() -> None:
    (record,) = to_records(make_request(make_span("a\x00b", status=2, message="x\x00"))).records
    assert record.name == "ab" and record.status_message == "x"


# --- project routing ---------------------------------------------------------------------------


def _project(
    header: str | None, resource: dict[str, object], span_attrs: dict[str, object] | None = None
) -> tuple[str | None, object]:
    span = make_span("a", attrs=span_attrs or {})
    (record,) = to_records(make_request(span, resource=resource), header).records
    return record.resource.get("llmtrace.project"), record.attributes.get("llmtrace.project")


def test_project_routing_order() -> None:
    assert _project(None, {"service.name": "svc"}) == (None, None)  # -> "default" in the store
    assert _project(None, {"openinference.project.name": "oi"}) == ("oi", None)
    both = {"openinference.project.name": "oi", "llmtrace.project": "lt"}
    assert _project(None, both) == ("lt", None)
    assert _project(" hdr ", both, {"llmtrace.project": "own"}) == ("hdr", "hdr")
    # Without a header, the span's own attribute stays (the store prefers it to the resource).
    assert _project(None, both, {"llmtrace.project": "own"}) == ("lt", "own")


def test_service_name_is_kept_on_spans() -> None:
    span = make_span("a")
    (record,) = to_records(make_request(span, resource={"service.name": "checkout"})).records
    assert record.attributes["service.name"] == "checkout"


def test_decode_batch_runs_the_whole_pipeline() -> None:
    request = make_request(make_span("a", trace=trace_id()))
    body = gzip.compress(request.SerializeToString())
    batch = decode_batch(body, "protobuf", "gzip", LIMIT, "proj")
    assert [r.attributes["llmtrace.project"] for r in batch.records] == ["proj"]
    assert isinstance(parse(request.SerializeToString(), "protobuf"), ExportTraceServiceRequest)
