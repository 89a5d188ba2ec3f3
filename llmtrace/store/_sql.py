"""`SqlStore`: the store on any SQLAlchemy database (SQLite, PostgreSQL, MySQL/MariaDB)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from llmtrace.exceptions import InvalidQueryError, NotFoundError
from llmtrace.store import _ingest
from llmtrace.store._analytics import AnalyticsMixin
from llmtrace.store._base import UNSET, Unset
from llmtrace.store._datasets import DatasetsMixin
from llmtrace.store._engine import SQLITE_BEGIN, create_engine, write_connection
from llmtrace.store._filter import compile_filter, parse_order_by
from llmtrace.store._keys import ApiKeysMixin
from llmtrace.store._pagination import decode_token, encode_token, query_fingerprint
from llmtrace.store._prompts import PromptsMixin
from llmtrace.store._registry import RegistryMixin
from llmtrace.store._tracking import TrackingMixin
from llmtrace.store.entities import Assessment, ModelUsage, Span, Trace, TraceInfo, TraceList
from llmtrace.store.migrate import ensure_schema
from llmtrace.store.models import (
    ASSESSMENT_SOURCES,
    AssessmentRow,
    SpanRow,
    TraceMetadataRow,
    TraceRow,
    TraceTagRow,
    UtcDateTime,
)
from llmtrace.store.records import SpanRecord

logger = logging.getLogger("llmtrace")

traces_t: sa.Table = TraceRow.__table__  # type: ignore[assignment]
spans_t: sa.Table = SpanRow.__table__  # type: ignore[assignment]
tags_t: sa.Table = TraceTagRow.__table__  # type: ignore[assignment]
metadata_t: sa.Table = TraceMetadataRow.__table__  # type: ignore[assignment]
assessments_t: sa.Table = AssessmentRow.__table__  # type: ignore[assignment]

# Bound-parameter lists: PostgreSQL plans IN lists of more than ~200 ids as a sequential scan
# while the table has no statistics yet (right after a bulk load); 200 keeps the primary key.
_IN_CHUNK = 200
MAX_LIMIT = 10_000
_WRITE_ATTEMPTS = 5


# How `llmtrace.usage.aggregate = false` appears in a span's stored attribute JSON.
_AGGREGATE_FALSE = '"llmtrace.usage.aggregate":false'


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _numeric(value: Any) -> float | None:
    """The numeric copy of an assessment value (booleans count as 0/1), for statistics."""
    return float(value) if isinstance(value, (int, float)) else None


def _loads(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return text


class SqlStore(
    TrackingMixin, ApiKeysMixin, DatasetsMixin, RegistryMixin, PromptsMixin, AnalyticsMixin
):
    """Traces, spans, tags and assessments, and experiment tracking, in a SQL database.

    The experiment and run methods (`create_experiment`, `create_run`, `log_batch`,
    `search_runs`, ...) come from `TrackingMixin` (`_tracking.py`, `_tracking_read.py`).

    Example:
        >>> store = SqlStore("sqlite:///traces.db")
        >>> store.search_traces("status = 'ERROR'", limit=10)
    """

    def __init__(self, url: str, *, migrate: bool = True, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self._insert_plans: dict[str, _InsertPlan] = {}
        if migrate:
            ensure_schema(self.engine)

    def __repr__(self) -> str:
        return f"SqlStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Release all pooled connections."""
        self.engine.dispose()

    # --- writes -------------------------------------------------------------------------------

    def log_spans(self, records: Sequence[SpanRecord]) -> None:
        """Store finished spans and merge their rollups into their traces, in one transaction.

        Spans already stored (a retried batch, an OTLP client sending twice) are skipped, and a
        span given twice in one batch is stored once (the first occurrence).
        """
        pending = list({(r.trace_id, r.span_id): r for r in reversed(records)}.values())[::-1]
        for attempt in range(_WRITE_ATTEMPTS):
            if not pending:
                return
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
                    with conn.begin():
                        self._write_batch(conn, pending)
                return
            except IntegrityError:
                # Another writer stored some of these traces or spans first: drop the spans
                # that exist now and merge the rest into the traces as they now stand.
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise
                pending = self._without_stored(pending)
            except DBAPIError as exc:
                # Two writers locking the same new trace rows can deadlock (MySQL gap locks);
                # the database aborts one of them, which simply tries again.
                if "deadlock" not in str(exc).lower() or attempt == _WRITE_ATTEMPTS - 1:
                    raise

    def _without_stored(self, records: list[SpanRecord]) -> list[SpanRecord]:
        keys: set[tuple[str, str]] = set()
        trace_ids = sorted({r.trace_id for r in records})
        with self.engine.connect() as conn:
            for chunk in _chunks(trace_ids):
                q = sa.select(spans_t.c.trace_id, spans_t.c.span_id).where(
                    spans_t.c.trace_id.in_(chunk)
                )
                keys.update((t, s) for t, s in conn.execute(q))
        return [r for r in records if (r.trace_id, r.span_id) not in keys]

    def _write_batch(self, conn: sa.Connection, records: list[SpanRecord]) -> None:
        rows, deltas = _ingest.convert(records)
        # Sorted, so that concurrent writers lock rows in the same order.
        trace_ids = sorted(deltas)
        existing: dict[str, Any] = {}
        for chunk in _chunks(trace_ids):
            # Locked until commit, so rollups merged by concurrent writers are not lost
            # (SQLite: the whole write transaction holds the lock from BEGIN IMMEDIATE).
            q = sa.select(traces_t).where(traces_t.c.trace_id.in_(chunk)).with_for_update()
            for row in conn.execute(q):
                existing[row.trace_id] = row
        inserts, updates = [], []
        for tid, delta in deltas.items():
            old = existing.get(tid)
            if old is None:
                inserts.append(_new_trace(delta))
            else:
                updates.append(_merged_trace(old, delta))
        if inserts:
            self._bulk_insert(conn, traces_t, inserts)
        if updates:
            # Bind names must differ from column names in an executemany UPDATE.
            columns = [k for k in updates[0] if k != "trace_id"]
            stmt = (
                sa.update(traces_t)
                .where(traces_t.c.trace_id == sa.bindparam("b_trace_id"))
                .values({k: sa.bindparam(f"b_{k}") for k in columns})
            )
            conn.execute(stmt, [{f"b_{k}": v for k, v in u.items()} for u in updates])
        self._bulk_insert(conn, spans_t, rows)
        for table, attr in ((tags_t, "tags"), (metadata_t, "metadata")):
            entries = {tid: getattr(d, attr) for tid, d in deltas.items() if getattr(d, attr)}
            if entries:
                _upsert_kv(conn, table, entries, existing.keys())

    def _bulk_insert(
        self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
    ) -> None:
        """INSERT many rows through the driver's executemany.

        Same SQL and the same type processing as `conn.execute(insert(table), rows)`, without
        SQLAlchemy's per-row parameter machinery, which costs as much as the database here.
        """
        plan = self._insert_plans.get(table.name)
        if plan is None:
            plan = self._insert_plans[table.name] = _InsertPlan(table, conn.dialect)
        conn.exec_driver_sql(plan.sql, plan.params(rows))

    def set_trace_tag(self, trace_id: str, key: str, value: str = "true") -> None:
        """Set (or replace) a tag on a stored trace."""
        with write_connection(self.engine) as conn:
            self._require_trace(conn, trace_id)
            _upsert_kv(conn, tags_t, {trace_id: {key[:255]: str(value)[:500]}}, {trace_id})

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Remove a tag from a stored trace (no error if it was not set)."""
        with write_connection(self.engine) as conn:
            self._require_trace(conn, trace_id)
            conn.execute(
                sa.delete(tags_t).where(tags_t.c.trace_id == trace_id, tags_t.c.key == key)
            )

    def log_assessment(
        self,
        trace_id: str,
        name: str,
        value: Any,
        *,
        source_type: str = "HUMAN",
        source_id: str | None = None,
        span_id: str | None = None,
        rationale: str | None = None,
        error: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Assessment:
        """Attach a score or piece of feedback to a trace (or one of its spans)."""
        source = source_type.upper()
        if source not in ASSESSMENT_SOURCES:
            raise InvalidQueryError(
                f"source_type must be one of {', '.join(ASSESSMENT_SOURCES)}, got {source_type!r}"
            )
        now = datetime.now(timezone.utc)
        row = {
            "assessment_id": uuid.uuid4().hex,
            "trace_id": trace_id,
            "span_id": span_id,
            "name": name[:255],
            "source_type": source,
            "source_id": source_id,
            "value": _ingest.json_text(value),
            "numeric_value": _numeric(value),
            "rationale": rationale,
            "error": error,
            "metadata": _ingest.json_text(dict(metadata or {})),
            "created_at": now,
            "updated_at": now,
        }
        with write_connection(self.engine) as conn:
            self._require_trace(conn, trace_id)
            conn.execute(sa.insert(assessments_t), [row])
        return _assessment(row)

    def get_assessments(self, trace_id: str) -> list[Assessment]:
        """Assessments of a trace, oldest first."""
        q = (
            sa.select(assessments_t)
            .where(assessments_t.c.trace_id == trace_id)
            .order_by(assessments_t.c.created_at, assessments_t.c.assessment_id)
        )
        with self.engine.connect() as conn:
            return [_assessment(dict(r._mapping)) for r in conn.execute(q)]

    def update_assessment(
        self,
        assessment_id: str,
        *,
        value: Any = UNSET,
        rationale: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
        error: str | Unset | None = UNSET,
    ) -> Assessment:
        """Change the given fields of an assessment and bump its `updated_at`; returns it as
        stored. Fields left out keep their value; None clears `rationale` and `error`, and
        `metadata` replaces the stored metadata (None empties it). NotFoundError if unknown.

        Example:
            >>> store.update_assessment(a.assessment_id, value=0.4, rationale="missed a fact")
        """
        changes: dict[str, Any] = {}
        if value is not UNSET:
            changes["value"] = _ingest.json_text(value)
            changes["numeric_value"] = _numeric(value)
        if rationale is not UNSET:
            changes["rationale"] = rationale
        if error is not UNSET:
            changes["error"] = error
        if metadata is not UNSET:
            changes["metadata"] = _ingest.json_text(dict(metadata or {}))
        where = assessments_t.c.assessment_id == assessment_id
        with write_connection(self.engine) as conn:
            if changes:
                changes["updated_at"] = datetime.now(timezone.utc)
                conn.execute(sa.update(assessments_t).where(where).values(changes))
            row = conn.execute(sa.select(assessments_t).where(where)).first()
        if row is None:
            raise NotFoundError(f"assessment {assessment_id!r} not found")
        return _assessment(dict(row._mapping))

    def delete_assessment(self, assessment_id: str) -> None:
        """Delete an assessment; NotFoundError if unknown."""
        where = assessments_t.c.assessment_id == assessment_id
        with write_connection(self.engine) as conn:
            # Existence by SELECT: MySQL's rowcount would not tell a missing row from no change.
            if conn.execute(sa.select(assessments_t.c.assessment_id).where(where)).first() is None:
                raise NotFoundError(f"assessment {assessment_id!r} not found")
            conn.execute(sa.delete(assessments_t).where(where))

    # --- reads --------------------------------------------------------------------------------

    def search_traces(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        project: str | None = None,
    ) -> TraceList:
        """Traces matching `filter`, newest first unless `order_by` says otherwise.

        Example:
            >>> store.search_traces("latency_ms > 500 and tag.env = 'prod'", limit=20)
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        keys = parse_order_by(order_by)
        last_desc = keys[-1][1] if keys else True
        keys = [*keys, (traces_t.c.trace_id, last_desc)]
        where = compile_filter(filter)
        # "x desc" and ["x desc"] are one query: a token from either serves both (and a
        # token from a RestStore, which always sends a list, serves a SqlStore).
        orders = [order_by] if isinstance(order_by, str) else list(order_by or ())
        fingerprint = query_fingerprint(filter, orders, project)
        labels = [expr.label(f"k{i}") for i, (expr, _) in enumerate(keys)]
        q = sa.select(traces_t, *labels)
        if where is not None:
            q = q.where(where)
        if project is not None:
            q = q.where(traces_t.c.project == project)
        if page_token:
            q = q.where(_after(keys, decode_token(page_token, fingerprint, len(keys))))
        q = q.order_by(*[e.desc() if d else e.asc() for e, d in keys]).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = list(conn.execute(q))
            page = rows[:limit]
            tags = self._kv(conn, tags_t, [r.trace_id for r in page])
            meta = self._kv(conn, metadata_t, [r.trace_id for r in page])
        infos = [_trace_info(r, tags.get(r.trace_id, {}), meta.get(r.trace_id, {})) for r in page]
        token = None
        if len(rows) > limit:
            last = page[-1]
            token = encode_token([getattr(last, f"k{i}") for i in range(len(keys))], fingerprint)
        return TraceList(infos, token)

    def get_trace(self, trace_id: str) -> Trace:
        """A trace with all its spans (in start order) and assessments; NotFoundError if
        unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(traces_t).where(traces_t.c.trace_id == trace_id)).first()
            if row is None:
                raise NotFoundError(f"trace {trace_id!r} not found")
            spans = [
                _span(r)
                for r in conn.execute(sa.select(spans_t).where(spans_t.c.trace_id == trace_id))
            ]
            # Start order (span id on ties) on every backend, whatever order the rows came in.
            spans.sort(key=lambda s: (s.start_time, s.span_id))
            tags = self._kv(conn, tags_t, [trace_id]).get(trace_id, {})
            meta = self._kv(conn, metadata_t, [trace_id]).get(trace_id, {})
        return Trace(_trace_info(row, tags, meta), spans, self.get_assessments(trace_id))

    def count_spans(self, trace_id: str | None = None) -> int:
        """Number of stored spans (of one trace, or in all)."""
        q = sa.select(sa.func.count()).select_from(spans_t)
        if trace_id is not None:
            q = q.where(spans_t.c.trace_id == trace_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def model_usage(
        self, *, project: str | None = None, since: datetime | None = None
    ) -> list[ModelUsage]:
        """Per-model calls, tokens and cost of stored spans (most calls first).

        `unpriced_calls` > 0 names models to give a price (`llmtrace prices missing`).
        """
        has_tokens = sa.or_(
            spans_t.c.input_tokens.is_not(None), spans_t.c.output_tokens.is_not(None)
        )
        unpriced = sa.case((sa.and_(spans_t.c.cost.is_(None), has_tokens), 1), else_=0)
        q = (
            sa.select(
                spans_t.c.model,
                sa.func.count().label("calls"),
                sa.func.sum(spans_t.c.input_tokens).label("input_tokens"),
                sa.func.sum(spans_t.c.output_tokens).label("output_tokens"),
                sa.func.sum(spans_t.c.cost).label("cost"),
                sa.func.sum(unpriced).label("unpriced"),
            )
            .where(spans_t.c.model.is_not(None))
            # Usage reported again by a nested span is not counted twice (as in trace totals).
            .where(~spans_t.c.attributes.contains(_AGGREGATE_FALSE, autoescape=True))
            .group_by(spans_t.c.model)
        )
        if project is not None or since is not None:
            q = q.join(traces_t, traces_t.c.trace_id == spans_t.c.trace_id)
            if project is not None:
                q = q.where(traces_t.c.project == project)
            if since is not None:
                q = q.where(traces_t.c.start_time >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        result = [
            ModelUsage(
                model=str(r.model),
                calls=int(r.calls),
                input_tokens=int(r.input_tokens or 0),
                output_tokens=int(r.output_tokens or 0),
                cost=float(r.cost) if r.cost is not None else None,
                unpriced_calls=int(r.unpriced or 0),
            )
            for r in rows
        ]
        result.sort(key=lambda u: (-u.calls, u.model))
        return result

    def delete_traces(
        self,
        *,
        older_than: timedelta | datetime | None = None,
        filter: str | None = None,
        project: str | None = None,
        batch_size: int = 1000,
    ) -> int:
        """Delete matching traces (and their spans, tags, assessments) in bounded batches.

        `older_than` is an age (timedelta) or a cut-off time. At least one criterion is required
        so that a slip cannot empty the store; pass `filter="trace_id like '%'"` to delete all.
        """
        if older_than is None and not filter and project is None:
            raise InvalidQueryError("delete_traces needs older_than, filter or project")
        conditions: list[sa.ColumnElement[bool]] = []
        if older_than is not None:
            cutoff = (
                datetime.now(timezone.utc) - older_than
                if isinstance(older_than, timedelta)
                else older_than
            )
            if cutoff.tzinfo is None:
                raise InvalidQueryError("older_than must be timezone-aware (UTC)")
            conditions.append(traces_t.c.start_time < cutoff)
        where = compile_filter(filter)
        if where is not None:
            conditions.append(where)
        if project is not None:
            conditions.append(traces_t.c.project == project)
        deleted = 0
        while True:
            with write_connection(self.engine) as conn:
                ids = list(
                    conn.execute(
                        sa.select(traces_t.c.trace_id).where(*conditions).limit(batch_size)
                    ).scalars()
                )
                if not ids:
                    return deleted
                for table in (spans_t, tags_t, metadata_t, assessments_t):
                    conn.execute(sa.delete(table).where(table.c.trace_id.in_(ids)))
                conn.execute(sa.delete(traces_t).where(traces_t.c.trace_id.in_(ids)))
            deleted += len(ids)

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _require_trace(conn: sa.Connection, trace_id: str) -> None:
        q = sa.select(traces_t.c.trace_id).where(traces_t.c.trace_id == trace_id)
        if conn.execute(q).first() is None:
            raise NotFoundError(f"trace {trace_id!r} not found")

    @staticmethod
    def _kv(conn: sa.Connection, table: sa.Table, ids: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for chunk in _chunks(ids):
            q = sa.select(table.c.trace_id, table.c.key, table.c.value).where(
                table.c.trace_id.in_(chunk)
            )
            for tid, key, value in conn.execute(q):
                out.setdefault(tid, {})[key] = value
        return out


class _InsertPlan:
    """A table's INSERT compiled once for a dialect, with each column's bind processor."""

    def __init__(self, table: sa.Table, dialect: sa.Dialect) -> None:
        compiled = sa.insert(table).compile(
            dialect=dialect, column_keys=[c.key for c in table.columns]
        )
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or []) if self.positional else list(compiled.binds)
        columns = {c.key: c for c in table.columns}
        self.columns = [(name, _bind_processor(columns[name].type, dialect)) for name in names]

    def params(self, rows: list[dict[str, Any]]) -> list[Any]:
        columns = self.columns
        if self.positional:
            return [
                tuple(p(row[k]) if p is not None else row[k] for k, p in columns) for row in rows
            ]
        return [{k: p(row[k]) if p is not None else row[k] for k, p in columns} for row in rows]


def _sqlite_datetime(value: datetime) -> str:
    # The text SQLAlchemy's SQLite DATETIME stores, built in C rather than by its processor.
    return value.isoformat(" ", "microseconds")


def _bind_processor(type_: Any, dialect: sa.Dialect) -> Any:
    """The column's bind processor; bulk rows carry naive UTC datetimes for UtcDateTime."""
    if isinstance(type_, UtcDateTime):
        return _sqlite_datetime if dialect.name == "sqlite" else None
    return type_._cached_bind_processor(dialect)


