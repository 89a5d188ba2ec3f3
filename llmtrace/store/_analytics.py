"""Analytics on SQL: methods of `SqlStore` computing aggregates in the database.

Every number is a SQL aggregate; no trace or span is loaded into Python. The queries select
traces by `start_time` (indexed, alone and after `project`) within `[since, until)`, and the
span breakdown reaches spans through their primary key (`trace_id` first).

Latency percentiles are nearest-rank (see `analytics_entities`), computed the same portable way
on SQLite, PostgreSQL and MariaDB/MySQL: `ROW_NUMBER()` and `COUNT(*)` over the group's
partition ordered by latency, and the value at rank r where 100 (r - 1) < p n <= 100 r. This is
integer arithmetic only, so every backend picks the same row. (`percentile_cont` would
interpolate, exists only on PostgreSQL and, as a window function, on MariaDB; SQLite has none.)

Time buckets start at `since` (truncated to the whole second): bucket i holds the traces with
`since + i * bucket_seconds <= start_time < since + (i + 1) * bucket_seconds`. The offset of a
trace from `since` is taken in whole seconds from the stored naive-UTC timestamp, with no time
zone conversion on any backend (`strftime('%s')`, `EXTRACT(EPOCH FROM timestamp)`,
`TIMESTAMPDIFF`), so the session time zone of a server cannot shift a bucket.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from llmtrace import semconv as sc
from llmtrace.exceptions import InvalidParameterError
from llmtrace.store._filter import compile_filter
from llmtrace.store.analytics_entities import PERCENTILES, SpanGroup, TimeBucket
from llmtrace.store.models import SpanRow, TraceRow, UtcDateTime

traces_t: sa.Table = TraceRow.__table__  # type: ignore[assignment]
spans_t: sa.Table = SpanRow.__table__  # type: ignore[assignment]

MAX_BUCKETS = 2_000
# A year and a day: wider buckets say nothing a breakdown does not.
MAX_BUCKET_SECONDS = 366 * 86_400
MAX_GROUPS = 1_000
BREAKDOWN_KEYS = ("model", "span_type")
# How `llmtrace.usage.aggregate = false` appears in a span's stored attribute JSON.
_AGGREGATE_FALSE = f'"{sc.USAGE_AGGREGATE}":false'


def _aware(value: Any, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidParameterError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidParameterError(
            f"{name} must be timezone-aware (UTC), e.g. datetime.now(timezone.utc)"
        )
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidParameterError(f"{name} is out of range: {value.isoformat()}") from None


def check_range(since: Any, until: Any) -> tuple[datetime, datetime | None]:
    """`since` truncated to the second and `until` (None: now), both aware UTC; `since` must
    come first."""
    start = _aware(since, "since").replace(microsecond=0)
    end = None if until is None else _aware(until, "until")
    if end is not None and end <= start:
        raise InvalidParameterError(f"until ({end.isoformat()}) must be after since")
    return start, end


def check_bucket_seconds(bucket_seconds: Any) -> int:
    """A bucket size from 1 s to `MAX_BUCKET_SECONDS`."""
    if (
        isinstance(bucket_seconds, bool)
        or not isinstance(bucket_seconds, int)
        or not 1 <= bucket_seconds <= MAX_BUCKET_SECONDS
    ):
        raise InvalidParameterError(
            f"bucket_seconds must be an integer from 1 to {MAX_BUCKET_SECONDS}, "
            f"got {bucket_seconds!r}"
        )
    return int(bucket_seconds)


def check_buckets(since: datetime, until: datetime, bucket_seconds: Any) -> int:
    """The number of buckets of `bucket_seconds` covering `[since, until)`, at most
    `MAX_BUCKETS`."""
    check_bucket_seconds(bucket_seconds)
    if until <= since:
        raise InvalidParameterError(f"until ({until.isoformat()}) must be after since")
    count = math.ceil((until - since) / timedelta(seconds=bucket_seconds))
    if count > MAX_BUCKETS:
        raise InvalidParameterError(
            f"{count} buckets of {bucket_seconds} s between since and until; at most "
            f"{MAX_BUCKETS}: choose larger buckets or a shorter range"
        )
    return count


def check_breakdown(by: Any, limit: Any) -> None:
    """`by` is a breakdown key and `limit` a group count from 1 to `MAX_GROUPS`."""
    if by not in BREAKDOWN_KEYS:
        raise InvalidParameterError(f"by must be one of {', '.join(BREAKDOWN_KEYS)}, got {by!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_GROUPS:
        raise InvalidParameterError(
            f"limit must be an integer from 1 to {MAX_GROUPS}, got {limit!r}"
        )


def _seconds_since(
    dialect: str, column: sa.ColumnElement[Any], since: datetime
) -> sa.ColumnElement[Any]:
    """Whole seconds from `since` (whole) to `column` (a stored UTC time >= since), floored."""
    if dialect == "postgresql":
        epoch = sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)
        return epoch - int(since.timestamp())
    if dialect in ("mysql", "mariadb"):
        start = sa.literal(since, UtcDateTime())
        return sa.func.timestampdiff(sa.literal_column("SECOND"), start, column)
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff'. Its date functions keep milliseconds and
    # round (xx:59.9996 would become the next second), so the fraction is cut off first.
    whole = sa.func.substr(column, 1, 19)
    return sa.cast(sa.func.strftime("%s", whole), sa.Integer) - int(since.timestamp())


def _percentile_columns(
    sub: sa.Subquery, value: str, rank: str, count: str
) -> list[sa.ColumnElement[Any]]:
    """MAX over the group of the value at the nearest rank of each percentile."""
    columns: list[sa.ColumnElement[Any]] = []
    for p in PERCENTILES:
        r, n = sub.c[rank], sub.c[count]
        at_rank = sa.and_(r * 100 >= n * p, (r - 1) * 100 < n * p)
        columns.append(sa.func.max(sa.case((at_rank, sub.c[value]))).label(f"p{p}"))
    return columns


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _cost(value: Any) -> float | None:
    # Rounded as trace rollups are: sums of list prices otherwise differ in the last bits
    # from one backend (summation order) to another.
    return None if value is None else round(float(value), 12)


class AnalyticsMixin:
    """The analytics half of `SqlStore`."""

    engine: sa.Engine

    def trace_timeseries(
        self,
        filter: str | None = None,
        *,
        since: datetime,
        until: datetime | None = None,
        bucket_seconds: int,
        project: str | None = None,
    ) -> list[TimeBucket]:
        """Requests, errors, latency percentiles, tokens and cost of the traces started in
        `[since, until)` (until: now), per bucket of `bucket_seconds` from `since` (truncated to
        the second); every bucket is listed, empty ones with zero requests. At most 2,000
        buckets. `filter` is the trace filter language of `search_traces`.

        Example:
            >>> day = datetime.now(timezone.utc) - timedelta(days=1)
            >>> [b.requests for b in store.trace_timeseries(since=day, bucket_seconds=3600)]
        """
        start, end = check_range(since, until)
        end = end or datetime.now(timezone.utc)
        count = check_buckets(start, end, bucket_seconds)
        where = compile_filter(filter)
        offset = _seconds_since(self.engine.dialect.name, traces_t.c.start_time, start)
        bucketed = sa.select(
            (offset - offset % bucket_seconds).label("bucket"),
            traces_t.c.duration_ms,
            traces_t.c.status,
            traces_t.c.input_tokens,
            traces_t.c.output_tokens,
            traces_t.c.cost,
        ).where(traces_t.c.start_time >= start, traces_t.c.start_time < end)
        if project is not None:
            bucketed = bucketed.where(traces_t.c.project == project)
        if where is not None:
            bucketed = bucketed.where(where)
        b = bucketed.subquery("b")
        ranked = sa.select(
            b,
            sa.func.row_number()
            .over(partition_by=b.c.bucket, order_by=b.c.duration_ms)
            .label("rn"),
            sa.func.count().over(partition_by=b.c.bucket).label("n"),
        ).subquery("r")
        is_error = sa.case((ranked.c.status == "ERROR", 1), else_=0)
        q = (
            sa.select(
                ranked.c.bucket,
                sa.func.count().label("requests"),
                sa.func.sum(is_error).label("errors"),
                *_percentile_columns(ranked, "duration_ms", "rn", "n"),
                sa.func.sum(ranked.c.input_tokens).label("input_tokens"),
                sa.func.sum(ranked.c.output_tokens).label("output_tokens"),
                sa.func.sum(ranked.c.cost).label("cost"),
            )
            .group_by(ranked.c.bucket)
            .order_by(ranked.c.bucket)
        )
        with self.engine.connect() as conn:
            rows = {int(r.bucket) // bucket_seconds: r for r in conn.execute(q)}
        step = timedelta(seconds=bucket_seconds)
        buckets = []
        for i in range(count):
            lo = start + i * step
            # Not min(lo + step, end): near datetime.max, lo + step would overflow.
            bucket = TimeBucket(start=lo, end=end if end - lo <= step else lo + step)
            row = rows.get(i)
            if row is not None:
                bucket.requests = int(row.requests)
                bucket.errors = int(row.errors or 0)
                bucket.latency_p50_ms = _float(row.p50)
                bucket.latency_p95_ms = _float(row.p95)
                bucket.latency_p99_ms = _float(row.p99)
                bucket.input_tokens = int(row.input_tokens or 0)
                bucket.output_tokens = int(row.output_tokens or 0)
                bucket.cost = _cost(row.cost)
            buckets.append(bucket)
        return buckets

    def span_breakdown(
        self,
        filter: str | None = None,
        *,
        since: datetime,
        until: datetime | None = None,
        by: str = "model",
        project: str | None = None,
        limit: int = 100,
    ) -> list[SpanGroup]:
        """Calls, errors, latency percentiles, tokens and cost of the spans of traces started
        in `[since, until)`, per model (spans naming one) or per span type; most calls first,
        at most `limit` groups (up to 1,000). `filter` selects traces as in `search_traces`.

        Example:
            >>> store.span_breakdown(since=day, by="span_type")[0].key
            'LLM'
        """
        start, end = check_range(since, until)
        check_breakdown(by, limit)
        where = compile_filter(filter)
        key = spans_t.c.model if by == "model" else spans_t.c.span_type
        repeated = spans_t.c.attributes.contains(_AGGREGATE_FALSE, autoescape=True)
        counted = sa.case((repeated, 0), else_=1)
        # Traces first, by the start_time index, then their spans by primary key: an IN
        # subquery keeps that order on SQLite, whose planner would otherwise scan all spans
        # and look each one's trace up.
        traces = sa.select(traces_t.c.trace_id).where(traces_t.c.start_time >= start)
        if end is not None:
            traces = traces.where(traces_t.c.start_time < end)
        if project is not None:
            traces = traces.where(traces_t.c.project == project)
        if where is not None:
            traces = traces.where(where)
        grouped = sa.select(
            key.label("key"),
            spans_t.c.duration_ms,
            spans_t.c.status,
            (spans_t.c.input_tokens * counted).label("input_tokens"),
            (spans_t.c.output_tokens * counted).label("output_tokens"),
            sa.case((repeated, None), else_=spans_t.c.cost).label("cost"),
        ).where(spans_t.c.trace_id.in_(traces))
        if by == "model":
            # As `model_usage`: a call reported again by a nested span is one call.
            grouped = grouped.where(spans_t.c.model.is_not(None), ~repeated)
        g = grouped.subquery("g")
        ranked = sa.select(
            g,
            sa.func.row_number().over(partition_by=g.c.key, order_by=g.c.duration_ms).label("rn"),
            sa.func.count().over(partition_by=g.c.key).label("n"),
        ).subquery("r")
        is_error = sa.case((ranked.c.status == "ERROR", 1), else_=0)
        calls = sa.func.count()
        q = (
            sa.select(
                ranked.c.key,
                calls.label("calls"),
                sa.func.sum(is_error).label("errors"),
                *_percentile_columns(ranked, "duration_ms", "rn", "n"),
                sa.func.sum(ranked.c.input_tokens).label("input_tokens"),
                sa.func.sum(ranked.c.output_tokens).label("output_tokens"),
                sa.func.sum(ranked.c.cost).label("cost"),
            )
            .group_by(ranked.c.key)
            .order_by(calls.desc(), ranked.c.key)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        groups = [
            SpanGroup(
                key=str(r.key),
                calls=int(r.calls),
                errors=int(r.errors or 0),
                latency_p50_ms=_float(r.p50),
                latency_p95_ms=_float(r.p95),
                latency_p99_ms=_float(r.p99),
                input_tokens=int(r.input_tokens or 0),
                output_tokens=int(r.output_tokens or 0),
                cost=_cost(r.cost),
            )
            for r in rows
        ]
        # The database's collation orders ties; this order is the same on every backend.
        groups.sort(key=lambda g: (-g.calls, g.key))
        return groups


__all__ = [
    "BREAKDOWN_KEYS",
    "MAX_BUCKETS",
    "MAX_BUCKET_SECONDS",
    "MAX_GROUPS",
    "AnalyticsMixin",
    "check_breakdown",
    "check_bucket_seconds",
    "check_buckets",
    "check_range",
]
