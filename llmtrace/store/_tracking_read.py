"""Reading experiments and runs: get, list, metric history and `search_runs`.

A run counts as deleted when it was deleted itself or when its experiment is: deleting an
experiment does not touch its runs' rows, so that restoring it brings back exactly the runs
that were active before (`RunInfo.lifecycle_stage` reports the effective stage).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from llmtrace.exceptions import InvalidQueryError, NotFoundError
from llmtrace.store._pagination import decode_token, encode_token, query_fingerprint
from llmtrace.store._run_filter import SortKey, compile_run_filter, parse_run_order_by
from llmtrace.store._tracking_stats import PlannerStats
from llmtrace.store._tracking_values import decode_value
from llmtrace.store.models import (
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    MetricRow,
    ParamRow,
    RunRow,
    RunTagRow,
)
from llmtrace.store.run_entities import Experiment, Metric, Run, RunInfo, RunList

experiments_t = cast(sa.Table, ExperimentRow.__table__)
experiment_tags_t = cast(sa.Table, ExperimentTagRow.__table__)
runs_t = cast(sa.Table, RunRow.__table__)
params_t = cast(sa.Table, ParamRow.__table__)
metrics_t = cast(sa.Table, MetricRow.__table__)
latest_t = cast(sa.Table, LatestMetricRow.__table__)
run_tags_t = cast(sa.Table, RunTagRow.__table__)

VIEWS = ("active", "deleted", "all")
MAX_RUNS_PER_PAGE = 10_000
# PostgreSQL plans IN lists of more than ~200 ids as a scan on fresh tables (see _sql.py).
IN_CHUNK = 200


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    """`items` in slices of at most `size`."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def check_view(view: str) -> str:
    """`view` if it is one of "active", "deleted", "all"."""
    if view not in VIEWS:
        raise InvalidQueryError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    return view


def run_info(row: Any, experiment_deleted: bool = False) -> RunInfo:
    """A `RunInfo` from a `runs` row; the run reads as deleted when its experiment is."""
    return RunInfo(
        run_id=row.run_id,
        experiment_id=row.experiment_id,
        name=row.name,
        status=row.status,
        start_time=row.start_time,
        artifact_uri=row.artifact_uri,
        end_time=row.end_time,
        duration_ms=row.duration_ms,
        lifecycle_stage="deleted" if experiment_deleted else row.lifecycle_stage,
        user_id=row.user_id,
        parent_run_id=row.parent_run_id,
    )


