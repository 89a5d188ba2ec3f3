"""`llmtrace models serve` as a real process: a saved model answers over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmtrace import models
from llmtrace.store import SqlStore
from tests.serving.conftest import free_port, wait_until_up


@pytest.fixture
def saved_model(tmp_path: Path) -> Path:
    def shout(data: Any, params: Any = None) -> Any:  # nested: pickled by value
        suffix = (params or {}).get("suffix", "!")
        return [str(q).upper() + suffix for q in data]

    folder = tmp_path / "shout"
    models.save_model(folder, shout)
    return folder


@pytest.fixture
def start_cli(tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, module: str = "llmtrace", **extra_env: str) -> str:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTRACE_")}
        env["LLMTRACE_HOME"] = str(tmp_path / "home")
        env.update(extra_env)
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, timeout=30, alive=lambda: proc.poll() is None)
        except RuntimeError:
            proc.kill()
            output = proc.communicate(timeout=10)[0].decode(errors="replace")
            raise RuntimeError(f"llmtrace models serve did not start:\n{output}") from None
        return url

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_serve_a_saved_model_with_tracing(
    saved_model: Path, tmp_path: Path, start_cli: Any
) -> None:
    store_url = f"sqlite:///{tmp_path / 'traces.db'}"
    url = start_cli("--store", store_url, "models", "serve", "-m", str(saved_model))
    r = httpx.post(url + "/invocations", json={"inputs": ["hi", "yo"], "params": {"suffix": "?"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": ["HI?", "YO?"]}
    health = httpx.get(url + "/health").json()
    assert health["status"] == "ok"
    assert health["model"]["uri"] == str(saved_model)
    trace_id = r.headers["x-llmtrace-trace-id"]
    store = SqlStore(store_url)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the server's export thread writes every 0.5 s
            found = store.search_traces(limit=10)
            if len(found):
                break
            time.sleep(0.1)
        assert [t.trace_id for t in found] == [trace_id]
        assert store.get_trace(trace_id).info.metadata["llmtrace.model.uri"] == str(saved_model)
    finally:
        store.close()


def test_serve_with_two_workers_and_no_tracing(saved_model: Path, start_cli: Any) -> None:
    url = start_cli("models", "serve", "-m", str(saved_model), "--workers", "2", "--no-trace")
    for _ in range(4):
        r = httpx.post(url + "/invocations", json={"inputs": ["a"]})
        assert r.json() == {"predictions": ["A!"]}
        assert "x-llmtrace-trace-id" not in r.headers


def test_container_entrypoint_takes_the_sagemaker_serve_argument(
    saved_model: Path, start_cli: Any
) -> None:
    # What the generated Dockerfile runs (there on 0.0.0.0:8080), settings from the environment.
    url = start_cli(
        "--host",
        "127.0.0.1",
        "serve",
        module="llmtrace.serving",
        LLMTRACE_SERVING_MODEL=str(saved_model),
        LLMTRACE_SERVING_TRACE="false",
    )
    assert httpx.get(url + "/ping").status_code == 200
    assert httpx.get(url + "/health").json()["tracing"] is False
    r = httpx.post(url + "/invocations", json={"instances": ["sage"]})
    assert r.json() == {"predictions": ["SAGE!"]}


def test_serve_unknown_model_is_one_error_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTRACE_")}
    env["LLMTRACE_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-m", "llmtrace", "models", "serve", "-m", str(tmp_path / "missing"),
         "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "error:" in done.stderr
    assert "Traceback" not in done.stderr


def test_signature_errors_of_a_saved_model_are_400(
    tmp_path: Path, scoring_server: Any, tracing_off: None
) -> None:
    def answer(df: Any) -> list[str]:
        return [f"answer to {q}" for q in df["question"]]

    folder = tmp_path / "rag"
    models.save_model(folder, answer, input_example={"question": "q"})
    live = scoring_server(models.load_model(folder))
    good = live.post_json({"dataframe_records": [{"question": "why?"}]})
    assert good.json() == {"predictions": ["answer to why?"]}, good.text
    bad = live.post_json({"dataframe_records": [{"query": "why?"}]})
    assert bad.status_code == 400, bad.text
    error = bad.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert "question" in error["message"]
    split = live.post_json({"inputs": {"question": ["a", "b"]}})
    assert split.json() == {"predictions": ["answer to a", "answer to b"]}, split.text
