"""Fixtures for serving tests: scoring servers under uvicorn on loopback, hand-written models.

Fixtures
    ``scoring_server``  a factory: ``scoring_server(model, **create_app_kwargs)`` starts
        ``llmtrace.serving.create_app(model, ...)`` under uvicorn in a thread on a free
        127.0.0.1 port and returns a `LiveApp` (``.url``, ``.client``); stopped after the test.
    ``traces_db``  tracing configured into a temporary SQLite file (flushed quickly); the
        runtime is reset afterwards. Yields the store URL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn

import llmtrace
from llmtrace.exceptions import InvalidParameterError
from llmtrace.serving import create_app
from llmtrace.tracing import _runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(
    url: str, timeout: float = 20.0, alive: Callable[[], bool] = lambda: True
) -> None:
    """Poll `url/ping` until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server process exited during startup")
        try:
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer /ping within {timeout} s")


@dataclass
class LiveApp:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    client: httpx.Client

    def post_json(self, payload: Any) -> httpx.Response:
        return self.client.post("/invocations", json=payload)

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def scoring_server() -> Iterator[Callable[..., LiveApp]]:
    started: list[LiveApp] = []

    def factory(model: Any, **kwargs: Any) -> LiveApp:
        port = free_port()
        app = create_app(model, **kwargs)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name=f"scoring-{port}", daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, alive=thread.is_alive)
        live = LiveApp(url, server, thread, httpx.Client(base_url=url, timeout=10))
        started.append(live)
        return live

    yield factory
    for live in reversed(started):
        live.stop()


@pytest.fixture
def traces_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    for var in ("LLMTRACE_STORE", "LLMTRACE_SAMPLE_RATE", "LLMTRACE_ENABLED"):
        monkeypatch.delenv(var, raising=False)
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    llmtrace.configure(store=url, flush_interval=0.05)
    yield url
    _runtime.reset()


@pytest.fixture
def tracing_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No spans anywhere (for tests that are not about tracing): never the user's home store."""
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    llmtrace.configure(store=f"sqlite:///{tmp_path / 'unused.db'}", enabled=False)
    yield
    _runtime.reset()


# --- models ------------------------------------------------------------------------------------


class Recorder:
    """Reports what `predict` received: the type and shape of data, and the params."""

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        seen: dict[str, Any] = {"type": type(data).__name__, "params": params}
        if isinstance(data, pd.DataFrame):
            seen["columns"] = [str(c) for c in data.columns]
            seen["index"] = data.index.tolist()
            seen["records"] = data.to_dict(orient="records")
            seen["dtypes"] = [str(t) for t in data.dtypes]
        else:
            seen["value"] = data
        return seen


class Identity:
    """Returns its input: the benchmark's model too."""

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        return data


class DataOnly:
    """A model whose predict takes no params at all."""

    def predict(self, data: Any) -> Any:
        return {"n": len(data)}


class Moody:
    """Fails on request: "crash" raises RuntimeError, "invalid" an InvalidParameterError."""

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        if data == "crash":
            raise RuntimeError("the GPU caught fire")
        if data == "invalid":
            raise InvalidParameterError("column 'question' is required (string)")
        if data == "unserializable":
            return {"handle": object()}
        return {"ok": data}


class Scientific:
    """Returns pandas and numpy values, NaN included."""

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        kind = data
        if kind == "frame":
            return pd.DataFrame({"a": [1.5, float("nan")], "b": ["x", None]})
        if kind == "series":
            return pd.Series([1, 2, 3], dtype="int64")
        if kind == "array":
            return np.array([[1.0, np.nan], [np.inf, 2.0]])
        if kind == "scalars":
            return {
                "f32": np.float32(0.5),
                "i64": np.int64(7),
                "bool": np.bool_(True),
                "when": pd.Timestamp("2026-01-02T03:04:05"),
                "na": pd.NA,
                "strings": np.array(["a", "b"], dtype=object),
            }
        raise ValueError(f"unknown kind {kind!r}")


class Registered(Identity):
    """Carries the attributes a model loaded from `models:/` has."""

    registered_name = "support-bot"
    registered_version = 3
    model_uri = "models:/support-bot/3"