def in_ids(
    conn: sa.Connection, column: sa.ColumnElement[str], ids: Sequence[str]
) -> sa.ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `column = ANY(:ids)` with one array parameter.

    A list of n bound values makes a long statement text that psycopg parses again on every
    call (it caches only short ones): ~2 ms of Python for 100 ids. One array keeps the text
    constant.
    """
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(None, list(ids), type_=postgresql.ARRAY(sa.String()))
        return column == sa.any_(array)
    return column.in_(ids)


def run_data(
    conn: sa.Connection, run_ids: Sequence[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, float]], dict[str, dict[str, str]]]:
    """Params, latest metric values and tags of `run_ids`: three queries per 200 runs.

    Every run gets its three dicts, empty ones included. A page holds thousands of these rows,
    so they are fetched in one go as plain tuples and only special metric values are decoded.
    """
    params: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
    metrics: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
    tags: dict[str, dict[str, str]] = {rid: {} for rid in run_ids}
    for chunk in chunks(run_ids):
        for table, out in ((params_t, params), (run_tags_t, tags)):
            q = sa.select(table.c.run_id, table.c.key, table.c.value)
            rows = conn.execute(q.where(in_ids(conn, table.c.run_id, chunk))).all()
            for rid, key, value in rows:
                out[rid][key] = value
        mq = sa.select(latest_t.c.run_id, latest_t.c.key, latest_t.c.value, latest_t.c.special)
        points = conn.execute(mq.where(in_ids(conn, latest_t.c.run_id, chunk))).all()
        for rid, key, value, special in points:
            plain = special is None and value is not None
            metrics[rid][key] = value if plain else decode_value(value, special)
    return params, metrics, tags


def load_experiments(conn: sa.Connection, *where: sa.ColumnElement[bool]) -> list[Experiment]:
    """Experiments matching `where` with their tags, oldest first."""
    q = (
        sa.select(experiments_t)
        .where(*where)
        .order_by(experiments_t.c.created_at, experiments_t.c.experiment_id)
    )
    rows = conn.execute(q).all()
    tags: dict[str, dict[str, str]] = {}
    for chunk in chunks([r.experiment_id for r in rows]):
        q = sa.select(experiment_tags_t).where(experiment_tags_t.c.experiment_id.in_(chunk))
        for eid, key, value in conn.execute(q):
            tags.setdefault(eid, {})[key] = value
    return [
        Experiment(
            experiment_id=r.experiment_id,
            name=r.name,
            artifact_location=r.artifact_location,
            lifecycle_stage=r.lifecycle_stage,
            created_at=r.created_at,
            updated_at=r.updated_at,
            tags=tags.get(r.experiment_id, {}),
        )
        for r in rows
    ]


def _after(keys: list[SortKey], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after `values` in the ordering `keys` (NULLs last in every direction)."""
    alternatives: list[sa.ColumnElement[bool]] = []
    equal: list[sa.ColumnElement[bool]] = []
    for key, value in zip(keys, values, strict=True):
        if key.nullable and value is None:
            # Within the NULL group of this key nothing is "beyond": compare the next keys.
            equal.append(key.expr.is_(None))
            continue
        beyond = key.expr < value if key.desc else key.expr > value
        alternatives.append(sa.and_(*equal, beyond))
        if key.nullable:
            alternatives.append(sa.and_(*equal, key.expr.is_(None)))
        equal.append(key.expr == value)
    return sa.or_(*alternatives)


def _after_present(keys: list[SortKey], values: list[Any]) -> sa.ColumnElement[bool]:
    """`_after` for a row of the leading key's non-NULL group (`values[0]` is not NULL).

    Written as a range on the leading key (`value <= last AND (value < last OR ...)` when
    descending) so that the plan can keep reading the leading key's index from `last` on.
    """
    lead, last = keys[0], values[0]
    if lead.desc:
        within, beyond = lead.expr <= last, lead.expr < last
    else:
        within, beyond = lead.expr >= last, lead.expr > last
    tie = sa.and_(lead.expr == last, _after(keys[1:], values[1:]))
    return sa.and_(within, sa.or_(beyond, tie))


def _order(keys: Sequence[SortKey]) -> list[sa.ColumnElement[Any]]:
    """ORDER BY terms for `keys`: NULLs last through a leading `IS NULL` term where needed."""
    order: list[sa.ColumnElement[Any]] = []
    for key in keys:
        if key.nullable:
            order.append(key.expr.is_(None))
        order.append(key.expr.desc() if key.desc else key.expr.asc())
    return order