def _after(keys: list[tuple[Any, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after `values` in the (mixed-direction) ordering `keys`."""
    alternatives = []
    for i, (expr, desc) in enumerate(keys):
        equal = [keys[j][0] == values[j] for j in range(i)]
        beyond = expr < values[i] if desc else expr > values[i]
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)


def _upsert_kv(
    conn: sa.Connection,
    table: sa.Table,
    entries: dict[str, dict[str, str]],
    stored: Collection[str] = (),
) -> None:
    """Set key/value pairs; `stored` names the traces that may already have some of the keys.

    Traces created in this transaction have no pairs yet, so they skip the lookup; the others
    update the keys they have and insert the rest. (A tuple-IN DELETE was planned as a scan per
    chunk on PostgreSQL.)
    """
    present: set[tuple[str, str]] = set()
    old = [tid for tid in entries if tid in stored]
    for chunk in _chunks(old):
        q = sa.select(table.c.trace_id, table.c.key).where(table.c.trace_id.in_(chunk))
        present.update((t, k) for t, k in conn.execute(q))
    updates, inserts = [], []
    for tid, kv in entries.items():
        for key, value in kv.items():
            if (tid, key) in present:
                updates.append({"b_trace_id": tid, "b_key": key, "b_value": value})
            else:
                inserts.append({"trace_id": tid, "key": key, "value": value})
    if updates:
        stmt = (
            sa.update(table)
            .where(table.c.trace_id == sa.bindparam("b_trace_id"))
            .where(table.c.key == sa.bindparam("b_key"))
            .values(value=sa.bindparam("b_value"))
        )
        conn.execute(stmt, updates)
    if inserts:
        conn.execute(sa.insert(table), inserts)


def _new_trace(d: _ingest.TraceDelta) -> dict[str, Any]:
    # Naive UTC: new traces go through `_bulk_insert`.
    start, end = _ingest.ns_to_naive_utc(d.start_ns), _ingest.ns_to_naive_utc(d.end_ns)
    return {
        "trace_id": d.trace_id,
        "project": d.project[:255],
        "name": d.root_name or "",
        "start_time": start,
        "end_time": end,
        "duration_ms": (d.end_ns - d.start_ns) / 1e6,
        "status": d.root_status or "UNSET",
        "session_id": d.session_id,
        "user_id": d.user_id,
        "run_id": d.run_id,
        "input_tokens": d.input_tokens,
        "output_tokens": d.output_tokens,
        "total_tokens": d.input_tokens + d.output_tokens,
        "cost": d.cost,
        "input_preview": d.input_preview,
        "output_preview": d.output_preview,
        "span_count": d.span_count,
        "error_count": d.error_count,
        "has_root": d.root_name is not None,
    }


def _merged_trace(old: Any, d: _ingest.TraceDelta) -> dict[str, Any]:
    start = min(old.start_time, _ingest.ns_to_datetime(d.start_ns))
    end = max(old.end_time, _ingest.ns_to_datetime(d.end_ns))
    has_root = d.root_name is not None
    # Rounded to 1e-12 USD, or float sums of list prices print as 0.00013000000000000002.
    cost = old.cost if d.cost is None else round((old.cost or 0.0) + d.cost, 12)
    input_tokens = old.input_tokens + d.input_tokens
    output_tokens = old.output_tokens + d.output_tokens
    return {
        "trace_id": old.trace_id,
        "name": d.root_name if has_root else old.name,
        "start_time": start,
        "end_time": end,
        "duration_ms": (end - start).total_seconds() * 1000,
        "status": d.root_status if has_root else old.status,
        "session_id": d.session_id or old.session_id,
        "user_id": d.user_id or old.user_id,
        "run_id": d.run_id or old.run_id,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "cost": cost,
        "input_preview": d.input_preview if has_root else old.input_preview,
        "output_preview": d.output_preview if has_root else old.output_preview,
        "span_count": old.span_count + d.span_count,
        "error_count": old.error_count + d.error_count,
        "has_root": has_root or old.has_root,
    }


def _trace_info(row: Any, tags: dict[str, str], meta: dict[str, str]) -> TraceInfo:
    return TraceInfo(
        trace_id=row.trace_id,
        project=row.project,
        name=row.name,
        start_time=row.start_time,
        end_time=row.end_time,
        duration_ms=row.duration_ms,
        status=row.status,
        session_id=row.session_id,
        user_id=row.user_id,
        run_id=row.run_id,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        total_tokens=row.total_tokens,
        cost=row.cost,
        input_preview=row.input_preview,
        output_preview=row.output_preview,
        span_count=row.span_count,
        error_count=row.error_count,
        tags=tags,
        metadata=meta,
    )


def _span(row: Any) -> Span:
    return Span(
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        name=row.name,
        span_type=row.span_type,
        status=row.status,
        status_message=row.status_message,
        start_time=row.start_time,
        end_time=row.end_time,
        duration_ms=row.duration_ms,
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost=row.cost,
        inputs=_loads(row.inputs),
        outputs=_loads(row.outputs),
        attributes=_loads(row.attributes, {}),
        events=_loads(row.events, []),
    )


def _assessment(row: Mapping[str, Any]) -> Assessment:
    return Assessment(
        assessment_id=row["assessment_id"],
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        name=row["name"],
        source_type=row["source_type"],
        source_id=row["source_id"],
        value=_loads(row["value"]),
        rationale=row["rationale"],
        error=row["error"],
        metadata=_loads(row["metadata"], {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


__all__ = ["SqlStore"]
