"""Store analytics (`trace_timeseries`, `span_breakdown`) on every backend and through the server:
the same exact numbers everywhere, from known data."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from llmtrace import semconv as sc
from llmtrace.exceptions import FilterSyntaxError, InvalidParameterError
from llmtrace.store import SpanRecord, SqlStore, Store
from llmtrace.store.analytics_entities import SpanGroup, TimeBucket
from tests.server.conftest import LiveServer, live_server  # noqa: F401 - fixture

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000
MS = 1_000_000
UNTIL = T0 + timedelta(seconds=180)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Each `Store` implementation (tests/conftest.py `any_store`)."""
    return any_store


class _Traces:
    """Builds span records: a CHAIN root per trace, optional LLM children."""

    def __init__(self) -> None:
        self.records: list[SpanRecord] = []
        self.count = 0

    def trace(
        self,
        at_us: int,
        dur_ms: int,
        *,
        status: str = "OK",
        project: str = "proj",
        children: tuple[dict[str, Any], ...] = (),
    ) -> None:
        """A trace starting `at_us` microseconds after T0 (negative: before)."""
        self.count += 1
        trace_id = f"{self.count:032x}"
        start = T0_NS + at_us * 1000
        root = f"{self.count:08x}00000000"
        self.records.append(
            SpanRecord(
                trace_id=trace_id,
                span_id=root,
                parent_span_id=None,
                name="root",
                start_time_ns=start,
                end_time_ns=start + dur_ms * MS,
                status=status,
                attributes={sc.SPAN_TYPE: "CHAIN"},
                resource={sc.RESOURCE_PROJECT: project},
                is_local_root=True,
            )
        )
        for i, child in enumerate(children, 1):
            attrs: dict[str, Any] = {
                sc.SPAN_TYPE: "LLM",
                sc.GEN_AI_REQUEST_MODEL: child["model"],
                sc.GEN_AI_USAGE_INPUT_TOKENS: child["tokens"][0],
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: child["tokens"][1],
            }
            if child.get("cost") is not None:
                attrs[sc.COST_TOTAL] = child["cost"]
            if child.get("repeated"):
                attrs[sc.USAGE_AGGREGATE] = False
            self.records.append(
                SpanRecord(
                    trace_id=trace_id,
                    span_id=f"{self.count:08x}{i:08x}",
                    parent_span_id=root,
                    name="llm",
                    start_time_ns=start,
                    end_time_ns=start + child["dur_ms"] * MS,
                    attributes=attrs,
                    resource={sc.RESOURCE_PROJECT: project},
                )
            )


def _seed(store: Store) -> None:
    t = _Traces()
    # Bucket 0, [T0, T0 + 60 s): latencies 10, 40 (ERROR), 30, 20 ms.
    t.trace(0, 10, children=({"model": "gpt-a", "dur_ms": 4, "tokens": (10, 5), "cost": 0.25},))
    t.trace(
        10_500_000,
        40,
        status="ERROR",
        children=({"model": "gpt-a", "dur_ms": 8, "tokens": (20, 10), "cost": 0.5},),
    )
    t.trace(30_000_000, 30)
    # The last microsecond of the bucket; an unpriced model.
    t.trace(59_999_999, 20, children=({"model": "gpt-b", "dur_ms": 2, "tokens": (1, 2)},))
    # Bucket 1, [T0 + 60 s, T0 + 120 s): 20 traces of 1..20 ms, the last one an ERROR; the
    # first has a framework span repeating its provider call's usage.
    for k in range(20):
        children: tuple[dict[str, Any], ...] = ()
        if k == 0:
            usage = {"model": "gpt-a", "tokens": (7, 3), "cost": 0.125}
            children = ({**usage, "dur_ms": 5, "repeated": True}, {**usage, "dur_ms": 3})
        t.trace(
            60_000_000 + k * 500_000, k + 1, status="ERROR" if k == 19 else "OK", children=children
        )
    # Outside the range or the project.
    t.trace(-1, 1000)
    t.trace(180_000_000, 1000)
    t.trace(5_000_000, 1000, project="other")
    store.log_spans(t.records)


def _bucket(offset_s: int, **values: Any) -> TimeBucket:
    start = T0 + timedelta(seconds=offset_s)
    return TimeBucket(start=start, end=start + timedelta(seconds=60), **values)


EXPECTED_SERIES = [
    _bucket(
        0,
        requests=4,
        errors=1,
        latency_p50_ms=20.0,
        latency_p95_ms=40.0,
        latency_p99_ms=40.0,
        input_tokens=31,
        output_tokens=17,
        cost=0.75,
    ),
    _bucket(
        60,
        requests=20,
        errors=1,
        latency_p50_ms=10.0,
        latency_p95_ms=19.0,
        latency_p99_ms=20.0,
        input_tokens=7,
        output_tokens=3,
        cost=0.125,
    ),
    _bucket(120),
]


