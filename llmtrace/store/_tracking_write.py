"""Row-level writes of experiment tracking, inside a transaction that `TrackingMixin` opens
(or, on PostgreSQL, one statement that is its own transaction: `run_statement`).

Params are immutable: PostgreSQL inserts them with `ON CONFLICT DO NOTHING` inside
`run_statement` (the conflict check sees committed rows even where the statement's snapshot
does not) and compares stored values only for the keys that conflicted (`check_params_written`);
the other backends read the stored values after the run's lock and insert the rest
(`insert_params`).

The statements on the hot path (`log_metric`, `log_batch`, `set_tag`) are built once: building
a Core statement costs about as much as SQLite running it. Metric rows bypass SQLAlchemy's
per-row parameter handling (the driver's executemany, or PostgreSQL arrays through unnest).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from itertools import repeat
from typing import Any

import sqlalchemy as sa

from llmtrace.exceptions import AlreadyExistsError, InvalidParameterError, NotFoundError
from llmtrace.store._tracking_read import (
    chunks,
    experiment_tags_t,
    experiments_t,
    latest_t,
    metrics_t,
    params_t,
    run_tags_t,
    runs_t,
)
from llmtrace.store._tracking_values import VALUE_RANK, MetricRows, show


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def colliding(found: Iterable[str], wanted: Iterable[str], what: str) -> None:
    """Raise when the database matched a stored key that is not one of `wanted` exactly.

    MySQL/MariaDB compare keys case-insensitively and ignore trailing spaces, so there "LR" and
    "lr" are one key; say so rather than fail on a duplicate-key error.
    """
    wanted = set(wanted)
    for key in found:
        if key not in wanted:
            other = next((w for w in wanted if w.lower().rstrip() == key.lower().rstrip()), "?")
            raise InvalidParameterError(
                f"{what} key {other!r} collides with the stored key {key!r}: this database "
                "compares keys case-insensitively (MySQL/MariaDB); use the stored spelling"
            )


def exists_error(name: str, stage: str) -> AlreadyExistsError:
    """The error for a taken experiment name (`stage` of the experiment that has it)."""
    hint = " (deleted: restore or rename it, or pick another name)" if stage == "deleted" else ""
    return AlreadyExistsError(f"an experiment named {name!r} already exists{hint}")


def lock_experiment(conn: sa.Connection, experiment_id: str, *, active: bool) -> Any:
    """Lock the experiment's row until commit; NotFoundError if missing (or deleted, when
    `active`)."""
    q = sa.select(experiments_t).where(experiments_t.c.experiment_id == experiment_id)
    row = conn.execute(q.with_for_update()).first()
    if row is None:
        raise NotFoundError(f"experiment {experiment_id!r} not found")
    if active and row.lifecycle_stage == "deleted":
        raise NotFoundError(
            f"experiment {row.name!r} ({experiment_id}) is deleted; restore it first"
        )
    return row


def touch_experiment(conn: sa.Connection, experiment_id: str, **values: Any) -> None:
    """Update the experiment's `values` and its `updated_at`."""
    q = sa.update(experiments_t).where(experiments_t.c.experiment_id == experiment_id)
    conn.execute(q.values(updated_at=utcnow(), **values))


# Hot statements, built once: building a Core statement costs as much as SQLite running it.
_RUN_ID: sa.BindParameter[str] = sa.bindparam("run_id")
_KEYS: sa.BindParameter[list[str]] = sa.bindparam("keys", expanding=True)
_LOCK_RUN = (
    sa.select(
        runs_t,
        sa.select(experiments_t.c.lifecycle_stage)
        .where(experiments_t.c.experiment_id == runs_t.c.experiment_id)
        .scalar_subquery()
        .label("experiment_stage"),
    )
    .where(runs_t.c.run_id == _RUN_ID)
    .with_for_update()
)
_STORED_PARAMS = sa.select(params_t.c.key, params_t.c.value).where(
    params_t.c.run_id == _RUN_ID, params_t.c.key.in_(_KEYS)
)
_INSERT_PARAMS = sa.insert(params_t)
_INSERT_LATEST = sa.insert(latest_t)
_STORED_LATEST = sa.select(latest_t).where(latest_t.c.run_id == _RUN_ID, latest_t.c.key.in_(_KEYS))
_LATEST_COLUMNS = ("value", "special", "step", "timestamp_ms")
_UPDATE_LATEST = (
    sa.update(latest_t)
    .where(latest_t.c.run_id == sa.bindparam("b_run_id"), latest_t.c.key == sa.bindparam("b_key"))
    .values({k: sa.bindparam(f"b_{k}") for k in _LATEST_COLUMNS})
)


