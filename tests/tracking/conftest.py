"""Fixtures for tracking tests: the tracing fixtures, a `tracking` fixture (tracing and runs
into one temporary SQLite store, artifacts in a temporary folder), and a real S3-compatible
server (moto) on loopback."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmtrace.tracking import _fluent
from tests.tracing.conftest import configure_tracing, traced

__all__ = ["configure_tracing", "reset_fluent_state", "traced"]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on 127.0.0.1 (a free port), with dummy credentials in the
    environment for the whole session. Skips when moto is not installed."""
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[tuple[str, Any]]:
    """A fresh bucket on the moto server: (bucket name, boto3 client)."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"llmtrace-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=name)
    yield name, client


@pytest.fixture
def tracking(
    configure_tracing: Callable[..., str],
    migrated_sqlite_url: str,
    tmp_path: Path,
) -> Iterator[str]:
    """Tracing and tracking into a migrated temporary SQLite file, artifacts under
    `tmp_path/artifacts`; yields the store URL. Fluent state is reset afterwards."""
    url = configure_tracing(store=migrated_sqlite_url, artifacts=str(tmp_path / "artifacts"))
    yield url
    reset_fluent_state()


def reset_fluent_state() -> None:
    """End runs a test left active (KILLED) and forget `set_experiment`."""
    while _fluent.active_run() is not None:
        try:
            _fluent.end_run("KILLED")
        except Exception:
            _fluent._STACK.set(_fluent._STACK.get()[:-1])
    _fluent._experiment = None
