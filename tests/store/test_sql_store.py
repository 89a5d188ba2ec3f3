"""`SqlStore` on SQLite, PostgreSQL and MariaDB: ingest, rollups, search, pagination, deletes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from llmtrace import semconv as sc
from llmtrace.exceptions import FilterSyntaxError, InvalidQueryError, NotFoundError
from llmtrace.store import SpanRecord, SqlStore

NOW_NS = int(datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc).timestamp() * 1e9)
MS = 1_000_000


def tid(n: int) -> str:
    return f"{n:032x}"


def sid(n: int) -> str:
    return f"{n:016x}"


def record(
    trace: int,
    span: int,
    parent: int | None = None,
    *,
    name: str = "step",
    start_ms: float = 0,
    dur_ms: float = 10,
    status: str = "OK",
    attrs: dict[str, Any] | None = None,
) -> SpanRecord:
    start = NOW_NS + int(start_ms * MS)
    return SpanRecord(
        trace_id=tid(trace),
        span_id=sid(span),
        parent_span_id=sid(parent) if parent is not None else None,
        name=name,
        start_time_ns=start,
        end_time_ns=start + int(dur_ms * MS),
        status=status,
        status_message="boom" if status == "ERROR" else None,
        attributes=attrs or {},
        resource={sc.RESOURCE_PROJECT: "proj"},
        is_local_root=parent is None,
    )


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


def llm_attrs(inp: int, out: int, cost: float | None = None, **extra: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.SPAN_TYPE: "LLM",
        sc.GEN_AI_REQUEST_MODEL: "gpt-test",
        sc.GEN_AI_USAGE_INPUT_TOKENS: inp,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: out,
    }
    if cost is not None:
        attrs[sc.COST_TOTAL] = cost
    attrs.update(extra)
    return attrs


def test_rollups_merge_across_batches(store: SqlStore) -> None:
    # Children arrive first (their batch), the root later: the trace row is merged.
    store.log_spans(
        [
            record(1, 2, 1, name="llm", start_ms=5, dur_ms=20, attrs=llm_attrs(10, 4, 0.01)),
            record(1, 3, 1, name="tool", start_ms=30, dur_ms=5, status="ERROR"),
        ]
    )
    partial = store.get_trace(tid(1)).info
    assert partial.name == "" and partial.status == "UNSET" and partial.span_count == 2
    root_attrs = {
        sc.SPAN_INPUTS: json.dumps({"question": "why?"}),
        sc.SPAN_OUTPUTS: json.dumps("because"),
        sc.TRACE_SESSION_ID: "s-1",
        sc.TRACE_TAG_PREFIX + "env": "prod",
        sc.TRACE_METADATA_PREFIX + "customer": "acme",
    }
    store.log_spans([record(1, 1, name="agent", dur_ms=100, attrs=root_attrs)])
    trace = store.get_trace(tid(1))
    info = trace.info
    assert info.name == "agent"
    assert info.status == "OK"
    assert info.project == "proj"
    assert info.span_count == 3 and info.error_count == 1
    assert (info.input_tokens, info.output_tokens, info.total_tokens) == (10, 4, 14)
    assert info.cost == pytest.approx(0.01)
    assert info.duration_ms == pytest.approx(100)
    assert info.input_preview == "why?"
    assert info.output_preview == "because"
    assert info.session_id == "s-1"
    assert info.tags == {"env": "prod"} and info.metadata == {"customer": "acme"}
    assert [s.name for _, s in trace.walk()] == ["agent", "llm", "tool"]
    llm = trace.spans[[s.name for s in trace.spans].index("llm")]
    assert llm.model == "gpt-test" and llm.span_type == "LLM"
    assert (llm.input_tokens, llm.output_tokens) == (10, 4)


def test_cost_unknown_is_null_and_nested_usage_not_double_counted(store: SqlStore) -> None:
    store.log_spans(
        [
            record(2, 1, name="chain"),
            # A framework span that repeats its nested provider span's usage opts out.
            record(2, 2, 1, attrs=llm_attrs(100, 50, 0.5, **{sc.USAGE_AGGREGATE: False})),
            record(2, 3, 2, attrs=llm_attrs(100, 50, 0.5)),
            record(3, 1, name="no-cost", attrs=llm_attrs(7, 3)),
        ]
    )
    assert store.get_trace(tid(2)).info.total_tokens == 150
    assert store.get_trace(tid(2)).info.cost == pytest.approx(0.5)
    unknown = store.get_trace(tid(3)).info
    assert unknown.cost is None and unknown.total_tokens == 10


def test_duplicate_spans_are_skipped(store: SqlStore) -> None:
    batch = [record(4, 1, name="root"), record(4, 2, 1)]
    store.log_spans(batch)
    store.log_spans([*batch, record(4, 3, 1)])
    info = store.get_trace(tid(4)).info
    assert info.span_count == 3
    assert store.count_spans(tid(4)) == 3


def test_a_span_twice_in_one_batch_is_stored_once(store: SqlStore) -> None:
    # Found by the API property test: POST /api/v1/spans with a repeated span answered 500.
    store.log_spans([record(5, 1, name="root"), record(5, 2, 1), record(5, 2, 1, name="again")])
    trace = store.get_trace(tid(5))
    assert trace.info.span_count == 2
    assert sorted(s.name for s in trace.spans) == ["root", "step"]


def test_concurrent_writers_of_one_trace(store: SqlStore, migrated_db_url: str) -> None:
    other = SqlStore(migrated_db_url)
    try:
        barrier = threading.Barrier(2)

        def write(s: SqlStore, first: int) -> None:
            barrier.wait()
            for k in range(20):
                s.log_spans([record(5, first + k, 1)])

        threads = [
            threading.Thread(target=write, args=(store, 100)),
            threading.Thread(target=write, args=(other, 200)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        store.log_spans([record(5, 1, name="root")])
        assert store.get_trace(tid(5)).info.span_count == 41
    finally:
        other.close()


def _load_many(store: SqlStore, n: int = 30) -> None:
    batch = []
    for i in range(n):
        attrs = {
            sc.TRACE_TAG_PREFIX + "env": "prod" if i % 2 else "dev",
            sc.TRACE_SESSION_ID: f"s-{i % 3}",
            sc.SPAN_INPUTS: json.dumps(
                {"q": f"question {i} about refunds" if i % 5 == 0 else "hi"}
            ),
        }
        batch.append(
            record(
                100 + i,
                1,
                name=f"t{i}",
                start_ms=i * 1000,
                dur_ms=i * 10,
                status="ERROR" if i % 7 == 0 else "OK",
                attrs=attrs,
            )
        )
        batch.append(
            record(100 + i, 2, 1, name="generate", start_ms=i * 1000, attrs=llm_attrs(i, 1))
        )
    store.log_spans(batch)


def test_search_filters_and_order(store: SqlStore) -> None:
    _load_many(store)
    newest = store.search_traces(limit=5)
    assert [t.name for t in newest] == ["t29", "t28", "t27", "t26", "t25"]
    errors = store.search_traces("status = 'ERROR'")
    assert sorted(t.name for t in errors) == sorted(f"t{i}" for i in range(30) if i % 7 == 0)
    slow_prod = store.search_traces("latency_ms > 200 and tag.env = 'prod'")
    assert {t.name for t in slow_prod} == {f"t{i}" for i in range(21, 30) if i % 2}
    by_latency = store.search_traces(order_by=["latency_ms desc"], limit=3)
    assert [t.name for t in by_latency] == ["t29", "t28", "t27"]
    text = store.search_traces("text = 'refunds'")
    assert {t.name for t in text} == {f"t{i}" for i in range(0, 30, 5)}
    assert len(store.search_traces("span.name = 'generate' and tokens >= 30")) == 1
    assert len(store.search_traces("session_id = 's-1'")) == 10
    assert len(store.search_traces(project="proj")) == 30
    assert len(store.search_traces(project="other")) == 0
    df = newest.to_pandas()
    assert list(df["name"]) == ["t29", "t28", "t27", "t26", "t25"]


def test_pagination_is_stable_while_new_traces_arrive(store: SqlStore) -> None:
    _load_many(store)
    seen: list[str] = []
    page = store.search_traces(limit=7)
    seen += [t.name for t in page]
    store.log_spans([record(999, 1, name="newer", start_ms=10**6)])
    while page.next_page_token:
        page = store.search_traces(limit=7, page_token=page.next_page_token)
        seen += [t.name for t in page]
    assert seen == [f"t{i}" for i in range(29, -1, -1)]


def test_pagination_with_mixed_order_and_ties(store: SqlStore) -> None:
    _load_many(store)
    order = ["status asc", "tokens desc"]
    everything = [t.trace_id for t in store.search_traces(order_by=order, limit=100)]
    paged: list[str] = []
    token = None
    while True:
        page = store.search_traces(order_by=order, limit=4, page_token=token)
        paged += [t.trace_id for t in page]
        token = page.next_page_token
        if token is None:
            break
    assert paged == everything and len(paged) == 30


def test_bad_queries_raise_clear_errors(store: SqlStore) -> None:
    _load_many(store, 3)
    with pytest.raises(FilterSyntaxError) as info:
        store.search_traces("name = 'x'; DROP TABLE spans; --")
    assert info.value.position == 10
    assert store.count_spans() == 6
    with pytest.raises(InvalidQueryError, match="page token"):
        store.search_traces(page_token="garbage!")
    token = store.search_traces(limit=1).next_page_token
    assert token is not None
    with pytest.raises(InvalidQueryError, match="does not belong"):
        store.search_traces("status = 'OK'", limit=1, page_token=token)
    with pytest.raises(InvalidQueryError):
        store.search_traces(order_by="nonsense desc")
    with pytest.raises(InvalidQueryError):
        store.search_traces(limit=0)
    with pytest.raises(NotFoundError):
        store.get_trace(tid(123456))


def test_delete_traces_in_batches(store: SqlStore) -> None:
    _load_many(store)
    store.log_assessment(tid(100), "relevance", 0.5, source_type="CODE")
    with pytest.raises(InvalidQueryError):
        store.delete_traces()
    cutoff = datetime.fromtimestamp(NOW_NS / 1e9, tz=timezone.utc) + timedelta(seconds=10)
    assert store.delete_traces(older_than=cutoff, batch_size=3) == 10
    assert store.delete_traces(filter="status = 'ERROR'", batch_size=2) == 3  # t14, t21, t28
    remaining = store.search_traces(limit=100)
    assert len(remaining) == 17
    assert store.count_spans() == 34
    assert store.delete_traces(older_than=timedelta(0)) == 17
    assert store.count_spans() == 0
    with sa.create_engine(store.engine.url).connect() as conn:
        for table in ("trace_tags", "trace_metadata", "assessments"):
            assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one() == 0


def test_tags_and_assessments(store: SqlStore) -> None:
    store.log_spans([record(7, 1, name="root")])
    store.set_trace_tag(tid(7), "reviewed", "yes")
    store.set_trace_tag(tid(7), "reviewed", "twice")
    assert store.get_trace(tid(7)).info.tags == {"reviewed": "twice"}
    assert len(store.search_traces("tag.reviewed = 'twice'")) == 1
    store.delete_trace_tag(tid(7), "reviewed")
    assert store.get_trace(tid(7)).info.tags == {}
    a = store.log_assessment(
        tid(7),
        "faithfulness",
        0.8,
        source_type="llm_judge",
        source_id="gpt-judge",
        span_id=sid(1),
        rationale="mostly grounded",
        metadata={"k": 1},
    )
    store.log_assessment(tid(7), "thumbs", True)
    got = store.get_trace(tid(7)).assessments
    assert [x.name for x in got] == ["faithfulness", "thumbs"]
    assert got[0].value == 0.8 and got[0].source_type == "LLM_JUDGE"
    assert got[0].metadata == {"k": 1} and got[0].assessment_id == a.assessment_id
    with pytest.raises(InvalidQueryError):
        store.log_assessment(tid(7), "x", 1, source_type="ROBOT")
    with pytest.raises(NotFoundError):
        store.set_trace_tag(tid(8), "k", "v")
    with pytest.raises(NotFoundError):
        store.log_assessment(tid(8), "x", 1)


def test_large_payloads_and_unicode_round_trip(store: SqlStore) -> None:
    big = "é" * 300_000 + "🚀"
    store.log_spans([record(9, 1, name="naïve ✓", attrs={sc.SPAN_OUTPUTS: json.dumps(big)})])
    trace = store.get_trace(tid(9))
    assert trace.root is not None and trace.root.outputs == big
    assert trace.info.name == "naïve ✓"
    assert trace.to_dict()["spans"][0]["outputs"] == big
    assert len(trace.to_pandas()) == 1