def lock_run(conn: sa.Connection, run_id: str, *, active: bool = True) -> Any:
    """Lock the run's row until commit; NotFoundError if missing (or deleted, when `active`).

    Only the run row is locked (the experiment's stage is read in a subquery, which a locking
    read does not lock), so writers of different runs of one experiment never wait on it.
    """
    row = conn.execute(_LOCK_RUN, {"run_id": run_id}).first()
    if row is None:
        raise NotFoundError(f"run {run_id!r} not found")
    if active and row.lifecycle_stage == "deleted":
        raise NotFoundError(f"run {run_id!r} is deleted; restore_run() it to change it")
    if active and row.experiment_stage == "deleted":
        raise NotFoundError(
            f"the experiment of run {run_id!r} is deleted; restore_experiment() it first"
        )
    return row


def stored_params(conn: sa.Connection, run_id: str, keys: Iterable[str]) -> dict[str, str]:
    """The stored values of these param keys of the run (keys never logged are left out)."""
    stored: dict[str, str] = {}
    for chunk in chunks(sorted(keys)):
        found = conn.execute(_STORED_PARAMS, {"run_id": run_id, "keys": list(chunk)})
        stored.update((k, v) for k, v in found)
    return stored


def refuse_changed_params(run_id: str, params: dict[str, str], stored: dict[str, str]) -> None:
    """InvalidParameterError for the first key (in key order) whose stored value differs."""
    for key in sorted(stored):
        old = stored[key]
        if params[key] != old:
            raise InvalidParameterError(
                f"param {key!r} of run {run_id!r} is already {show(old, 100)}; params are "
                f"immutable, so it cannot become {show(params[key], 100)} (log it under another "
                "key, or start a new run)"
            )


def insert_params(conn: sa.Connection, run_id: str, params: dict[str, str]) -> None:
    """Insert new params; same value again is a no-op, another value an error (nothing written)."""
    stored = stored_params(conn, run_id, params)
    colliding(stored, params, "param")
    refuse_changed_params(run_id, params, stored)
    rows = [{"run_id": run_id, "key": k, "value": v} for k, v in params.items() if k not in stored]
    if rows:
        conn.execute(_INSERT_PARAMS, rows)


def check_params_written(
    row: Any,
    run_id: str,
    params: dict[str, str],
    read_stored: Callable[[list[str]], dict[str, str]],
) -> None:
    """After `run_statement` with params (and `check_stages` on its `row`): refuse the batch if
    a param that was already stored has another value.

    `row[2]` counts the params inserted; when it falls short, some keys were stored before.
    For one param, `row[3]` is its stored value as the statement's snapshot saw it; when the
    snapshot missed it (a writer committed it while this statement waited for the run's lock)
    or for several params, `read_stored` reads the stored values (for a batch, in the same
    transaction, so that raising rolls the batch back).
    """
    if row[2] == len(params):
        return
    snapshot = row[3] if len(params) == 1 else None
    if snapshot is not None:
        stored = {next(iter(params)): snapshot}
    else:
        stored = read_stored(sorted(params))
        if not stored:  # a conflict, then nothing stored: the run's row was deleted since
            raise NotFoundError(f"run {run_id!r} not found")
    refuse_changed_params(run_id, params, stored)


def insert_metrics(conn: sa.Connection, run_id: str, points: MetricRows) -> None:
    """Append the points to the history and move `latest_metrics` forward where they are later.

    The run is locked by the caller. PostgreSQL: `run_statement` (one statement for both
    tables). SQLite: the history through the driver's executemany, then one upsert per key
    whose WHERE keeps the stored row unless the new point is later. MySQL/MariaDB (whose
    upsert cannot compare before it assigns): the stored latest rows are read and updated.
    """
    dialect = conn.dialect
    if dialect.name == "postgresql":
        check_stages(conn.exec_driver_sql(*run_statement(run_id, points, {})).first(), run_id)
        return
    plan = _plans(dialect)
    history = zip(
        repeat(run_id), points.keys, points.values, points.specials, points.steps, points.stamps
    )
    conn.exec_driver_sql(plan.insert_metrics, plan.rows(history))
    latest = [(run_id, *row) for row in points.latest_rows()]
    if plan.upsert_latest is not None:
        conn.exec_driver_sql(plan.upsert_latest, plan.rows(latest))
        return
    stored: dict[str, tuple[int, int, int, float]] = {}
    for chunk in chunks(sorted(points.latest)):
        for r in conn.execute(_STORED_LATEST, {"run_id": run_id, "keys": list(chunk)}):
            stored[r.key] = (r.step, r.timestamp_ms, VALUE_RANK[r.special], r.value or 0.0)
    colliding(stored, points.latest, "metric")
    inserts, updates = [], []
    for _, key, value, special, step, stamp in latest:
        row = {"value": value, "special": special, "step": step, "timestamp_ms": stamp}
        old = stored.get(key)
        if old is None:
            inserts.append({"run_id": run_id, "key": key, **row})
        elif (step, stamp, VALUE_RANK[special], value or 0.0) > old:
            updates.append(
                {"b_run_id": run_id, "b_key": key, **{f"b_{k}": v for k, v in row.items()}}
            )
    if updates:
        conn.execute(_UPDATE_LATEST, updates)
    if inserts:
        conn.execute(_INSERT_LATEST, inserts)


