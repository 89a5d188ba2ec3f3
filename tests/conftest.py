"""Shared fixtures: a clean database per test on SQLite, PostgreSQL and MySQL/MariaDB.

Fixtures
    ``db_url``
        Parametrised over ``sqlite``, ``postgresql`` and ``mysql`` (the test ids): the URL (a
        string, password included) of an empty database. Its PostgreSQL and MySQL runs get the
        ``backends`` marker, so ``-m "not backends"`` runs without any server.
    ``engine``
        A plain SQLAlchemy `Engine` on ``db_url``, disposed after the test.
    ``sqlite_url``, ``postgresql_url``, ``mysql_url``
        The same for a single backend, for tests that only concern one of them.
    ``migrated_db_url`` (and ``migrated_sqlite_url``, ``migrated_postgresql_url``,
    ``migrated_mysql_url``)
        Like ``db_url``, but the database is already at the llmtrace schema head, with empty
        tables. Use it whenever the test is not about migrating: it saves the 0.2-0.3 s that
        creating the schema costs on a server (SQLite copies a migrated template file; servers
        keep the schema between tests and only delete rows, migrating again only when a test
        changed the set of tables or the revision). ``migrated_engine`` is its ``engine``.

SQLite databases are files in the test's ``tmp_path``. For each server, the session creates one
database ``llmtrace_test_<8 hex>`` on first use, empties it before every test that asks for it
(drops every table, the Alembic version table included) and drops it at the end. Tests must
dispose of their engines (the ``engine`` fixture does): emptying waits at most 10 s for locks
held by leaked connections, then fails.

Servers are given by a SQLAlchemy URL whose database is only the maintenance database used to
run ``CREATE DATABASE``/``DROP DATABASE`` (required for PostgreSQL, optional for MySQL):

    ``LLMTRACE_TEST_PG_URL``     default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``
    ``LLMTRACE_TEST_MYSQL_URL``  default ``mysql+pymysql://root@127.0.0.1:3306/test``

A URL without a driver gets psycopg/PyMySQL, and MySQL URLs get ``charset=utf8mb4``. Set a
variable to an empty string to leave that backend out.

An unreachable (or left out) server skips its tests with the reason, shown by ``-ra``. When
``CI=true`` or ``LLMTRACE_REQUIRE_BACKENDS=1``, those tests fail instead, so that a missing
backend can never pass for a green run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa

from llmtrace.store import RestStore, SqlStore, Store

BACKENDS = ("sqlite", "postgresql", "mysql")

_SERVER_URL_ENV = {"postgresql": "LLMTRACE_TEST_PG_URL", "mysql": "LLMTRACE_TEST_MYSQL_URL"}
_DEFAULT_SERVER_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}
_DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
_CONNECT_TIMEOUT_S = 3
# Bounds how long emptying waits for a lock held by a connection a test leaked, so that the
# culprit fails quickly instead of hanging until the pytest timeout.
_LOCK_TIMEOUT_S = 10


def _backends_required() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("LLMTRACE_REQUIRE_BACKENDS") == "1"
    )


def _unavailable(message: str) -> NoReturn:
    """Skip, or fail when backends are required; raises either way."""
    if _backends_required():
        pytest.fail(
            f"{message} (failing rather than skipping: CI=true or LLMTRACE_REQUIRE_BACKENDS=1)",
            pytrace=False,
        )
    pytest.skip(message)


def _server_url(backend: str) -> sa.URL | None:
    env = _SERVER_URL_ENV[backend]
    raw = os.environ.get(env, _DEFAULT_SERVER_URLS[backend])
    if not raw:
        return None
    url = sa.make_url(raw)
    if "+" not in url.drivername:
        url = url.set(drivername=f"{url.drivername}+{_DEFAULT_DRIVERS[url.drivername]}")
    if backend == "mysql" and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def _render(url: sa.URL) -> str:
    # str(url) masks the password as "***", which would break connecting with it.
    return url.render_as_string(hide_password=False)


def _admin_engine(url: sa.URL, backend: str) -> sa.Engine:
    """An autocommit engine with a connect timeout and bounded lock waits."""
    if backend == "postgresql":
        connect_args: dict[str, object] = {
            "connect_timeout": _CONNECT_TIMEOUT_S,
            "options": f"-c lock_timeout={_LOCK_TIMEOUT_S * 1000}",
        }
    else:
        connect_args = {
            "connect_timeout": _CONNECT_TIMEOUT_S,
            "init_command": f"SET SESSION lock_wait_timeout = {_LOCK_TIMEOUT_S}",
        }
    return sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        connect_args=connect_args,
        pool_size=1,
        max_overflow=0,
    )


@dataclass
class ServerDatabase:
    """A throwaway database on a server, shared by the session and emptied before each test."""

    backend: str
    url: sa.URL
    # Kept open for the whole session: reconnecting before every test would cost more than
    # emptying the database usually does.
    admin: sa.Engine

    def empty(self) -> None:
        """Drop everything tests may have created; one catalog query when already empty."""
        with self.admin.connect() as conn:
            if self.backend == "postgresql":
                _empty_postgresql(conn)
            else:
                _empty_mysql(conn)

    def reset_to_head(self) -> None:
        """Leave the llmtrace schema at head with empty tables, migrating only when needed."""
        # Imported here: a broken llmtrace import must not break collecting unrelated tests.
        from llmtrace.store import migrate
        from llmtrace.store.models import Base

        expected = set(Base.metadata.tables) | {migrate.VERSION_TABLE}
        with self.admin.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        if tables == expected and migrate.current_revision(self.admin) == migrate.head_revision():
            # Rows only: deleting from a handful of small tables beats any DDL by far.
            with self.admin.connect() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(table.delete())
            return
        self.empty()
        # NullPool: the admin engine is in autocommit, where migrate's locks would not hold.
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()


def _empty_postgresql(conn: sa.Connection) -> None:
    # Dropping whole schemas takes one statement whatever tests created (tables, sequences,
    # enum types), and is cheaper than reflecting and dropping table by table.
    schemas = (
        conn.execute(
            sa.text(
                """
                SELECT n.nspname FROM pg_namespace n
                WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                  AND (n.nspname <> 'public'
                       OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid)
                       OR EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid))
                """
            )
        )
        .scalars()
        .all()
    )
    if not schemas:
        return
    preparer = conn.dialect.identifier_preparer
    names = ", ".join(preparer.quote(schema) for schema in schemas)
    statements = [f"DROP SCHEMA {names} CASCADE"]
    if "public" in schemas:
        statements.append("CREATE SCHEMA public")
    conn.exec_driver_sql("; ".join(statements))


def _empty_mysql(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        )
    ).all()
    if not rows:
        return
    preparer = conn.dialect.identifier_preparer
    views = [preparer.quote(name) for name, kind in rows if kind == "VIEW"]
    tables = [preparer.quote(name) for name, kind in rows if kind != "VIEW"]
    # With checks off, tables drop in one statement whatever their foreign keys.
    conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    try:
        if views:
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {', '.join(views)}")
        if tables:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {', '.join(tables)}")
    finally:
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


@contextlib.contextmanager
def _throwaway_database(backend: str) -> Iterator[ServerDatabase]:
    server = _server_url(backend)
    if server is None:
        _unavailable(f"{backend} tests left out: {_SERVER_URL_ENV[backend]} is empty")
    if backend == "postgresql" and not server.database:
        server = server.set(database="postgres")
    maintenance = _admin_engine(server, backend)
    name = f"llmtrace_test_{secrets.token_hex(4)}"
    try:
        with maintenance.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    except (sa.exc.DBAPIError, ImportError) as exc:
        maintenance.dispose()
        where = server.render_as_string(hide_password=True)
        # The driver's own message, first line: SQLAlchemy's wrapping adds several more.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _unavailable(f"{backend} server at {where} unavailable: {reason}")
    url = server.set(database=name)
    database = ServerDatabase(backend=backend, url=url, admin=_admin_engine(url, backend))
    try:
        yield database
    finally:
        database.admin.dispose()
        with maintenance.connect() as conn:
            if backend == "postgresql":
                # FORCE: a connection a test forgot to close must not keep the database alive.
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        maintenance.dispose()


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[ServerDatabase]:
    """The session's throwaway PostgreSQL database (not emptied; prefer ``postgresql_url``)."""
    with _throwaway_database("postgresql") as database:
        yield database


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[ServerDatabase]:
    """The session's throwaway MySQL/MariaDB database (not emptied; prefer ``mysql_url``)."""
    with _throwaway_database("mysql") as database:
        yield database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new SQLite file database."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def postgresql_url(postgresql_database: ServerDatabase) -> str:
    """URL of an empty PostgreSQL database (skips or fails when the server is unavailable)."""
    postgresql_database.empty()
    return _render(postgresql_database.url)


