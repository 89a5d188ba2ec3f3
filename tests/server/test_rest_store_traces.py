"""`RestStore` behaves like `SqlStore` for traces, spans, tags, assessments and model usage.

Two kinds of tests, each on SQLite, PostgreSQL and MariaDB behind a real uvicorn server:

- behaviour tests take ``store``, once a `SqlStore` (the server's own) and once a `RestStore`
  talking to the server, and assert the same outcomes (pagination, deletes, tags, assessment
  updates, errors with the same types and messages);
- parity tests write through one side and read through both: equal `TraceList`s (page tokens
  included), `Trace`s, assessments and usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from llmtrace.exceptions import (
    FilterSyntaxError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
    StoreError,
)
from llmtrace.store import RestStore, SqlStore, Store, _rest_traces, open_store
from llmtrace.store._wire import span_to_dict
from tests.server._traces_helpers import NOW_NS, deep_trace, many_traces, record, sid, tid
from tests.server.conftest import LiveServer, free_port


@dataclass
class Pair:
    live: LiveServer
    sql: SqlStore
    rest: RestStore


@pytest.fixture
def pair(server: LiveServer) -> Iterator[Pair]:
    rest = RestStore(server.url)
    yield Pair(server, server.store, rest)
    rest.close()


@pytest.fixture(params=["sql", "rest"])
def store(request: pytest.FixtureRequest, pair: Pair) -> Store:
    """The server's `SqlStore`, or a `RestStore` on the server: the same database."""
    chosen: Store = pair.sql if request.param == "sql" else pair.rest
    return chosen


def _all_pages(store: Store, **query: Any) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        page = store.search_traces(page_token=token, **query)
        names += [t.name for t in page]
        token = page.next_page_token
        if token is None:
            return names


# --- behaviour, through both stores --------------------------------------------------------------


def test_pagination_with_page_tokens(store: Store) -> None:
    store.log_spans(many_traces(30))
    assert _all_pages(store, limit=7) == [f"t{i}" for i in range(29, -1, -1)]
    everything = [t.name for t in store.search_traces(order_by=["status", "tokens desc"])]
    assert _all_pages(store, order_by=["status", "tokens desc"], limit=4) == everything
    assert len(everything) == 30
    assert _all_pages(store, filter="tag.env = 'prod'", limit=4, project="proj") == [
        f"t{i}" for i in range(29, 0, -2) if i % 3
    ]
    last = store.search_traces(limit=30)
    assert len(last) == 30 and last.next_page_token is None


def test_search_filters(store: Store) -> None:
    store.log_spans(many_traces(30))
    errors = store.search_traces("status = 'ERROR'", order_by="start_time asc")
    assert [t.name for t in errors] == ["t0", "t7", "t14", "t21", "t28"]
    assert errors[0].error_count == 1
    slow = store.search_traces("latency_ms > 250 and metadata.build = 'b1'", limit=100)
    assert {t.name for t in slow} == {"t29", "t25"}
    assert len(store.search_traces("span.model = 'priced'", limit=100)) == 15
    assert len(store.search_traces(project="other", limit=100)) == 10
    # A filter longer than a URL takes (RestStore sends it in a POST body).
    long_filter = " or ".join(f"name = 't{i}'" for i in range(0, 300, 2))
    assert len(store.search_traces(long_filter, limit=100)) == 15


def test_errors_are_the_same_exceptions(store: Store) -> None:
    store.log_spans(many_traces(3))
    with pytest.raises(FilterSyntaxError) as info:
        store.search_traces("name = 'x'; DROP TABLE spans; --")
    assert info.value.position == 10 and info.value.filter == "name = 'x'; DROP TABLE spans; --"
    assert str(info.value).endswith("^")
    with pytest.raises(InvalidQueryError, match="invalid page token"):
        store.search_traces(page_token="garbage!")
    token = store.search_traces(limit=1).next_page_token
    with pytest.raises(InvalidQueryError, match="does not belong"):
        store.search_traces("status = 'OK'", limit=1, page_token=token)
    with pytest.raises(InvalidQueryError, match="order_by"):
        store.search_traces(order_by="nonsense desc")
    for limit in (0, 10_001):
        with pytest.raises(
            InvalidQueryError, match=f"limit must be between 1 and 10000, got {limit}"
        ):
            store.search_traces(limit=limit)
    with pytest.raises(NotFoundError, match=tid(5)):
        store.get_trace(tid(5))
    with pytest.raises(NotFoundError):
        store.set_trace_tag(tid(5), "k", "v")
    with pytest.raises(NotFoundError):
        store.delete_trace_tag(tid(5), "k")
    with pytest.raises(NotFoundError):
        store.log_assessment(tid(5), "x", 1)
    with pytest.raises(InvalidQueryError, match="source_type must be one of"):
        store.log_assessment(tid(100), "x", 1, source_type="ROBOT")
    with pytest.raises(InvalidQueryError, match="needs older_than, filter or project"):
        store.delete_traces()
    with pytest.raises(InvalidQueryError, match="timezone-aware"):
        store.delete_traces(older_than=datetime(2020, 1, 1))
    assert store.get_assessments(tid(5)) == []
    # An empty id names nothing (and must not reach another route).
    with pytest.raises(NotFoundError):
        store.get_trace("")
    with pytest.raises(NotFoundError):
        store.set_trace_tag("", "k")
    with pytest.raises(NotFoundError):
        store.delete_assessment("")
    assert store.get_assessments("") == []