def check_stages(row: Any, run_id: str) -> None:
    """NotFoundError unless `row` (run_stage, experiment_stage) says both are active."""
    if row is None:
        raise NotFoundError(f"run {run_id!r} not found")
    if row[0] == "deleted":
        raise NotFoundError(f"run {run_id!r} is deleted; restore_run() it to change it")
    if row[1] == "deleted":
        raise NotFoundError(
            f"the experiment of run {run_id!r} is deleted; restore_experiment() it first"
        )


# The "latest" order in SQL, of the row `t`: (step, timestamp, rank, value), the rank as
# `VALUE_RANK` (-inf, numbers, inf, NaN) and NaN's NULL value as 0.
_RANK_SQL = "CASE {t}.special WHEN 'nan' THEN 3 WHEN 'inf' THEN 2 WHEN '-inf' THEN 0 ELSE 1 END"
_ORDER_SQL = f"({{t}}.step, {{t}}.timestamp_ms, {_RANK_SQL}, coalesce({{t}}.value, 0))"
_UNNEST = (
    "unnest(%({p}keys)s::varchar[], %({p}values)s::float8[], %({p}specials)s::varchar[], "
    "%({p}steps)s::int8[], %({p}stamps)s::int8[])"
)
_SET_LATEST = (
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
    "special = excluded.special, step = excluded.step, timestamp_ms = excluded.timestamp_ms "
    f"WHERE {_ORDER_SQL.format(t='excluded')} > {_ORDER_SQL.format(t='t')}"
)
# SQLite: one upsert per key, kept unless the new point is later than the stored one.
_SQLITE_LATEST = (
    "INSERT INTO latest_metrics AS t (run_id, key, value, special, step, timestamp_ms) "
    f"VALUES (?, ?, ?, ?, ?, ?) {_SET_LATEST}"
)

_METRIC_COLUMNS = ("run_id", "key", "value", "special", "step", "timestamp_ms")


class _Plans:
    """Statements for the driver's executemany, compiled once per dialect, rows as tuples."""

    def __init__(self, dialect: sa.Dialect) -> None:
        compiled = sa.insert(metrics_t).compile(dialect=dialect, column_keys=[*_METRIC_COLUMNS])
        self.insert_metrics = str(compiled)
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or []) if compiled.positional else _METRIC_COLUMNS
        # Both statements bind the same six columns; rows arrive in `_METRIC_COLUMNS` order.
        self.order = [_METRIC_COLUMNS.index(n) for n in names]
        # Rows bypass SQLAlchemy's bind processors: none may be needed ("value" is a float or
        # None already, SQLite's to_float would not change it).
        for column in _METRIC_COLUMNS:
            for table in (metrics_t, latest_t):
                processor = table.c[column].type._cached_bind_processor(dialect)
                if processor is not None and column != "value":
                    raise AssertionError(f"{table.name}.{column} needs a bind processor")
        self.upsert_latest: str | None = None
        if dialect.name == "sqlite":
            assert names == list(_METRIC_COLUMNS), names
            self.upsert_latest = _SQLITE_LATEST

    def rows(self, rows: Iterable[tuple[Any, ...]]) -> list[Any]:
        if self.positional:
            if self.order == [0, 1, 2, 3, 4, 5]:
                return list(rows)
            return [tuple(r[i] for i in self.order) for r in rows]
        return [dict(zip(_METRIC_COLUMNS, r, strict=True)) for r in rows]


_PLANS: dict[tuple[str, str, str], _Plans] = {}