def test_timeseries_exact_values(store: Store) -> None:
    _seed(store)
    series = store.trace_timeseries(since=T0, until=UNTIL, bucket_seconds=60, project="proj")
    assert series == EXPECTED_SERIES
    assert series[0].error_rate == 0.25 and series[2].error_rate is None
    # Every start time is aware UTC.
    assert all(b.start.tzinfo is not None and b.start.utcoffset() == timedelta(0) for b in series)


def test_timeseries_filters_and_projects(store: Store) -> None:
    _seed(store)
    everything = store.trace_timeseries(since=T0, until=UNTIL, bucket_seconds=60)
    first = everything[0]
    # The other project's 1,000 ms trace joins bucket 0: nearest rank of 5 values.
    assert (first.requests, first.latency_p50_ms, first.latency_p95_ms) == (5, 30.0, 1000.0)
    errors = store.trace_timeseries(
        "status = 'ERROR'", since=T0, until=UNTIL, bucket_seconds=60, project="proj"
    )
    assert [(b.requests, b.errors, b.latency_p50_ms) for b in errors] == [
        (1, 1, 40.0),
        (1, 1, 20.0),
        (0, 0, None),
    ]
    with pytest.raises(FilterSyntaxError):
        store.trace_timeseries("status = ", since=T0, until=UNTIL, bucket_seconds=60)


def test_timeseries_bucket_edges_and_partial_last_bucket(store: Store) -> None:
    _seed(store)
    # One whole range: all 24 traces; since's microseconds are dropped.
    whole = store.trace_timeseries(
        since=T0 + timedelta(microseconds=900),
        until=UNTIL,
        bucket_seconds=180,
        project="proj",
    )
    assert [(b.start, b.end, b.requests) for b in whole] == [(T0, UNTIL, 24)]
    # 90 s buckets to T0 + 100 s: the second bucket is cut at `until`.
    cut = store.trace_timeseries(
        since=T0, until=T0 + timedelta(seconds=100), bucket_seconds=90, project="proj"
    )
    assert [(b.start, b.end, b.requests) for b in cut] == [
        (T0, T0 + timedelta(seconds=90), 24),
        (T0 + timedelta(seconds=90), T0 + timedelta(seconds=100), 0),
    ]
    # 1 s buckets over the first bucket's last second and the next one's first.
    edge = store.trace_timeseries(
        since=T0 + timedelta(seconds=59),
        until=T0 + timedelta(seconds=61),
        bucket_seconds=1,
        project="proj",
    )
    assert [b.requests for b in edge] == [1, 2]
    # Times given in another zone mean the same instants.
    tokyo = timezone(timedelta(hours=9))
    shifted = store.trace_timeseries(
        since=T0.astimezone(tokyo), until=UNTIL.astimezone(tokyo), bucket_seconds=60, project="proj"
    )
    assert shifted == EXPECTED_SERIES


def test_empty_store_lists_empty_buckets(store: Store) -> None:
    series = store.trace_timeseries(since=T0, until=UNTIL, bucket_seconds=60)
    assert series == [_bucket(0), _bucket(60), _bucket(120)]
    assert store.span_breakdown(since=T0) == []
    # `until` defaults to now: the last bucket ends now.
    recent = store.trace_timeseries(
        since=datetime.now(UTC) - timedelta(hours=1), bucket_seconds=600
    )
    assert len(recent) in (6, 7) and all(b.requests == 0 for b in recent)


EXPECTED_BY_MODEL = [
    SpanGroup("gpt-a", 3, 0, 4.0, 8.0, 8.0, 37, 18, 0.875),
    SpanGroup("gpt-b", 1, 0, 2.0, 2.0, 2.0, 1, 2, None),
]
EXPECTED_BY_TYPE = [
    SpanGroup("CHAIN", 24, 2, 11.0, 30.0, 40.0, 0, 0, None),
    SpanGroup("LLM", 5, 0, 4.0, 8.0, 8.0, 38, 20, 0.875),
]