def test_bulk_delete(store: Store) -> None:
    store.log_spans(many_traces(30))
    store.log_assessment(tid(100), "relevance", 0.5, source_type="CODE")
    cutoff = datetime.fromtimestamp(NOW_NS / 1e9, tz=timezone.utc) + timedelta(seconds=10)
    assert store.delete_traces(older_than=cutoff, batch_size=3) == 10
    assert store.delete_traces(filter="status = 'ERROR'", batch_size=2) == 3
    assert store.delete_traces(project="other", filter="tag.env = 'prod'") == 2  # t15, t27
    assert len(store.search_traces(limit=100)) == 15
    assert store.delete_traces(older_than=timedelta(days=365 * 50)) == 0
    assert store.delete_traces(older_than=timedelta(0)) == 15
    assert store.search_traces(limit=100) == []
    assert store.get_assessments(tid(100)) == []


@pytest.mark.parametrize("key", ["reviewed", "a/b", "x?y#z&w=1", "..", "sp ace %20", "ünï.ço"])
def test_tags(store: Store, key: str) -> None:
    store.log_spans([record(7, 1, name="root")])
    store.set_trace_tag(tid(7), key, "yes")
    store.set_trace_tag(tid(7), key, "twice")
    store.set_trace_tag(tid(7), "flag")
    assert store.get_trace(tid(7)).info.tags == {key: "twice", "flag": "true"}
    quoted = key.replace("'", "''")
    assert [t.trace_id for t in store.search_traces(f"tag.`{quoted}` = 'twice'")] == [tid(7)]
    store.delete_trace_tag(tid(7), key)
    store.delete_trace_tag(tid(7), "never-set")
    assert store.get_trace(tid(7)).info.tags == {"flag": "true"}


def test_assessments_create_update_delete(store: Store) -> None:
    store.log_spans([record(7, 1, name="root"), record(7, 2, 1, name="child")])
    first = store.log_assessment(
        tid(7),
        "faithfulness",
        0.8,
        source_type="llm_judge",
        source_id="gpt-judge",
        span_id=sid(2),
        rationale="mostly grounded",
        metadata={"k": 1, "nested": {"a": [1, 2]}},
    )
    thumbs = store.log_assessment(tid(7), "thumbs", None, error="judge timed out")
    assert first.source_type == "LLM_JUDGE" and first.span_id == sid(2)
    assert first.created_at == first.updated_at and first.created_at is not None
    assert first.created_at.tzinfo == timezone.utc
    assert store.get_assessments(tid(7)) == [first, thumbs]

    changed = store.update_assessment(first.assessment_id, value={"score": 0.4}, rationale=None)
    assert changed.value == {"score": 0.4} and changed.rationale is None
    assert changed.metadata == first.metadata and changed.source_id == "gpt-judge"
    assert changed.created_at == first.created_at
    assert changed.updated_at is not None and first.updated_at is not None
    assert changed.updated_at > first.updated_at
    again = store.update_assessment(first.assessment_id, metadata=None, error="late")
    assert again.metadata == {} and again.error == "late" and again.value == {"score": 0.4}
    assert store.update_assessment(first.assessment_id) == again  # nothing to change
    fixed = store.update_assessment(thumbs.assessment_id, value=True, error=None)
    assert fixed.value is True and fixed.error is None

    assert store.get_assessments(tid(7)) == [again, fixed]
    assert store.get_trace(tid(7)).assessments == [again, fixed]
    store.delete_assessment(first.assessment_id)
    assert store.get_assessments(tid(7)) == [fixed]
    with pytest.raises(NotFoundError, match=first.assessment_id):
        store.delete_assessment(first.assessment_id)
    with pytest.raises(NotFoundError, match="nope"):
        store.update_assessment("nope", value=1)


def test_model_usage(store: Store) -> None:
    store.log_spans(many_traces(10))
    usage = {u.model: u for u in store.model_usage()}
    assert set(usage) == {"priced", "free"}
    assert usage["priced"].calls == 5 and usage["priced"].cost == pytest.approx(0.005)
    assert usage["priced"].unpriced_calls == 0
    assert usage["free"].cost is None and usage["free"].unpriced_calls == 5
    assert usage["free"].input_tokens == 1 + 3 + 5 + 7 + 9
    other = store.model_usage(project="other")  # t0, t3, t6, t9
    assert {u.model: u.calls for u in other} == {"priced": 2, "free": 2}
    since = datetime.fromtimestamp(NOW_NS / 1e9 + 5, tz=timezone.utc)
    assert sum(u.calls for u in store.model_usage(since=since)) == 5