def _plans(dialect: sa.Dialect) -> _Plans:
    ident = (dialect.name, str(dialect.driver), str(dialect.paramstyle))
    plans = _PLANS.get(ident)
    if plans is None:
        plans = _PLANS[ident] = _Plans(dialect)
    return plans


# PostgreSQL: lock the run, check it and its experiment are active, append the history and
# upsert `latest_metrics` -- one statement, so one round trip (and, alone, one transaction).
# The run's row lock serialises writers of a run; the upsert's WHERE keeps the stored latest
# point unless the new one is later (ON CONFLICT compares with the newest committed row).
_PG_LOCK = """WITH r AS (
  SELECT runs.lifecycle_stage AS run_stage,
    (SELECT e.lifecycle_stage FROM experiments AS e
     WHERE e.experiment_id = runs.experiment_id) AS experiment_stage
  FROM runs WHERE runs.run_id = %(run_id)s FOR UPDATE OF runs
), ok AS (
  SELECT 1 FROM r WHERE r.run_stage = 'active' AND r.experiment_stage = 'active'
)"""
_PG_METRICS = f"""m AS (
  INSERT INTO metrics (run_id, key, value, special, step, timestamp_ms)
  SELECT %(run_id)s, u.k, u.v, u.s, u.st, u.ts
  FROM {_UNNEST.format(p="")} WITH ORDINALITY AS u(k, v, s, st, ts, n)
  WHERE EXISTS (SELECT 1 FROM ok)
  ORDER BY u.n
), l AS (
  INSERT INTO latest_metrics AS t (run_id, key, value, special, step, timestamp_ms)
  SELECT %(run_id)s, u.k, u.v, u.s, u.st, u.ts
  FROM {_UNNEST.format(p="latest_")} AS u(k, v, s, st, ts)
  WHERE EXISTS (SELECT 1 FROM ok)
  {_SET_LATEST}
)"""
# The same for one point, with scalar parameters (adapting arrays costs more than the rest).
_PG_POINT = f"""p AS (
  SELECT %(run_id)s AS run_id, %(key)s::varchar AS key, %(value)s::float8 AS value,
    %(special)s::varchar AS special, %(step)s::int8 AS step, %(stamp)s::int8 AS timestamp_ms
  FROM ok
), m AS (
  INSERT INTO metrics (run_id, key, value, special, step, timestamp_ms) SELECT * FROM p
), l AS (
  INSERT INTO latest_metrics AS t (run_id, key, value, special, step, timestamp_ms)
  SELECT * FROM p WHERE true
  {_SET_LATEST}
)"""
_PG_TAGS = """g AS (
  INSERT INTO run_tags AS t (run_id, key, value)
  SELECT %(run_id)s, u.k, u.v
  FROM unnest(%(tag_keys)s::varchar[], %(tag_values)s::varchar[]) AS u(k, v)
  WHERE EXISTS (SELECT 1 FROM ok)
  ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
)"""
# Params: inserted unless the key is stored (ON CONFLICT waits for a concurrent inserter and
# sees committed rows that the snapshot cannot); RETURNING counts the new ones. One param is
# bound as scalars, and the result also reads its stored value from the snapshot, so that
# logging it again with the same value needs no second round trip.
_PG_PARAM = """pp AS (
  INSERT INTO params (run_id, key, value)
  SELECT %(run_id)s, %(param_key)s::varchar, %(param_value)s::varchar FROM ok
  ON CONFLICT (run_id, key) DO NOTHING
  RETURNING 1
)"""
_PG_PARAMS = """pp AS (
  INSERT INTO params (run_id, key, value)
  SELECT %(run_id)s, u.k, u.v
  FROM unnest(%(param_keys)s::varchar[], %(param_values)s::varchar[]) AS u(k, v)
  WHERE EXISTS (SELECT 1 FROM ok)
  ON CONFLICT (run_id, key) DO NOTHING
  RETURNING 1
)"""
_PG_RESULT = "SELECT run_stage, experiment_stage FROM r"
_PG_RESULT_PARAMS = "SELECT run_stage, experiment_stage, (SELECT count(*) FROM pp) FROM r"
_PG_RESULT_PARAM = """SELECT run_stage, experiment_stage, (SELECT count(*) FROM pp),
  (SELECT p.value FROM params AS p WHERE p.run_id = %(run_id)s AND p.key = %(param_key)s)
FROM r"""


