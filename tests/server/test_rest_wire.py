"""The JSON wire form of traces and span records (`llmtrace.store._wire`), without a server:
every decoder inverts its encoder (and the entities' `to_dict`) through real JSON text."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store import SqlStore, Trace
from llmtrace.store._wire import (
    assessment_from_dict,
    datetime_from_wire,
    model_usage_from_dict,
    span_record_from_dict,
    span_record_to_dict,
    trace_from_dict,
    trace_list_from_dict,
    trace_list_to_dict,
    trace_to_dict,
)
from tests.server._traces_helpers import many_traces, record, tid


def through_json(data: Any) -> Any:
    return json.loads(json.dumps(data))


@pytest.fixture
def stored(migrated_sqlite_url: str) -> SqlStore:
    store = SqlStore(migrated_sqlite_url)
    store.log_spans(many_traces(6))
    store.log_assessment(tid(101), "relevance", {"score": 0.5}, metadata={"k": [1, 2]})
    store.set_trace_tag(tid(101), "reviewed", "yes")
    return store


def test_traces_round_trip(stored: SqlStore) -> None:
    try:
        page = stored.search_traces(limit=4)
        assert page.next_page_token is not None
        decoded = trace_list_from_dict(through_json(trace_list_to_dict(page)))
        assert decoded == page and decoded.next_page_token == page.next_page_token
        assert decoded[0].start_time.tzinfo is timezone.utc
        for info in stored.search_traces(limit=10):
            trace = stored.get_trace(info.trace_id)
            assert trace_from_dict(through_json(trace_to_dict(trace))) == trace
            # The entities' own nested form reads back the same.
            assert trace_from_dict(through_json(trace.to_dict())) == trace
        usage = stored.model_usage()
        assert [model_usage_from_dict(through_json(u.to_dict())) for u in usage] == usage
        assessment = stored.get_assessments(tid(101))[0]
        assert assessment_from_dict(through_json(assessment.to_dict())) == assessment
    finally:
        stored.close()


def test_flat_spans_rebuild_the_tree(stored: SqlStore) -> None:
    try:
        data = through_json(trace_to_dict(stored.get_trace(tid(101))))
    finally:
        stored.close()
    assert [s["name"] for s in data["spans"]] == ["t1", "generate"]
    data["spans"].reverse()  # order on the wire does not matter to the tree
    trace = trace_from_dict(data)
    assert isinstance(trace, Trace) and [s.name for s in trace.spans] == ["t1", "generate"]
    assert [(d, s.name) for d, s in trace.walk()] == [(0, "t1"), (1, "generate")]


def test_span_records_round_trip() -> None:
    original = record(3, 7, 1, status="ERROR", attrs={"a": 1, "seq": ("x", "y"), "f": 0.1})
    data = through_json(span_record_to_dict(original))
    back = span_record_from_dict(data)
    assert back.attributes == {"a": 1, "seq": ["x", "y"], "f": 0.1}
    assert (back.trace_id, back.span_id, back.parent_span_id) == (
        original.trace_id,
        original.span_id,
        original.parent_span_id,
    )
    assert back.start_time_ns == original.start_time_ns and back.status == "ERROR"
    assert back.events == original.events and back.resource == original.resource


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"colour": "red"}, "unknown span record field"),
        ({"start_time_ns": "1"}, "start_time_ns"),
        ({"start_time_ns": True}, "start_time_ns"),
        ({"attributes": []}, "attributes"),
        ({"is_local_root": 1}, "is_local_root"),
    ],
)
def test_span_records_are_checked(change: dict[str, Any], needle: str) -> None:
    data = {**span_record_to_dict(record(1, 1)), **change}
    with pytest.raises(InvalidParameterError, match=needle):
        span_record_from_dict(data)
    missing = span_record_to_dict(record(1, 1))
    del missing["name"]
    with pytest.raises(InvalidParameterError, match="name"):
        span_record_from_dict(missing)


def test_times() -> None:
    utc = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert datetime_from_wire(utc.isoformat()) == utc
    assert datetime_from_wire("2026-11-01T12:00:00.123456Z") == utc
    assert datetime_from_wire("2026-11-01T12:00:00.123456").tzinfo is timezone.utc  # type: ignore[union-attr]
    paris = datetime_from_wire("2026-11-01T13:00:00.123456+01:00")
    assert paris == utc and paris is not None and paris.utcoffset() == timedelta(hours=1)
    assert datetime_from_wire(None) is None
    with pytest.raises(InvalidParameterError):
        datetime_from_wire("yesterday")