# --- parity: one database, both stores ----------------------------------------------------------


def test_rest_and_sql_return_equal_values(pair: Pair) -> None:
    pair.rest.log_spans(many_traces(30))
    pair.rest.set_trace_tag(tid(103), "reviewed", "yes")
    pair.rest.log_assessment(tid(103), "relevance", 0.25, metadata={"why": ["a", "b"]})
    pair.sql.log_assessment(tid(103), "thumbs", True, source_type="HUMAN", source_id="u1")

    queries: list[dict[str, Any]] = [
        {},
        {"limit": 7},
        {"filter": "status = 'ERROR' or tag.reviewed = 'yes'", "limit": 2},
        {"order_by": "latency_ms desc", "limit": 5, "project": "proj"},
        {"order_by": ["status", "cost desc", "name"], "limit": 4},
    ]
    for query in queries:
        rest_page, sql_page = pair.rest.search_traces(**query), pair.sql.search_traces(**query)
        assert rest_page == sql_page, query
        assert rest_page.next_page_token == sql_page.next_page_token, query
        if rest_page.next_page_token:
            # Tokens are the store's own: one from either side continues on the other.
            follow = {**query, "page_token": rest_page.next_page_token}
            assert pair.sql.search_traces(**follow) == pair.rest.search_traces(**follow)

    for info in pair.sql.search_traces(limit=100):
        assert pair.rest.get_trace(info.trace_id) == pair.sql.get_trace(info.trace_id)
    trace = pair.rest.get_trace(tid(103))
    assert trace.info.tags == {"env": "prod", "reviewed": "yes"}
    assert [a.name for a in trace.assessments] == ["relevance", "thumbs"]
    root = trace.root
    assert root is not None and [c.name for c in root.children] == ["generate"]
    assert root.inputs == {"q": "question 3", "n": 3, "ok": True}
    assert root.events == [
        {"name": "retry", "timestamp_ns": NOW_NS + 3000 * 1_000_000 + 1000, "attributes": {"n": 1}}
    ]
    assert trace.spans[1].attributes["gen_ai.request.stop_sequences"] == ["\n", "END"]
    assert pair.rest.get_assessments(tid(103)) == pair.sql.get_assessments(tid(103))
    for kwargs in ({}, {"project": "other"}, {"since": trace.info.start_time}):
        assert pair.rest.model_usage(**kwargs) == pair.sql.model_usage(**kwargs)


def test_log_spans_in_several_requests(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []

    class Counting(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/spans"):
                sent.append(len(request.content))
            return super().handle_request(request)

    monkeypatch.setattr(_rest_traces, "SPANS_PER_REQUEST", 7)
    with RestStore(pair.live.url, transport=Counting()) as rest:
        rest.log_spans(many_traces(30))  # 60 records
        assert len(sent) == 9
        rest.log_spans(many_traces(30))  # again: stored spans are skipped, rollups unchanged
    assert len(pair.sql.search_traces(limit=100)) == 30
    assert pair.sql.count_spans() == 60
    assert pair.sql.get_trace(tid(100)).info.span_count == 2

    sent.clear()
    monkeypatch.setattr(_rest_traces, "SPANS_PER_REQUEST", 10_000)
    monkeypatch.setattr(_rest_traces, "BYTES_PER_REQUEST", 3000)
    with RestStore(pair.live.url, transport=Counting()) as rest:
        rest.log_spans(many_traces(10))
    assert len(sent) > 3 and max(sent) <= 3000


def test_deep_traces_travel_flat(pair: Pair) -> None:
    # A 600-level chain: nesting it as JSON (one level per span) would pass Python's limits.
    pair.rest.log_spans(deep_trace(9, 600))
    trace, stored = pair.rest.get_trace(tid(9)), pair.sql.get_trace(tid(9))
    # Field by field: a dataclass == on spans compares their subtrees recursively.
    assert trace.info == stored.info
    assert [span_to_dict(s) for s in trace.spans] == [span_to_dict(s) for s in stored.spans]
    depths = [depth for depth, _ in trace.walk()]
    assert depths == list(range(600))


def test_log_spans_validates_records(pair: Pair) -> None:
    bad = record(1, 1)
    bad.trace_id = "not-hex"
    with pytest.raises(InvalidParameterError, match="trace_id"):
        pair.rest.log_spans([record(2, 1), bad])
    assert pair.sql.search_traces() == []  # the whole request is refused


def test_open_store_returns_a_rest_store_for_server_urls(pair: Pair) -> None:
    remote = open_store(pair.live.url + "/")
    try:
        assert isinstance(remote, RestStore) and isinstance(remote, Store)
        assert remote.search_traces() == []
    finally:
        remote.close()


def test_unreachable_server_is_a_store_error() -> None:
    rest = RestStore(f"http://127.0.0.1:{free_port()}", retries=1)
    with rest, pytest.raises(StoreError, match="unreachable"):
        rest.search_traces()