@functools.cache
def _pg_statement(metrics: str, tags: bool, params: str = "") -> str:
    """`_PG_LOCK`, then the parts for `metrics` ("", "point" or "many"), tags and `params`
    ("", "one" or "many")."""
    parts = [_PG_LOCK]
    if metrics:
        parts.append(_PG_POINT if metrics == "point" else _PG_METRICS)
    if tags:
        parts.append(_PG_TAGS)
    result = _PG_RESULT
    if params:
        parts.append(_PG_PARAM if params == "one" else _PG_PARAMS)
        result = _PG_RESULT_PARAM if params == "one" else _PG_RESULT_PARAMS
    return ", ".join(parts) + "\n" + result


def run_statement(
    run_id: str,
    points: MetricRows,
    tags: dict[str, str],
    param_map: dict[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL's one statement that logs `points`, `tags` and `param_map` to a run, and its
    parameters.

    It locks the run, appends the history, upserts `latest_metrics` and the tags, inserts the
    params not stored yet, and returns (run_stage, experiment_stage) for `check_stages`,
    followed, with params, by what `check_params_written` needs; it writes nothing unless both
    stages are active. Alone, it is its own transaction: one round trip. With params it may
    still have to be refused (a param stored with another value): then it must run in a
    transaction, unless it is one param and nothing else (nothing to roll back).
    """
    params: dict[str, Any] = {"run_id": run_id}
    kind = ""
    if len(points) == 1:
        kind = "point"
        params.update(
            key=points.keys[0],
            value=points.values[0],
            special=points.specials[0],
            step=points.steps[0],
            stamp=points.stamps[0],
        )
    elif points:
        kind = "many"
        latest = points.latest_rows()
        params.update(
            keys=points.keys,
            values=points.values,
            specials=points.specials,
            steps=points.steps,
            stamps=points.stamps,
            latest_keys=[r[0] for r in latest],
            latest_values=[r[1] for r in latest],
            latest_specials=[r[2] for r in latest],
            latest_steps=[r[3] for r in latest],
            latest_stamps=[r[4] for r in latest],
        )
    if tags:
        params.update(tag_keys=list(tags), tag_values=list(tags.values()))
    param_kind = ""
    if param_map and len(param_map) == 1:
        param_kind = "one"
        ((params["param_key"], params["param_value"]),) = param_map.items()
    elif param_map:
        param_kind = "many"
        params.update(param_keys=list(param_map), param_values=list(param_map.values()))
    return _pg_statement(kind, bool(tags), param_kind), params


class _KvStatements:
    """Prebuilt statements on a key/value table owned by `id_column` (run or experiment tags)."""

    def __init__(self, table: sa.Table, id_column: str) -> None:
        owner = table.c[id_column] == sa.bindparam("b_owner")
        self.id_column = id_column
        self.present = sa.select(table.c.key).where(owner, table.c.key.in_(_KEYS))
        self.update = (
            sa.update(table)
            .where(owner, table.c.key == sa.bindparam("b_key"))
            .values(value=sa.bindparam("b_value"))
        )
        self.insert = sa.insert(table)


_KV = {
    "run_tags": _KvStatements(run_tags_t, "run_id"),
    "experiment_tags": _KvStatements(experiment_tags_t, "experiment_id"),
}


def insert_kv(conn: sa.Connection, table: sa.Table, owner: str, values: dict[str, str]) -> None:
    if values:
        kv = _KV[table.name]
        rows = [{kv.id_column: owner, "key": k, "value": v} for k, v in values.items()]
        conn.execute(kv.insert, rows)


def upsert_kv(
    conn: sa.Connection,
    table: sa.Table,
    owner: str,
    values: dict[str, str],
    what: str = "experiment tag",
) -> None:
    """Set key/value pairs of one owner (whose row is locked): update the stored keys, insert
    the others."""
    kv = _KV[table.name]
    present: set[str] = set()
    for chunk in chunks(sorted(values)):
        found = conn.execute(kv.present, {"b_owner": owner, "keys": list(chunk)})
        present.update(found.scalars())
    colliding(present, values, what)
    updates = [
        {"b_owner": owner, "b_key": k, "b_value": v} for k, v in values.items() if k in present
    ]
    if updates:
        conn.execute(kv.update, updates)
    insert_kv(conn, table, owner, {k: v for k, v in values.items() if k not in present})


__all__ = [
    "check_params_written",
    "check_stages",
    "colliding",
    "exists_error",
    "insert_kv",
    "insert_metrics",
    "insert_params",
    "lock_experiment",
    "lock_run",
    "refuse_changed_params",
    "run_statement",
    "stored_params",
    "touch_experiment",
    "upsert_kv",
    "utcnow",
]
