"""Reading experiments and runs: get, list, metric history and `search_runs`.

A run counts as deleted when it was deleted itself or when its experiment is: deleting an
experiment does not touch its runs' rows, so that restoring it brings back exactly the runs
that were active before (`RunInfo.lifecycle_stage` reports the effective stage).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa

from llmtrace.exceptions import InvalidQueryError, NotFoundError
from llmtrace.store._pagination import decode_token, encode_token, query_fingerprint
from llmtrace.store._run_filter import SortKey, compile_run_filter, parse_run_order_by
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


def run_data(
    conn: sa.Connection, run_ids: Sequence[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, float]], dict[str, dict[str, str]]]:
    """Params, latest metric values and tags of `run_ids`: three queries per 200 runs."""
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, float]] = {}
    tags: dict[str, dict[str, str]] = {}
    for chunk in chunks(run_ids):
        for table, out in ((params_t, params), (run_tags_t, tags)):
            q = sa.select(table.c.run_id, table.c.key, table.c.value)
            for rid, key, value in conn.execute(q.where(table.c.run_id.in_(chunk))):
                out.setdefault(rid, {})[key] = value
        q = sa.select(latest_t.c.run_id, latest_t.c.key, latest_t.c.value, latest_t.c.special)
        for r in conn.execute(q.where(latest_t.c.run_id.in_(chunk))):
            metrics.setdefault(r.run_id, {})[r.key] = decode_value(r.value, r.special)
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


class TrackingReadMixin:
    """Reads of experiments and runs; `SqlStore` provides `engine`."""

    engine: sa.Engine

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
        ties. `next_page_token` of the result continues the same query.

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

            source: sa.FromClause = runs_t
            for key in keys:
                if key.join is not None:
                    source = source.outerjoin(*key.join)
            labels = [key.expr.label(f"k{i}") for i, key in enumerate(keys)]
            q = sa.select(runs_t, *labels).select_from(source).where(*scope)
            if where is not None:
                q = q.where(where)
            if after is not None:
                q = q.where(_after(keys, after))
            order: list[sa.ColumnElement[Any]] = []
            for key in keys:
                if key.nullable:
                    order.append(key.expr.is_(None))
                order.append(key.expr.desc() if key.desc else key.expr.asc())
            rows = conn.execute(q.order_by(*order).limit(limit + 1)).all()
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
