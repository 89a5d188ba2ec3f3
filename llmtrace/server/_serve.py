"""Run the server under uvicorn, in this process or in N worker processes.

With `workers > 1`, uvicorn's supervisor spawns N processes that each build the app from the
same config and share the HTTP socket; they share nothing else but the database and the
artifact store. A gRPC port cannot be shared that way, so the OTLP/gRPC receiver then runs
once, in the supervising process, with its own ingest queue on the same database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from types import FrameType

from fastapi import FastAPI

from llmtrace.server._app import CONFIG_ENV, config_to_env, create_app
from llmtrace.server._config import ServerConfig
from llmtrace.store import SqlStore

# Seconds in-flight requests get to finish after SIGTERM/SIGINT before connections are closed.
GRACEFUL_SHUTDOWN_S = 15


def check_port(host: str, port: int, what: str = "HTTP") -> None:
    """Raise `OSError` with a clear message when nothing can listen on `host:port` (in use,
    no such address). Port 0 (any free port) always passes.

    Example:
        >>> check_port("127.0.0.1", 5000)
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # What uvicorn sets too: a port in TIME_WAIT is free, one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            message = f"cannot listen for {what} on {host}:{port}: {reason}"
            raise OSError(exc.errno, message) from exc


def run_server(config: ServerConfig) -> None:
    """Serve until SIGINT or SIGTERM (both stop gracefully and return normally).

    Checks the ports and opens (and migrates) the store first, so that a port in use or an
    unreachable database raises here (`OSError`, `ConfigError`, SQLAlchemy errors) rather
    than in a worker.

    Example:
        >>> run_server(ServerConfig(store="postgresql+psycopg://db/llmtrace", workers=4))
    """
    import uvicorn

    check_port(config.host, config.port)
    if config.grpc_port is not None:
        check_port(config.host, config.grpc_port, "OTLP/gRPC")
    with _sigterm_as_interrupt():
        if config.workers == 1:
            uvicorn.run(
                create_app(config),
                host=config.host,
                port=config.port,
                log_level="info",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
            return
        # Migrate once here; the workers then find the schema at head.
        SqlStore(config.store).close()
        os.environ[CONFIG_ENV] = config_to_env(replace(config, grpc_port=None))
        grpc = nullcontext() if config.grpc_port is None else _lifespan(create_app(config))
        with grpc:
            uvicorn.run(
                "llmtrace.server._app:app_from_env",
                factory=True,
                host=config.host,
                port=config.port,
                workers=config.workers,
                log_level="info",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )


@contextmanager
def _lifespan(app: FastAPI) -> Iterator[None]:
    """Run `app`'s startup and shutdown here, without serving HTTP: for the supervising
    process, where it starts the ingest writer and the gRPC receiver (their own threads)."""
    loop = asyncio.new_event_loop()
    lifespan = app.router.lifespan_context(app)
    try:
        loop.run_until_complete(lifespan.__aenter__())
        try:
            yield
        finally:
            loop.run_until_complete(lifespan.__aexit__(None, None, None))
    finally:
        loop.close()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C while serving: uvicorn shuts down gracefully, then raises
    the signal again, which would otherwise kill the process instead of returning."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # uvicorn's multi-process supervisor installs its own handlers and leaves them behind.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["GRACEFUL_SHUTDOWN_S", "check_port", "run_server"]