def test_span_breakdown_exact_values(store: Store) -> None:
    _seed(store)
    by_model = store.span_breakdown(since=T0, until=UNTIL, by="model", project="proj")
    assert by_model == EXPECTED_BY_MODEL
    by_type = store.span_breakdown(since=T0, until=UNTIL, by="span_type", project="proj")
    assert by_type == EXPECTED_BY_TYPE
    assert (
        store.span_breakdown(since=T0, until=UNTIL, by="span_type", project="proj", limit=1)
        == EXPECTED_BY_TYPE[:1]
    )
    errors = store.span_breakdown(
        "status = 'ERROR'", since=T0, until=UNTIL, by="model", project="proj"
    )
    assert errors == [SpanGroup("gpt-a", 1, 0, 8.0, 8.0, 8.0, 20, 10, 0.5)]
    # No `until`: the trace at T0 + 180 s (no spans with a model) adds one CHAIN span.
    open_ended = store.span_breakdown(since=T0, by="span_type", project="proj")
    assert open_ended[0].calls == 25


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": datetime(2026, 3, 1), "bucket_seconds": 60}, "timezone-aware"),
        ({"since": T0, "until": T0, "bucket_seconds": 60}, "must be after since"),
        ({"since": T0, "until": UNTIL, "bucket_seconds": 0}, "bucket_seconds must be"),
        ({"since": T0, "until": UNTIL, "bucket_seconds": True}, "bucket_seconds must be"),
        ({"since": T0, "until": UNTIL, "bucket_seconds": 10**9}, "bucket_seconds must be"),
        (
            {"since": T0, "until": T0 + timedelta(days=3), "bucket_seconds": 60},
            "4320 buckets of 60 s",
        ),
    ],
)
def test_timeseries_rejects_bad_arguments(
    store: Store, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        store.trace_timeseries(**kwargs)


def test_too_many_buckets_up_to_now_is_refused(store: Store) -> None:
    # Over REST the server counts the buckets (its clock decides `until`).
    with pytest.raises(InvalidParameterError, match="at most 2000"):
        store.trace_timeseries(since=datetime.now(UTC) - timedelta(days=3), bucket_seconds=60)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "user"}, "by must be one of model, span_type"),
        ({"limit": 0}, "limit must be an integer from 1 to 1000"),
        ({"until": T0 - timedelta(seconds=1)}, "must be after since"),
    ],
)
def test_breakdown_rejects_bad_arguments(
    store: Store, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        store.span_breakdown(since=T0, **kwargs)


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_session_time_zone_does_not_shift_buckets(
    request: pytest.FixtureRequest, backend: str
) -> None:
    url = request.getfixturevalue(f"migrated_{backend}_url")
    writer = SqlStore(url)
    _seed(writer)
    writer.close()
    if backend == "postgresql":
        connect_args = {"options": "-c timezone=Pacific/Chatham"}
    else:
        connect_args = {"init_command": "SET time_zone = '+09:30'"}
    reader = SqlStore(url, migrate=False, connect_args=connect_args)
    try:
        series = reader.trace_timeseries(since=T0, until=UNTIL, bucket_seconds=60, project="proj")
        assert series == EXPECTED_SERIES
    finally:
        reader.close()


def test_rest_routes_answer_400_with_the_stores_message(
    live_server: Any,  # noqa: F811
    migrated_sqlite_url: str,
) -> None:
    live: LiveServer = live_server(migrated_sqlite_url)
    base = live.url + "/api/v1/analytics"
    cases = [
        ("/timeseries", {"since": "2026-03-01T10:00:00", "bucket_seconds": "60"}),
        ("/timeseries", {"since": "2026-03-01T10:00:00Z", "bucket_seconds": "0"}),
        ("/breakdown", {"since": "2026-03-01T10:00:00Z", "by": "nope"}),
    ]
    for path, params in cases:
        response = httpx.get(base + path, params=params, timeout=10)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "INVALID_PARAMETER"
    ok = httpx.get(
        base + "/timeseries",
        params={
            "since": "2026-03-01T10:00:00Z",
            "until": "2026-03-01T10:03:00Z",
            "bucket_seconds": 60,
        },
        timeout=10,
    )
    assert ok.status_code == 200
    assert [b["start"] for b in ok.json()["buckets"]] == [
        "2026-03-01T10:00:00+00:00",
        "2026-03-01T10:01:00+00:00",
        "2026-03-01T10:02:00+00:00",
    ]


def _nearest_rank(values: list[float], p: int) -> float:
    """The definition: the value of rank ceil(p * n / 100) in ascending order."""
    ordered = sorted(values)
    return ordered[max(1, -(-p * len(ordered) // 100)) - 1]


def test_percentiles_match_the_definition_on_random_data(store: Store) -> None:
    rng = random.Random(7)
    t = _Traces()
    durations: dict[int, list[float]] = {0: [], 1: []}
    for i in range(157):
        bucket = i % 2
        # Whole milliseconds with many ties, and a few large outliers.
        dur = rng.choice((rng.randint(1, 40), rng.randint(1, 40), rng.randint(500, 5000)))
        t.trace(bucket * 60_000_000 + i * 1000, dur)
        durations[bucket].append(float(dur))
    store.log_spans(t.records)
    series = store.trace_timeseries(since=T0, until=T0 + timedelta(seconds=120), bucket_seconds=60)
    for bucket, values in durations.items():
        got = series[bucket]
        assert got.requests == len(values)
        assert (got.latency_p50_ms, got.latency_p95_ms, got.latency_p99_ms) == tuple(
            _nearest_rank(values, p) for p in (50, 95, 99)
        )
    (chain,) = store.span_breakdown(since=T0, by="span_type")
    every = durations[0] + durations[1]
    assert (chain.latency_p50_ms, chain.latency_p95_ms, chain.latency_p99_ms) == tuple(
        _nearest_rank(every, p) for p in (50, 95, 99)
    )
