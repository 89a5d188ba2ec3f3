"""Pooled server connections without `pool_pre_ping`'s round trip: a connection that died in
the pool (its server process ended, as in a restart) is replaced on checkout, a connection
idle for longer than `IDLE_PING_S` is pinged, and an unreachable server is still a clear
error."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from llmtrace.store import SqlStore, _engine
from llmtrace.store._engine import create_engine

_SERVERS = ["postgresql", "mysql"]
_PID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
_KILL = {"postgresql": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}


@pytest.fixture(params=_SERVERS, ids=_SERVERS)
def server_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"migrated_{request.param}_url")
    return url


class _Pings:
    """Counts the dialect's pings of one engine (wraps `do_ping` on that dialect only)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        ping = engine.dialect.do_ping

        def counted(dbapi_conn: Any) -> bool:
            self.count += 1
            return ping(dbapi_conn)

        setattr(engine.dialect, "do_ping", counted)  # noqa: B010 (an instance attribute)


def _kill_pooled(engine: sa.Engine, admin: sa.Engine, backend: str, n: int) -> list[int]:
    """End the server sessions of `n` pooled connections of `engine`; their ids."""
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(engine.connect()) for _ in range(n)]
        pids = [c.exec_driver_sql(_PID[backend]).scalar_one() for c in conns]
    with admin.connect() as conn:
        for pid in pids:
            conn.exec_driver_sql(_KILL[backend].format(pid))
    # The server ends them asynchronously: wait until they are gone.
    q = {
        "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE pid IN ({})",
        "mysql": "SELECT count(*) FROM information_schema.processlist WHERE id IN ({})",
    }[backend].format(", ".join(str(p) for p in pids))
    deadline = time.monotonic() + 10
    with admin.connect() as conn:
        while conn.exec_driver_sql(q).scalar_one():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    return pids


@pytest.fixture
def admin(server_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def test_connections_that_died_in_the_pool_are_replaced(server_url: str, admin: sa.Engine) -> None:
    store = SqlStore(server_url, pool_size=2, max_overflow=0)
    try:
        backend = store.engine.dialect.name
        pings = _Pings(store.engine)
        exp_id = store.create_experiment("e", artifact_location="/a")
        run_id = store.create_run(exp_id).run_id
        store.log_param(run_id, "before", 1)
        killed = _kill_pooled(store.engine, admin, backend, 2)
        # Every path: the one-statement writes (driver connection), a transaction, reads.
        store.log_param(run_id, "after", 2)
        store.log_metric(run_id, "m", 1.0)
        store.log_batch(run_id, params={"x": 1, "y": 2}, tags={"t": "v"})
        assert store.get_run(run_id).params == {"before": "1", "after": "2", "x": "1", "y": "2"}
        assert len(store.search_runs([exp_id])) == 1
        assert pings.count >= 1  # the dead connection was noticed and pinged, then dropped
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql(_PID[backend]).scalar_one() not in killed
    finally:
        store.close()


def test_a_live_connection_is_not_pinged_unless_idle_long(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(server_url, pool_size=1, max_overflow=0)
    try:
        pings = _Pings(engine)
        for _ in range(5):
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        assert pings.count == 0
        monkeypatch.setattr(_engine, "IDLE_PING_S", 0.0)
        time.sleep(0.01)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert pings.count == 1
    finally:
        engine.dispose()


def test_pool_pre_ping_when_asked_for(server_url: str) -> None:
    """`pool_pre_ping=True` given by the caller is SQLAlchemy's own, without the checkout
    watch."""
    engine = create_engine(server_url, pool_pre_ping=True)
    try:
        assert engine.pool._pre_ping
        assert not engine.pool.dispatch.checkout
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
    engine = create_engine(server_url)
    try:
        assert not engine.pool._pre_ping
        assert engine.pool.dispatch.checkout
    finally:
        engine.dispose()


def test_an_unreachable_server_is_a_clear_error() -> None:
    store = SqlStore("postgresql://postgres@127.0.0.1:1/nowhere", migrate=False)
    try:
        with pytest.raises(sa.exc.OperationalError, match=re.escape("127.0.0.1")):
            store.log_param("0" * 32, "k", "v")
    finally:
        store.close()