class TrackingReadMixin:
    """Reads of experiments and runs; `SqlStore` provides `engine`."""

    engine: sa.Engine
    _planner_stats: PlannerStats | None = None

    def _ensure_planner_stats(self) -> None:
        """PostgreSQL: ANALYZE tracking tables that were filled but never analysed (once;
        see `_tracking_stats`)."""
        if self.engine.dialect.name != "postgresql":
            return
        stats = self._planner_stats
        if stats is None:
            stats = self._planner_stats = PlannerStats()
        stats.ensure(self.engine)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id (active or deleted); NotFoundError if unknown."""
        with self.engine.connect() as conn:
            found = load_experiments(conn, experiments_t.c.experiment_id == experiment_id)
        if not found:
            raise NotFoundError(f"experiment {experiment_id!r} not found")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with exactly this name (active or deleted), or None.

        Example:
            >>> exp = store.get_experiment_by_name("Default")
        """
        with self.engine.connect() as conn:
            found = load_experiments(conn, experiments_t.c.name == name)
        # MySQL compares names case-insensitively; the name must match exactly.
        return next((e for e in found if e.name == name), None)

    def list_experiments(self, *, view: str = "active") -> list[Experiment]:
        """Experiments in `view` ("active", "deleted" or "all"), oldest first."""
        where = []
        if check_view(view) != "all":
            where.append(experiments_t.c.lifecycle_stage == view)
        with self.engine.connect() as conn:
            return load_experiments(conn, *where)

    def get_run(self, run_id: str) -> Run:
        """A run with its params, latest metric values and tags (deleted runs too).

        Example:
            >>> store.get_run(run_id).metrics["loss"]
        """
        q = (
            sa.select(runs_t, experiments_t.c.lifecycle_stage.label("experiment_stage"))
            .join(experiments_t, experiments_t.c.experiment_id == runs_t.c.experiment_id)
            .where(runs_t.c.run_id == run_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
            if row is None:
                raise NotFoundError(f"run {run_id!r} not found")
            params, metrics, tags = run_data(conn, [run_id])
        info = run_info(row, row.experiment_stage == "deleted")
        return Run(info, params.get(run_id, {}), metrics.get(run_id, {}), tags.get(run_id, {}))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged point of metric `key`, by step then timestamp (empty if never logged)."""
        q = (
            sa.select(metrics_t)
            .where(metrics_t.c.run_id == run_id, metrics_t.c.key == key)
            .order_by(metrics_t.c.step, metrics_t.c.timestamp_ms, metrics_t.c.id)
        )
        with self.engine.connect() as conn:
            exists = sa.select(runs_t.c.run_id).where(runs_t.c.run_id == run_id)
            if conn.execute(exists).first() is None:
                raise NotFoundError(f"run {run_id!r} not found")
            rows = conn.execute(q).all()
        # MySQL matches keys case-insensitively: keep the exact key only.
        return [
            Metric(r.key, decode_value(r.value, r.special), r.step, r.timestamp_ms)
            for r in rows
            if r.key == key
        ]

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunList:
        """Runs of these experiments matching `filter`, newest first unless `order_by` says.

        `view` is "active" (default), "deleted" or "all"; runs of a deleted experiment count
        as deleted. Keys sort NULLs (missing metrics, params, tags, NaN) last; run_id breaks
        ties. `next_page_token` of the result continues the same query. On PostgreSQL, the
        first search of a store may ANALYZE tracking tables that have no statistics yet
        (`_tracking_stats`).

        Example:
            >>> store.search_runs([exp_id], "metrics.loss < 0.3", order_by=["metrics.loss"])
        """
        given = [experiment_ids] if isinstance(experiment_ids, str) else experiment_ids
        ids = sorted({str(i) for i in given})
        if not ids:
            raise InvalidQueryError("search_runs needs at least one experiment id")
        if not 1 <= limit <= MAX_RUNS_PER_PAGE:
            raise InvalidQueryError(f"limit must be between 1 and {MAX_RUNS_PER_PAGE}, got {limit}")
        check_view(view)
        where = compile_run_filter(filter)
        keys = parse_run_order_by(order_by)
        if not any(k.name == "run_id" for k in keys):
            keys.append(SortKey("run_id", runs_t.c.run_id, keys[-1].desc, False))
        fingerprint = query_fingerprint("runs", ids, filter, order_by, view)
        after = None
        if page_token:
            parts = "experiment ids, filter, order_by or view"
            after = decode_token(page_token, fingerprint, len(keys), parts)
        self._ensure_planner_stats()

        with self.engine.connect() as conn:
            q = sa.select(experiments_t.c.experiment_id, experiments_t.c.lifecycle_stage)
            stages = dict(conn.execute(q.where(experiments_t.c.experiment_id.in_(ids))).all())
            missing = [i for i in ids if i not in stages]
            if missing:
                raise NotFoundError(f"experiment(s) not found: {', '.join(missing)}")
            deleted = [i for i in ids if stages[i] == "deleted"]
            active = [i for i in ids if stages[i] != "deleted"]
            runs_stage = runs_t.c.lifecycle_stage
            if view == "active":
                if not active:
                    return RunList([], None)
                scope = [runs_t.c.experiment_id.in_(active), runs_stage == "active"]
            elif view == "deleted":
                gone = runs_stage == "deleted"
                if deleted:
                    gone = sa.or_(gone, runs_t.c.experiment_id.in_(deleted))
                scope = [runs_t.c.experiment_id.in_(ids), gone]
            else:
                scope = [runs_t.c.experiment_id.in_(ids)]

            def select(inner: bool, *conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
                # `inner`: join the leading key's table (a metric, param or tag) with an
                # inner join; every other key's table is joined with an outer join.
                source: sa.FromClause = runs_t
                for i, key in enumerate(keys):
                    if key.join is not None:
                        joined = source.join if inner and i == 0 else source.outerjoin
                        source = joined(*key.join)
                labels = [key.expr.label(f"k{i}") for i, key in enumerate(keys)]
                q = sa.select(runs_t, *labels).select_from(source).where(*scope, *conditions)
                return q if where is None else q.where(where)

            lead = keys[0]
            if lead.join is None:
                q = select(False) if after is None else select(False, _after(keys, after))
                rows = conn.execute(q.order_by(*_order(keys)).limit(limit + 1)).all()
            else:
                # Ordered by a metric, param or tag: first the runs that have a value for it,
                # read in order from its (key, value, run_id) index through an inner join, stopped
                # at the page's end, then, only if the page is not full, the runs without one
                # (missing or NaN: NULLs last), in the order of the remaining keys. One outer
                # join for both would visit and sort every run in scope for every page.
                rows = []
                if after is None or after[0] is not None:
                    # The run_id tiebreak read from the joined table too (the same value), so
                    # that an index on (key, value, run_id) delivers the whole order.
                    lead_run_id = lead.join[0].c.run_id
                    present = [
                        replace(k, expr=lead_run_id) if k.name == "run_id" else k for k in keys
                    ]
                    conditions: list[sa.ColumnElement[bool]] = [lead.expr.is_not(None)]
                    if after is not None:
                        conditions.append(_after_present(present, after))
                    order = [lead.expr.desc() if lead.desc else lead.expr.asc()]
                    q = select(True, *conditions).order_by(*order, *_order(present[1:]))
                    rows = list(conn.execute(q.limit(limit + 1)).all())
                if len(rows) <= limit:
                    conditions = [lead.expr.is_(None)]
                    if after is not None and after[0] is None:
                        conditions.append(_after(keys[1:], after[1:]))
                    q = select(False, *conditions).order_by(*_order(keys[1:]))
                    rows += conn.execute(q.limit(limit + 1 - len(rows))).all()
            page = rows[:limit]
            params, metrics, tags = run_data(conn, [r.run_id for r in page])
        runs = [
            Run(
                run_info(r, stages[r.experiment_id] == "deleted"),
                params.get(r.run_id, {}),
                metrics.get(r.run_id, {}),
                tags.get(r.run_id, {}),
            )
            for r in page
        ]
        token = None
        if len(rows) > limit:
            last = page[-1]
            token = encode_token([getattr(last, f"k{i}") for i in range(len(keys))], fingerprint)
        return RunList(runs, token)


__all__ = [
    "IN_CHUNK",
    "MAX_RUNS_PER_PAGE",
    "VIEWS",
    "TrackingReadMixin",
    "check_view",
    "chunks",
    "experiment_tags_t",
    "experiments_t",
    "latest_t",
    "load_experiments",
    "metrics_t",
    "params_t",
    "run_data",
    "run_info",
    "run_tags_t",
    "runs_t",
]
