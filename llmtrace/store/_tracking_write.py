"""Row-level writes of experiment tracking, inside a transaction that `TrackingMixin` opens.

The statements on the hot path (`log_metric`, `log_batch`, `set_tag`) are built once: building
a Core statement costs about as much as SQLite running it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
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
from llmtrace.store._tracking_values import decode_value, encode_value, latest_key, show
from llmtrace.store.run_entities import Metric


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
_INSERT_METRICS = sa.insert(metrics_t)
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


def insert_params(conn: sa.Connection, run_id: str, params: dict[str, str]) -> None:
    """Insert new params; same value again is a no-op, another value an error (nothing written)."""
    stored: dict[str, str] = {}
    for chunk in chunks(sorted(params)):
        found = conn.execute(_STORED_PARAMS, {"run_id": run_id, "keys": list(chunk)})
        stored.update((k, v) for k, v in found)
    colliding(stored, params, "param")
    for key, old in stored.items():
        if params[key] != old:
            raise InvalidParameterError(
                f"param {key!r} of run {run_id!r} is already {show(old, 100)}; params are "
                f"immutable, so it cannot become {show(params[key], 100)} (log it under another "
                "key, or start a new run)"
            )
    rows = [{"run_id": run_id, "key": k, "value": v} for k, v in params.items() if k not in stored]
    if rows:
        conn.execute(_INSERT_PARAMS, rows)


def insert_metrics(conn: sa.Connection, run_id: str, points: list[Metric]) -> None:
    """Append the points to the history and move `latest_metrics` forward where they are later."""
    history = []
    best: dict[str, Metric] = {}
    for m in points:
        value, special = encode_value(m.value)
        history.append(
            {
                "run_id": run_id,
                "key": m.key,
                "value": value,
                "special": special,
                "step": m.step,
                "timestamp_ms": m.timestamp_ms,
            }
        )
        current = best.get(m.key)
        if current is None or _later(m, current):
            best[m.key] = m
    conn.execute(_INSERT_METRICS, history)

    stored: dict[str, Metric] = {}
    for chunk in chunks(sorted(best)):
        for r in conn.execute(_STORED_LATEST, {"run_id": run_id, "keys": list(chunk)}):
            value = decode_value(r.value, r.special)
            stored[r.key] = Metric(r.key, value, r.step, r.timestamp_ms)
    colliding(stored, best, "metric")
    inserts, updates = [], []
    for key, m in best.items():
        old = stored.get(key)
        if old is not None and not _later(m, old):
            continue
        value, special = encode_value(m.value)
        row = {"value": value, "special": special, "step": m.step, "timestamp_ms": m.timestamp_ms}
        if old is None:
            inserts.append({"run_id": run_id, "key": key, **row})
        else:
            updates.append(
                {"b_run_id": run_id, "b_key": key, **{f"b_{k}": v for k, v in row.items()}}
            )
    if updates:
        conn.execute(_UPDATE_LATEST, updates)
    if inserts:
        conn.execute(_INSERT_LATEST, inserts)


def _later(new: Metric, old: Metric) -> bool:
    assert new.timestamp_ms is not None and old.timestamp_ms is not None
    return latest_key(new.step, new.timestamp_ms, new.value) > latest_key(
        old.step, old.timestamp_ms, old.value
    )


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
    "colliding",
    "exists_error",
    "insert_kv",
    "insert_metrics",
    "insert_params",
    "lock_experiment",
    "lock_run",
    "touch_experiment",
    "upsert_kv",
    "utcnow",
]
