"""Fixtures for server tests: a real uvicorn server on a loopback port, over a real database.

Fixtures
    ``live_server``  a factory: ``live_server(store_url, **config)`` starts
        ``llmtrace.server.create_app(ServerConfig(store=store_url, **config))`` under uvicorn in
        a thread on a free 127.0.0.1 port and returns a `LiveServer` (``.url``, ``.app``,
        ``.config``, ``.store``); stopped (and its store closed) after the test.
    ``server``  a `LiveServer` on ``migrated_db_url`` (SQLite, PostgreSQL, MariaDB).
    ``sqlite_server``  the same on SQLite only, for tests that are not about the backend.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from llmtrace.server import ServerConfig, create_app
from llmtrace.store import SqlStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    config: ServerConfig
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def store(self) -> SqlStore:
        store: SqlStore = self.app.state.store
        return store

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(store_url: str, **config: Any) -> LiveServer:
    port = config.pop("port", None) or free_port()
    cfg = ServerConfig(store=store_url, port=port, **config)
    app = create_app(cfg)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("server thread died on startup")
        time.sleep(0.02)
    else:
        raise RuntimeError("server did not start within 20 s")
    assert httpx.get(url + "/health", timeout=5).status_code == 200
    return LiveServer(url, app, cfg, server, thread)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def factory(store_url: str | None = None, **config: Any) -> LiveServer:
        url = store_url or f"sqlite:///{tmp_path / 'server.db'}"
        config.setdefault("artifacts", str(tmp_path / "artifacts"))
        live = start_server(url, **config)
        started.append(live)
        return live

    yield factory
    for live in reversed(started):
        live.stop()


@pytest.fixture
def server(live_server: Callable[..., LiveServer], migrated_db_url: str) -> LiveServer:
    return live_server(migrated_db_url)


@pytest.fixture
def sqlite_server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server()
