"""Engine creation: URL normalisation, driver checks and per-backend connection settings."""

from __future__ import annotations

import importlib.util
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
    """An Engine for any supported store URL, with WAL and a busy timeout on SQLite."""
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
        options["pool_pre_ping"] = True
        options["pool_recycle"] = 3600
    options.update(kwargs)
    engine = sa.create_engine(parsed, **options)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: sa.Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


__all__ = ["SQLITE_BEGIN", "create_engine", "normalize_url"]
