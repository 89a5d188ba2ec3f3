"""Schema migrations of the llmtrace store, run in code with Alembic.

The store calls `ensure_schema` on first use: it creates the schema in an empty database, brings
an older one up to date, and refuses a database migrated by a newer llmtrace. `upgrade`,
`downgrade`, `stamp` and `upgrade_sql` are the building blocks of the ``llmtrace db`` commands.

Every function takes the store's own `sqlalchemy.Engine` and hands one of its connections to
Alembic (``config.attributes["connection"]``), so the engine's pool and connect hooks are used and
an in-memory SQLite database (``sqlite://`` with ``StaticPool``) is migrated in place.

Two processes starting on the same new database would both try to create it. Migrations therefore
run under a per-database lock: a transaction-scoped advisory lock on PostgreSQL, a named lock on
MySQL/MariaDB, ``BEGIN IMMEDIATE`` on SQLite. Whoever waited re-reads the revision and finds
nothing left to do. Should the lock be unavailable (an unknown dialect, a SQLite connection that
already opened its transaction), a failed migration is re-checked before it is reported.

Adding a revision: ``python -m llmtrace.store.migrate revision -m "what changed"``; see
`llmtrace.store.migrations`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import importlib.util
import io
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError

from llmtrace.exceptions import MigrationError
from llmtrace.store._engine import SQLITE_BEGIN
from llmtrace.store.models import Base

logger = logging.getLogger(__name__)

#: Alembic's version table for llmtrace. Not ``alembic_version``, which would clash with an
#: application running its own Alembic migrations in the same database.
VERSION_TABLE = "llmtrace_alembic_version"

# Lightweight description of Alembic's version table, for reading the revision directly.
_VERSION = sa.table(VERSION_TABLE, sa.column("version_num", sa.String(32)))

#: The directory holding ``env.py``, ``script.py.mako`` and ``versions/``.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# How long a process waits for another one that is migrating the same database.
_LOCK_TIMEOUT_S = 60.0
_LOCK_POLL_S = 0.1
# How long the lockless fallback waits for a concurrent migrator before reporting its own error;
# short, because the error may as well be genuine (missing privileges, ...).
_RACE_WAIT_S = 5.0
# The PostgreSQL advisory lock key: any fixed bigint, derived from a name to avoid collisions
# with keys an application may have picked by hand.
_PG_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"llmtrace.store.migrate").digest()[:8], "big", signed=True
)
# Alembic's version_num column is VARCHAR(32).
_MAX_REVISION_ID_LENGTH = 32


def head_revision() -> str:
    """Return the newest revision id this version of llmtrace knows (``0001_initial``, ...).

    Raises:
        MigrationError: the shipped revisions do not form a single line (a packaging bug).
    """
    heads = _script_directory().get_heads()
    if len(heads) != 1:
        raise MigrationError(f"llmtrace migrations must have exactly one head, found {heads}")
    return heads[0]


def current_revision(engine: sa.Engine) -> str | None:
    """Return the revision the database is at, or None if llmtrace never migrated it."""
    with engine.connect() as conn:
        return _current_revision(conn)


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision` (default: the newest).

    A no-op, costing two catalog-sized queries, when the database is already at head. Works on an
    empty database.

    Raises:
        MigrationError: `revision` is unknown, or a migration failed.
    """
    if revision in ("head", "heads") and current_revision(engine) == head_revision():
        return
    with _migration_connection(engine) as conn:
        _run_alembic(command.upgrade, conn, revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Migrate the database down to `revision`; ``"base"`` drops every llmtrace table.

    The version table itself is left in place (empty), as Alembic does.

    Raises:
        MigrationError: `revision` is unknown, or a migration failed.
    """
    with _migration_connection(engine) as conn:
        _run_alembic(command.downgrade, conn, revision)


def stamp(engine: sa.Engine, revision: str = "head") -> None:
    """Record `revision` as the database's revision without running any migration.

    For tables created outside of migrations (``Base.metadata.create_all``) that are known to
    match `revision`.

    Raises:
        MigrationError: `revision` is unknown.
    """
    with _migration_connection(engine) as conn:
        _run_alembic(command.stamp, conn, revision)


def upgrade_sql(url: str | sa.URL, revision: str = "head", from_revision: str | None = None) -> str:
    """Return the SQL script that migrates a database at `url` to `revision`, without connecting.

    `url` only selects the SQL dialect. The script starts from `from_revision` (default: an empty
    database) and maintains the version table, so a DBA can review and run it by hand.

    Raises:
        MigrationError: a revision is unknown.
    """
    if isinstance(url, sa.URL):
        url = url.render_as_string(hide_password=False)
    output = io.StringIO()
    config = _config(url=url, output=output)
    target = f"{from_revision}:{revision}" if from_revision else revision
    try:
        command.upgrade(config, target, sql=True)
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc
    return output.getvalue()


def ensure_schema(engine: sa.Engine) -> None:
    """Make the database's schema the one this version of llmtrace expects; the store's first use.

    - no llmtrace tables and no revision: create the schema (upgrade to head);
    - at head: nothing to do (one cheap query);
    - at an older revision: upgrade to head, logging an INFO line;
    - at a revision unknown to this llmtrace (a newer llmtrace migrated it): `MigrationError`;
    - llmtrace tables but no revision (created without migrations): `MigrationError`.

    Safe to call from several processes at once on a new database; see the module docstring.
    """
    head = head_revision()
    try:
        found = current_revision(engine)
    except sa.exc.OperationalError as exc:
        # SQLite: another process holds the new file's lock while it switches to WAL or
        # creates the schema ("database is locked"): the locked path below reads again.
        # Anything else (an unreachable server) is the caller's to report.
        if engine.dialect.name != "sqlite" or "locked" not in str(exc):
            raise
        found = None
    else:
        if found == head:
            return
        # Fail fast without taking the migration lock: a newer schema stays newer.
        _check_known(engine, found)
    try:
        with _migration_connection(engine) as conn:
            _ensure_schema_locked(engine, conn, head)
    except sa.exc.DBAPIError as exc:
        # Without a lock, another process may have won the race ("table already exists",
        # "database is locked"): if it got the schema to head, there is nothing to report.
        if _wait_for_revision(engine, head):
            logger.debug("another process migrated %s concurrently", _describe(engine))
            return
        raise MigrationError(
            f"could not migrate the llmtrace schema of {_describe(engine)} to revision {head}: "
            f"{exc}"
        ) from exc


def _ensure_schema_locked(engine: sa.Engine, conn: sa.Connection, head: str) -> None:
    # Re-read: whoever held the lock before us may have done the work already.
    found = _current_revision(conn)
    if found == head:
        return
    _check_known(engine, found)
    if found is None:
        existing = sorted(set(sa.inspect(conn).get_table_names()) & set(Base.metadata.tables))
        if existing:
            raise MigrationError(
                f"{_describe(engine)} has llmtrace tables ({', '.join(existing)}) but no "
                f"recorded schema revision (no {VERSION_TABLE} row), so llmtrace cannot tell "
                "which schema they have; they were probably created without migrations. Drop "
                f"them, or if they match revision {head!r}, record it with "
                "llmtrace.store.migrate.stamp(engine)."
            )
        logger.info("creating the llmtrace schema (revision %s) in %s", head, _describe(engine))
    else:
        logger.info(
            "migrating the llmtrace schema of %s from revision %s to %s",
            _describe(engine),
            found,
            head,
        )
    _run_alembic(command.upgrade, conn, head)


def _check_known(engine: sa.Engine, revision: str | None) -> None:
    if revision is not None and revision not in _known_revisions():
        raise MigrationError(
            f"{_describe(engine)} is at llmtrace schema revision {revision!r}, which this "
            f"version of llmtrace does not know (its newest is {head_revision()!r}): the "
            "database was migrated by a newer llmtrace. Upgrade llmtrace to use it."
        )


def _wait_for_revision(engine: sa.Engine, revision: str) -> bool:
    """Poll until the database reaches `revision`, for the lockless race fallback."""
    deadline = time.monotonic() + _RACE_WAIT_S
    while True:
        with contextlib.suppress(sa.exc.DBAPIError):
            if current_revision(engine) == revision:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_LOCK_POLL_S)


def _current_revision(conn: sa.Connection) -> str | None:
    # Read directly rather than through alembic's MigrationContext, which logs two INFO lines
    # per call: too chatty for a check that runs every time a store is opened.
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    revisions = conn.execute(sa.select(_VERSION.c.version_num)).scalars().all()
    if len(revisions) > 1:
        # Branches are never shipped; several rows mean someone else's migrations wrote here.
        raise MigrationError(f"{VERSION_TABLE} holds several revisions: {sorted(revisions)}")
    return revisions[0] if revisions else None


@functools.cache
def _script_directory() -> ScriptDirectory:
    # Parsing the revision files costs milliseconds; the shipped set never changes at runtime.
    return ScriptDirectory.from_config(_config())


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _script_directory().walk_revisions())


def _escape(value: str) -> str:
    # Config main options go through ConfigParser interpolation, where "%" is special.
    return value.replace("%", "%%")


def _config(
    connection: sa.Connection | None = None,
    *,
    url: str | None = None,
    output: io.StringIO | None = None,
) -> Config:
    """Build the Alembic configuration in code: there is no alembic.ini to locate at runtime."""
    config = Config(output_buffer=output)
    config.set_main_option("script_location", _escape(str(MIGRATIONS_DIR)))
    # Without it, Alembic warns and splits version_locations on spaces, breaking such paths.
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", _escape(url))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _run_alembic(
    function: Callable[[Config, str], object], conn: sa.Connection, revision: str
) -> None:
    try:
        function(_config(conn), revision)
    except CommandError as exc:
        # Alembic's errors (unknown revision, ...) join llmtrace's exception tree.
        raise MigrationError(str(exc)) from exc


@contextlib.contextmanager
def _migration_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """Yield a connection in a transaction that holds the database's migration lock.

    The lock is released only after the transaction committed, so that the next holder reads
    the revision the migrations recorded.
    """
    with engine.connect() as conn:
        dialect = conn.dialect.name
        if dialect in ("mysql", "mariadb"):
            # A session lock, outside the transaction: MySQL commits implicitly at every DDL
            # statement, so no transaction-scoped lock could last the whole migration.
            name = _mysql_lock(engine, conn)
            conn.commit()
            try:
                with conn.begin():
                    yield conn
            finally:
                # A dead connection has lost its named lock anyway.
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
                    conn.commit()
        else:
            if dialect == "sqlite":
                # Engines made by llmtrace issue BEGIN themselves; ask for an IMMEDIATE one.
                conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            with conn.begin():
                if dialect == "postgresql":
                    # Transaction-scoped: the commit of the migrations releases it.
                    _pg_lock(engine, conn)
                elif dialect == "sqlite":
                    _sqlite_begin_immediate(conn)
                yield conn


def _pg_lock(engine: sa.Engine, conn: sa.Connection) -> None:
    # Polling pg_try_advisory_xact_lock rather than blocking keeps lock_timeout out of the
    # migrations themselves, yet bounds the wait.
    query = sa.text("SELECT pg_try_advisory_xact_lock(:key)")
    deadline = time.monotonic() + _LOCK_TIMEOUT_S
    while not conn.execute(query, {"key": _PG_LOCK_KEY}).scalar():
        if time.monotonic() >= deadline:
            raise _lock_timeout(engine)
        time.sleep(_LOCK_POLL_S)


def _mysql_lock(engine: sa.Engine, conn: sa.Connection) -> str:
    # Named locks are server-wide, so the name carries the database; hashed because lock
    # names are limited to 64 characters.
    database = conn.execute(sa.text("SELECT DATABASE()")).scalar()
    name = "llmtrace_migrate_" + hashlib.sha256(str(database).encode()).hexdigest()[:40]
    acquired = conn.execute(
        sa.text("SELECT GET_LOCK(:name, :timeout)"),
        {"name": name, "timeout": int(_LOCK_TIMEOUT_S)},
    ).scalar()
    if acquired != 1:
        raise _lock_timeout(engine)
    return name


def _sqlite_begin_immediate(conn: sa.Connection) -> None:
    # pysqlite defers BEGIN until the first INSERT/UPDATE and runs DDL outside any transaction;
    # BEGIN IMMEDIATE makes the whole migration one transaction holding the write lock, so a
    # second process waits (busy timeout) and then sees the finished schema. If the connection
    # already is in a transaction (an engine with its own BEGIN handling), leave it alone.
    if getattr(conn.connection.driver_connection, "in_transaction", True):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _lock_timeout(engine: sa.Engine) -> MigrationError:
    return MigrationError(
        f"timed out after {_LOCK_TIMEOUT_S:.0f} s waiting for another process migrating the "
        f"llmtrace schema of {_describe(engine)}"
    )


def _describe(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


# ---------------------------------------------------------------------------------------------
# Authoring revisions: python -m llmtrace.store.migrate revision -m "..."


def new_revision(
    message: str,
    *,
    autogenerate: bool = True,
    rev_id: str | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a new revision file on top of head and return its path.

    With `autogenerate`, the file holds the operations that turn a temporary SQLite database at
    head into `llmtrace.store.models`; review them (SQLite reflection misses some type changes).
    The id defaults to the next number and a slug of `message` (``0002_add_datasets``), which is
    also the file name. `directory` writes elsewhere than the package's ``versions/`` (tests).

    Raises:
        MigrationError: the id is too long or already taken, or Alembic failed.
    """
    rev_id = rev_id or _next_revision_id(message)
    if len(rev_id) > _MAX_REVISION_ID_LENGTH:
        raise MigrationError(
            f"revision id {rev_id!r} is longer than {_MAX_REVISION_ID_LENGTH} characters"
        )
    with tempfile.TemporaryDirectory(prefix="llmtrace-revision-") as tmp:
        engine = sa.create_engine(f"sqlite:///{Path(tmp) / 'head.db'}")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                config = _config(conn)
                # The readable id is the whole file name (Alembic's default appends the slug).
                config.set_main_option("file_template", "%%(rev)s")
                _add_ruff_hooks(config)
                version_path = None
                if directory is not None:
                    version_path = str(Path(directory).resolve())
                    locations = [str(MIGRATIONS_DIR / "versions"), version_path]
                    config.set_main_option("version_locations", _escape(os.pathsep.join(locations)))
                try:
                    script = command.revision(
                        config,
                        message=message,
                        autogenerate=autogenerate,
                        rev_id=rev_id,
                        version_path=version_path,
                    )
                except CommandError as exc:
                    raise MigrationError(str(exc)) from exc
        finally:
            engine.dispose()
    if not isinstance(script, Script):
        raise MigrationError(f"alembic did not write a single revision file: {script!r}")
    return Path(script.path)


def _add_ruff_hooks(config: Config) -> None:
    """Sort the imports and format the new file with ruff, when it is installed.

    Autogenerate appends its imports unsorted and renders single-quoted strings; `ruff check`
    would otherwise flag every new revision. Unused imports are left for the author to use.
    """
    if importlib.util.find_spec("ruff") is None:
        return
    hooks = {
        "hooks": "ruff_imports ruff_format",
        "ruff_imports.type": "module",
        "ruff_imports.module": "ruff",
        "ruff_imports.options": "check --select I --fix --quiet REVISION_SCRIPT_FILENAME",
        "ruff_format.type": "module",
        "ruff_format.module": "ruff",
        "ruff_format.options": "format --quiet REVISION_SCRIPT_FILENAME",
    }
    for key, value in hooks.items():
        config.set_section_option("post_write_hooks", key, value)


def _next_revision_id(message: str) -> str:
    numbers = [int(m.group()) for rev in _known_revisions() if (m := re.match(r"\d+", rev))]
    prefix = f"{max(numbers, default=0) + 1:04d}_"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_") or "revision"
    return prefix + slug[: _MAX_REVISION_ID_LENGTH - len(prefix)].rstrip("_")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m llmtrace.store.migrate``."""
    parser = argparse.ArgumentParser(
        prog="python -m llmtrace.store.migrate",
        description="Author llmtrace store migrations.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser(
        "revision", help="write a new revision file, autogenerated from the models"
    )
    revision.add_argument("-m", "--message", required=True, help="what the revision changes")
    revision.add_argument(
        "--autogenerate",
        action="store_true",
        default=True,
        help="diff the models against head (the default; accepted for Alembic habits)",
    )
    revision.add_argument(
        "--empty",
        dest="autogenerate",
        action="store_false",
        help="write a revision with empty upgrade() and downgrade()",
    )
    revision.add_argument("--rev-id", help="revision id (default: next number + message slug)")
    revision.add_argument(
        "--directory",
        type=Path,
        help="write the file there rather than into the package's versions/ (for a dry run)",
    )
    args = parser.parse_args(argv)
    try:
        path = new_revision(
            args.message,
            autogenerate=args.autogenerate,
            rev_id=args.rev_id,
            directory=args.directory,
        )
    except MigrationError as exc:
        parser.exit(1, f"error: {exc}\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