@pytest.fixture
def mysql_url(mysql_database: ServerDatabase) -> str:
    """URL of an empty MySQL/MariaDB database (skips or fails when the server is unavailable)."""
    mysql_database.empty()
    return _render(mysql_database.url)


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of an empty database, once per backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(scope="session")
def _sqlite_head_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmtrace.store import migrate

    path = tmp_path_factory.mktemp("sqlite-head") / "head.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, _sqlite_head_template: Path) -> str:
    """URL of a new SQLite file database at the schema head (a copy of a migrated template)."""
    path = tmp_path / "test.db"
    shutil.copyfile(_sqlite_head_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def migrated_postgresql_url(postgresql_database: ServerDatabase) -> str:
    """URL of a PostgreSQL database at the schema head with empty tables."""
    postgresql_database.reset_to_head()
    return _render(postgresql_database.url)


@pytest.fixture
def migrated_mysql_url(mysql_database: ServerDatabase) -> str:
    """URL of a MySQL/MariaDB database at the schema head with empty tables."""
    mysql_database.reset_to_head()
    return _render(mysql_database.url)


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def migrated_db_url(request: pytest.FixtureRequest) -> str:
    """URL of a database at the schema head with empty tables, once per backend."""
    url: str = request.getfixturevalue(f"migrated_{request.param}_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """A plain engine on ``db_url`` (no store pragmas), disposed after the test."""
    engine = sa.create_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def migrated_engine(migrated_db_url: str) -> Iterator[sa.Engine]:
    """A plain engine on ``migrated_db_url``, disposed after the test."""
    engine = sa.create_engine(migrated_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql", "rest"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same `Store` calls on every implementation: a `SqlStore` on each backend, and a
    `RestStore` on a live llmtrace server (over SQLite) on loopback."""
    if request.param == "rest":
        from tests.server.conftest import start_server

        live = start_server(
            request.getfixturevalue("migrated_sqlite_url"), artifacts=str(tmp_path / "artifacts")
        )
        try:
            with RestStore(live.url) as rest:
                yield rest
        finally:
            live.stop()
        return
    sql = SqlStore(request.getfixturevalue(f"migrated_{request.param}_url"))
    try:
        yield sql
    finally:
        sql.close()


_SERVER_FIXTURES = frozenset(
    f"{prefix}{backend}_{suffix}"
    for prefix in ("", "migrated_")
    for backend in ("postgresql", "mysql")
    for suffix in ("url", "database")
)


def _needs_server(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & _SERVER_FIXTURES:
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    names = ("db_url", "migrated_db_url", "any_store")
    return any(params.get(name, "sqlite") not in ("sqlite", "rest") for name in names)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need a database server as ``backends``."""
    for item in items:
        if _needs_server(item):
            item.add_marker(pytest.mark.backends)
