"""Experiment tracking in the SQL store: experiments, runs, params, metrics and tags.

`TrackingMixin` is inherited by `SqlStore`. Every write is one transaction that first locks the
row it changes (the run for everything logged to a run, the experiment for experiment changes):
`SELECT ... FOR UPDATE` on PostgreSQL and MySQL/MariaDB, `BEGIN IMMEDIATE` on SQLite. Writers
of one run are thus serialised, so the read-modify-write of params (immutable) and of
`latest_metrics` never loses an update, and since a transaction locks one row before anything
else and only then touches rows of that run, two writers never wait for each other in a cycle.
The rows of `latest_metrics` and `params` are read with plain (non-locking) reads after that
lock: locking reads of missing keys take gap locks on MySQL, whose inserts then deadlock.
A lock timeout, a deadlock or SQLite's "database is locked" retries the whole transaction.

Hot paths (`_tracking_write`): `latest_metrics` is upserted with the "latest" ordering rule in
the upsert's WHERE (SQLite, PostgreSQL; MySQL/MariaDB read and update it), the history goes
through the driver's executemany, and on PostgreSQL a batch of metrics and/or tags is one
statement (lock, check, history, latest values, tags) run in autocommit on the driver's
connection: one round trip, one transaction. So is one param alone (`log_param`): the insert
skips a stored key (`ON CONFLICT DO NOTHING`, which sees committed rows beyond the statement's
snapshot), and only then is the stored value compared. Params with anything else run the same
statement inside a transaction, so that a param stored with another value refuses the batch.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store._base import MetricsLike
from llmtrace.store._engine import SQLITE_BEGIN
from llmtrace.store._tracking_read import (
    TrackingReadMixin,
    experiment_tags_t,
    experiments_t,
    run_info,
    run_tags_t,
    runs_t,
)
from llmtrace.store._tracking_values import (
    MAX_NAME_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    ParamsLike,
    TagsLike,
    check_key,
    check_name,
    check_params,
    check_status,
    check_tags,
    check_text,
    check_time,
    generate_run_name,
    now_ms,
    prepare_metrics,
)
from llmtrace.store._tracking_write import (
    check_params_written,
    check_stages,
    exists_error,
    insert_kv,
    insert_metrics,
    insert_params,
    lock_experiment,
    lock_run,
    run_statement,
    stored_params,
    touch_experiment,
    upsert_kv,
    utcnow,
)
from llmtrace.store.run_entities import TERMINAL_STATUSES, Metric, Run, RunInfo

logger = logging.getLogger("llmtrace")

T = TypeVar("T")
WRITE_ATTEMPTS = 8
# Driver messages of errors after which the same transaction can simply run again.
_TRANSIENT = (
    "deadlock",  # MySQL 1213 "Deadlock found", PostgreSQL "deadlock detected"
    "lock wait timeout",  # MySQL 1205
    "lock timeout",  # PostgreSQL with lock_timeout set
    "could not serialize",  # PostgreSQL serialization failure
    "database is locked",  # SQLite, when the busy timeout ran out
    "database table is locked",
)


def _is_transient(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return False
    text = str(exc.orig or exc).lower()
    return any(marker in text for marker in _TRANSIENT)


_HEX32 = re.compile(r"[0-9a-f]{32}")


class TrackingMixin(TrackingReadMixin):
    """Experiment and run writes; reads come from `TrackingReadMixin`."""

    engine: sa.Engine

    @property
    def _postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` in one write transaction, again after a deadlock or lock timeout."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
                    with conn.begin():
                        return work(conn)
            except DBAPIError as exc:
                if not _is_transient(exc) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                logger.debug("retrying a tracking write after %s", exc.orig)
                time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    def _write_statement(self, sql: str, params: dict[str, Any]) -> Any:
        """Run one statement, its own transaction (autocommit), on the driver's connection and
        return its first row; again after a deadlock or lock timeout (PostgreSQL's hot path).

        SQLAlchemy's Connection costs as much as the rest of a `log_metric` here (~75 µs);
        driver errors, failing to connect included, are wrapped as SQLAlchemy's
        (IntegrityError, OperationalError, ...), and a connection that broke is invalidated,
        as a Connection would do. A broken connection is not retried: the statement may have
        committed (the pool's checkout replaces connections that died while pooled).
        """
        dialect = self.engine.dialect
        dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        for attempt in range(WRITE_ATTEMPTS):
            try:
                raw = self.engine.raw_connection()
            except dbapi_error as exc:  # could not connect: wrapped as a Connection would
                wrapped = DBAPIError.instance(None, None, exc, dbapi_error, dialect=dialect)
                raise wrapped from exc
            try:
                driver = raw.driver_connection
                assert driver is not None
                driver.autocommit = True
                try:
                    return driver.execute(sql, params).fetchone()
                finally:
                    if not driver.closed:
                        driver.autocommit = False
            except dbapi_error as exc:
                error: Any = exc
                lost = dialect.is_disconnect(error, raw.dbapi_connection, None)
                if lost:
                    raw.invalidate(exc)
                wrapped = DBAPIError.instance(
                    sql, params, exc, dbapi_error, connection_invalidated=lost, dialect=dialect
                )
                if not isinstance(wrapped, DBAPIError):
                    raise
                if not _is_transient(wrapped) or attempt == WRITE_ATTEMPTS - 1:
                    raise wrapped from exc
                logger.debug("retrying a tracking write after %s", exc)
            finally:
                raw.close()
            time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    # --- experiments --------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str,
        tags: TagsLike | None = None,
        experiment_id: str | None = None,
    ) -> str:
        """Create an experiment and return its id (32 hex characters; `experiment_id` lets
        the caller choose it, e.g. to name the artifact folder after it).

        AlreadyExistsError if an experiment (active or deleted) has this name or id.

        Example:
            >>> exp_id = store.create_experiment("rag-tuning", artifact_location="/data/art")
        """
        name = check_name(name, "experiment")
        if not isinstance(artifact_location, str) or not artifact_location.strip():
            raise InvalidParameterError("artifact_location must be a non-empty string")
        tag_map = check_tags(tags, "experiment tag")
        if experiment_id is None:
            experiment_id = uuid.uuid4().hex
        elif not isinstance(experiment_id, str) or not _HEX32.fullmatch(experiment_id):
            raise InvalidParameterError(
                f"experiment_id must be 32 lowercase hex characters, got {experiment_id!r}"
            )
        new_id = experiment_id

        def work(conn: sa.Connection) -> None:
            q = sa.select(experiments_t.c.name, experiments_t.c.lifecycle_stage)
            clash = conn.execute(q.where(experiments_t.c.name == name)).first()
            if clash is not None:
                raise exists_error(clash.name, clash.lifecycle_stage)
            now = utcnow()
            row = {
                "experiment_id": experiment_id,
                "name": name,
                "artifact_location": artifact_location,
                "lifecycle_stage": "active",
                "created_at": now,
                "updated_at": now,
            }
            conn.execute(sa.insert(experiments_t), [row])
            insert_kv(conn, experiment_tags_t, experiment_id, tag_map)

        try:
            self._write(work)
        except IntegrityError as exc:  # created concurrently under the same name (or id)
            raise exists_error(name, "active") from exc
        return new_id

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; AlreadyExistsError if the name is taken."""
        new_name = check_name(new_name, "experiment")

        def work(conn: sa.Connection) -> None:
            lock_experiment(conn, experiment_id, active=True)
            q = sa.select(
                experiments_t.c.experiment_id, experiments_t.c.name, experiments_t.c.lifecycle_stage
            )
            q = q.where(experiments_t.c.name == new_name)
            clash = conn.execute(q).first()
            if clash is not None and clash.experiment_id != experiment_id:
                raise exists_error(clash.name, clash.lifecycle_stage)
            touch_experiment(conn, experiment_id, name=new_name)

        try:
            self._write(work)
        except IntegrityError as exc:
            raise exists_error(new_name, "active") from exc

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted; its runs read as deleted until it is restored."""
        self._set_experiment_stage(experiment_id, "deleted")

    def restore_experiment(self, experiment_id: str) -> None:
        """Make a deleted experiment active again, with the runs it had active."""
        self._set_experiment_stage(experiment_id, "active")

    def _set_experiment_stage(self, experiment_id: str, stage: str) -> None:
        def work(conn: sa.Connection) -> None:
            row = lock_experiment(conn, experiment_id, active=False)
            if row.lifecycle_stage != stage:
                touch_experiment(conn, experiment_id, lifecycle_stage=stage)

        self._write(work)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set (or replace) a tag on an active experiment."""
        key = check_key(key, "experiment tag")
        text = check_text(value, "experiment tag", key, MAX_TAG_VALUE_LENGTH)

        def work(conn: sa.Connection) -> None:
            lock_experiment(conn, experiment_id, active=True)
            upsert_kv(conn, experiment_tags_t, experiment_id, {key: text})
            touch_experiment(conn, experiment_id)

        self._write(work)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag from an active experiment (no error if it was not set)."""

        def work(conn: sa.Connection) -> None:
            lock_experiment(conn, experiment_id, active=True)
            table = experiment_tags_t
            q = sa.delete(table).where(table.c.experiment_id == experiment_id, table.c.key == key)
            if conn.execute(q).rowcount:
                touch_experiment(conn, experiment_id)

        self._write(work)

    # --- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        start_time: datetime | None = None,
        tags: TagsLike | None = None,
        parent_run_id: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        """Start a run (status RUNNING) in an active experiment.

        The name is generated ("bright-owl-417") when not given; the artifact URI is the
        experiment's artifact location + "/<run_id>/artifacts".

        Example:
            >>> run = store.create_run(exp_id, tags={"team": "search"})
        """
        name = generate_run_name() if name is None else check_name(name, "run")
        start = utcnow() if start_time is None else check_time(start_time, "start_time")
        tag_map = check_tags(tags)
        if user_id is not None:
            user_id = check_text(user_id, "run", "user_id", MAX_NAME_LENGTH)
        run_id = uuid.uuid4().hex

        def work(conn: sa.Connection) -> RunInfo:
            q = sa.select(experiments_t).where(experiments_t.c.experiment_id == experiment_id)
            exp = conn.execute(q).first()
            if exp is None:
                raise NotFoundError(f"experiment {experiment_id!r} not found")
            if exp.lifecycle_stage == "deleted":
                raise NotFoundError(
                    f"experiment {exp.name!r} ({experiment_id}) is deleted; restore it first"
                )
            if parent_run_id is not None:
                q = sa.select(runs_t.c.run_id).where(runs_t.c.run_id == parent_run_id)
                if conn.execute(q).first() is None:
                    raise NotFoundError(f"parent run {parent_run_id!r} not found")
            row: dict[str, Any] = {
                "run_id": run_id,
                "experiment_id": experiment_id,
                "name": name,
                "status": "RUNNING",
                "start_time": start,
                "end_time": None,
                "duration_ms": None,
                "lifecycle_stage": "active",
                "artifact_uri": f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts",
                "user_id": user_id,
                "parent_run_id": parent_run_id,
            }
            conn.execute(sa.insert(runs_t), [row])
            insert_kv(conn, run_tags_t, run_id, tag_map)
            return RunInfo(**row)

        info = self._write(work)
        return Run(info, {}, {}, dict(tag_map))

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: datetime | None = None,
        name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; returns the updated info.

        A terminal status (FINISHED, FAILED, KILLED) sets `end_time` (now, unless given or
        already set) and `duration_ms`; RUNNING or SCHEDULED clears them unless `end_time`
        is given.
        """
        new_status = None if status is None else check_status(status)
        end = None if end_time is None else check_time(end_time, "end_time")
        new_name = None if name is None else check_name(name, "run")

        def work(conn: sa.Connection) -> RunInfo:
            row = lock_run(conn, run_id)
            values: dict[str, Any] = {}
            if new_name is not None:
                values["name"] = new_name
            if new_status is not None:
                values["status"] = new_status
            finish = row.end_time
            if end is not None:
                finish = end
            elif new_status in TERMINAL_STATUSES:
                finish = row.end_time or utcnow()
            elif new_status is not None:
                finish = None
            if finish is not None and finish < row.start_time:
                raise InvalidParameterError(
                    f"end_time {finish.isoformat()} is before the run's start_time "
                    f"{row.start_time.isoformat()}"
                )
            values["end_time"] = finish
            values["duration_ms"] = (
                None if finish is None else (finish - row.start_time).total_seconds() * 1000
            )
            conn.execute(sa.update(runs_t).where(runs_t.c.run_id == run_id).values(values))
            return run_info(SimpleNamespace(**{**row._mapping, **values}))

        return self._write(work)

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted: hidden from `search_runs` by default, closed to logging."""
        self._set_run_stage(run_id, "deleted")

    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again."""
        self._set_run_stage(run_id, "active")

    def _set_run_stage(self, run_id: str, stage: str) -> None:
        def work(conn: sa.Connection) -> None:
            row = lock_run(conn, run_id, active=False)
            if row.lifecycle_stage != stage:
                q = sa.update(runs_t).where(runs_t.c.run_id == run_id)
                conn.execute(q.values(lifecycle_stage=stage))

        self._write(work)

    def delete_run_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from an active run (no error if it was not set)."""

        def work(conn: sa.Connection) -> None:
            lock_run(conn, run_id)
            q = sa.delete(run_tags_t).where(run_tags_t.c.run_id == run_id)
            conn.execute(q.where(run_tags_t.c.key == key))

        self._write(work)

    # --- logging ------------------------------------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: MetricsLike = (),
        params: ParamsLike = (),
        tags: TagsLike = (),
    ) -> None:
        """Log metrics, params and tags to an active run in one transaction: all or nothing.

        Metrics are `Metric`s, (key, value[, step[, timestamp_ms]]) tuples or dicts; params and
        tags are mappings or (key, value) pairs (values are turned into text). A param already
        logged with the same value is skipped; with a different value the whole batch fails
        with InvalidParameterError (params are immutable).

        Example:
            >>> store.log_batch(run_id, metrics=[Metric("loss", 0.3, step=1)], params={"lr": 0.1})
        """
        points = prepare_metrics(metrics, now_ms())
        param_map = check_params(params)
        tag_map = check_tags(tags)

        def work(conn: sa.Connection) -> None:
            lock_run(conn, run_id)
            if param_map:
                insert_params(conn, run_id, param_map)
            if points:
                insert_metrics(conn, run_id, points)
            if tag_map:
                upsert_kv(conn, run_tags_t, run_id, tag_map, what="tag")

        def pg_work(conn: sa.Connection) -> None:
            row = conn.exec_driver_sql(*run_statement(run_id, points, tag_map, param_map)).first()
            check_stages(row, run_id)
            check_params_written(
                row, run_id, param_map, lambda keys: stored_params(conn, run_id, keys)
            )

        try:
            if not self._postgresql or not (points or tag_map or param_map):
                self._write(work)
            elif len(param_map) > 1 or (param_map and (points or tag_map)):
                # A param stored with another value refuses the whole batch: one statement,
                # in a transaction that a refusal rolls back.
                self._write(pg_work)
            else:
                # Metrics and tags, or one param alone: one statement, its own transaction.
                row = self._write_statement(*run_statement(run_id, points, tag_map, param_map))
                check_stages(row, run_id)
                if param_map:
                    check_params_written(row, run_id, param_map, self._stored_params(run_id))
        except IntegrityError as exc:
            # Keys that one database sees as equal (MySQL: "lr" and "LR") in one batch.
            raise InvalidParameterError(
                f"log_batch to run {run_id!r} has keys the database treats as duplicates "
                f"(MySQL/MariaDB compare keys case-insensitively): {exc.orig}"
            ) from exc

    def _stored_params(self, run_id: str) -> Callable[[list[str]], dict[str, str]]:
        """A reader of the run's stored params, each call in its own connection."""

        def read(keys: list[str]) -> dict[str, str]:
            with self.engine.connect() as conn:
                return stored_params(conn, run_id, keys)

        return read

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        *,
        step: int = 0,
        timestamp_ms: int | None = None,
    ) -> None:
        """Log one metric point (NaN and +/-inf are kept as such)."""
        self.log_batch(run_id, metrics=[Metric(key, value, step, timestamp_ms)])

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one param (`str(value)`); InvalidParameterError if it has another value."""
        self.log_batch(run_id, params=[(key, value)])

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set (or replace) one tag of a run."""
        self.log_batch(run_id, tags=[(key, value)])


__all__ = ["TrackingMixin"]
