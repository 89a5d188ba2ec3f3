"""Engine creation: URL normalisation, driver checks and per-backend connection settings."""

from __future__ import annotations

import importlib.util
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from llmtrace.exceptions import ConfigError

# Default drivers for bare scheme names, and the extra that installs each.
_DRIVERS = {
    "postgresql": ("psycopg", "psycopg", "postgres"),
    "postgres": ("psycopg", "psycopg", "postgres"),
    "mysql": ("pymysql", "pymysql", "mysql"),
    "mariadb": ("pymysql", "pymysql", "mysql"),
}
_EXTRA_BY_MODULE = {"psycopg": "postgres", "psycopg2": "postgres", "pymysql": "mysql"}

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> URL:
    """Parse `url`, choosing llmtrace's default driver for bare `postgresql://`/`mysql://`."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError; the message is clear enough
        raise ConfigError(f"invalid store URL {url!r}: {exc}") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if not driver and backend in _DRIVERS:
        driver = _DRIVERS[backend][0]
        backend = "postgresql" if backend.startswith("postgres") else "mysql"
        parsed = parsed.set(drivername=f"{backend}+{driver}")
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise ConfigError(
            f"unsupported store URL {url!r}: use sqlite:///file.db, postgresql://... or mysql://..."
        )
    module = driver or ("sqlite3" if backend == "sqlite" else "")
    if module and importlib.util.find_spec(module) is None:
        extra = _EXTRA_BY_MODULE.get(module, "all")
        raise ConfigError(
            f"the store URL needs the {module!r} driver: pip install 'llmtrace[{extra}]'"
        )
    return parsed


# Execution option naming how a SQLite transaction begins. Writers ask for IMMEDIATE so that
# their read-modify-write of trace rollups happens under the write lock; readers stay DEFERRED.
SQLITE_BEGIN = "llmtrace_sqlite_begin"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN cannot be
    # made IMMEDIATE per transaction).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        # WAL lets readers (dashboard, CLI) run while the exporter writes; NORMAL sync is the
        # usual WAL pairing (durable across application crashes, not across power loss).
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
    finally:
        cur.close()


def create_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An Engine for any supported store URL, with WAL and a busy timeout on SQLite.

    On PostgreSQL and MySQL/MariaDB pooled connections are checked cheaply on checkout (see
    `IDLE_PING_S`); a connection that died in the pool is replaced transparently.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {}
    if backend == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        options["connect_args"] = {
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
        }
        if in_memory:
            options["poolclass"] = StaticPool
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        options["pool_recycle"] = 3600
    options.update(kwargs)
    engine = sa.create_engine(parsed, **options)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    elif not options.get("pool_pre_ping"):
        _watch_liveness(engine)
    return engine


# --- liveness of pooled server connections ------------------------------------------------------
#
# SQLAlchemy's `pool_pre_ping` costs a round trip (~120 µs on PostgreSQL here) on every checkout,
# as much as a whole one-statement `log_metric`. A pooled connection that died while it sat in
# the pool (server restart, `pg_terminate_backend`, MySQL's wait_timeout) has, in practice, a
# readable socket: the server's "terminating connection" message or the peer's FIN. So the
# checkout asks the kernel instead (poll with a zero timeout, a few µs) and pings for real only
# when the socket is readable or the connection sat idle longer than `IDLE_PING_S` (where a
# firewall may have dropped it silently). A failed ping invalidates the pool's connections, and
# the checkout connects afresh, as `pool_pre_ping` would. `pool_pre_ping=True` given to
# `create_engine` keeps SQLAlchemy's own pre-ping instead.

#: A pooled connection idle for longer than this is pinged before use (seconds).
IDLE_PING_S = 30.0
_CHECKED_IN_AT = "llmtrace_checked_in_at"


def _socket_of(dbapi_conn: Any) -> int | None:
    """The connection's socket descriptor (psycopg, psycopg2: fileno(); PyMySQL: _sock)."""
    try:
        if hasattr(dbapi_conn, "fileno"):
            return int(dbapi_conn.fileno())
        sock = getattr(dbapi_conn, "_sock", None)
        return None if sock is None else int(sock.fileno())
    except Exception:  # closed, or a driver without a socket we can see
        return None


def _readable(fd: int) -> bool:
    """Whether the socket has data, EOF or an error pending (never blocks)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    readable, _, failed = select.select([fd], [], [fd], 0)  # Windows: sockets only, as here
    return bool(readable or failed)


def _watch_liveness(engine: sa.Engine) -> None:
    dialect = engine.dialect

    def checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_CHECKED_IN_AT, None)
        if since is None:  # a new connection: it just talked to the server
            return
        fd = _socket_of(dbapi_conn)
        idle = time.monotonic() - since
        if fd is not None and idle <= IDLE_PING_S and not _readable(fd):
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool drops this connection (and the others of its age: a restarted server
            # lost them all) and checks out a new one; connecting raises if the server is down.
            raise sa.exc.InvalidatePoolError(f"pooled connection is dead: {exc}") from exc

    sa.event.listen(engine, "checkin", checkin)
    sa.event.listen(engine, "checkout", checkout)


def _sqlite_begin(conn: sa.Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that reads then writes: on SQLite it takes the write lock
    at BEGIN (IMMEDIATE), so that another writer committing in between cannot make the
    upgrade from reader to writer fail (SQLITE_BUSY); elsewhere rows are locked with
    `SELECT ... FOR UPDATE`."""
    with engine.connect() as conn:
        conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with conn.begin():
            yield conn


__all__ = ["IDLE_PING_S", "SQLITE_BEGIN", "create_engine", "normalize_url", "write_connection"]
