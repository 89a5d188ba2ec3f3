"""`llmtrace.configure(store="http://host:port")`: spans travel over OTLP to the server's ingest
route, queries go through the REST API (`RestStore`), the API key rides on both."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import llmtrace
from llmtrace._config import Settings
from llmtrace.exceptions import NotFoundError
from llmtrace.store import RestStore
from llmtrace.store._rest import AuthenticationError
from llmtrace.tracing import _runtime
from tests.server.conftest import LiveServer

_SETTINGS_ENV = [f.metadata["env"] for f in dataclasses.fields(Settings) if f.metadata.get("env")]


@pytest.fixture(autouse=True)
def clean_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in [*_SETTINGS_ENV, "LLMTRACE_API_KEY", "OTEL_EXPORTER_OTLP_HEADERS"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    yield
    _runtime.reset()


@llmtrace.trace(name="answer")
def answer(question: str) -> str:
    with llmtrace.span("retrieve", span_type="RETRIEVER") as step:
        step.set_outputs(["doc-1"])
    return f"42 ({question})"


def test_traces_go_over_otlp_and_queries_over_rest(server: LiveServer) -> None:
    llmtrace.configure(store=server.url, project="remote-app", flush_interval=0.05)
    assert answer("why?") == "42 (why?)"
    assert llmtrace.flush(10)

    assert isinstance(llmtrace.get_store(), RestStore)
    page = llmtrace.search_traces(project="remote-app")
    assert [t.name for t in page] == ["answer"]
    trace = llmtrace.get_trace(page[0].trace_id)
    assert [(depth, s.name) for depth, s in trace.walk()] == [(0, "answer"), (1, "retrieve")]
    assert trace.root is not None and trace.root.outputs == "42 (why?)"
    assert trace == server.store.get_trace(page[0].trace_id)  # what the server stored

    assert llmtrace.delete_traces(project="remote-app") == 1
    with pytest.raises(NotFoundError):
        llmtrace.get_trace(page[0].trace_id)


def test_the_api_key_goes_with_spans_and_queries(
    live_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    live = live_server(auth=True)
    _, secret = live.store.create_api_key("app")
    monkeypatch.setenv("LLMTRACE_API_KEY", secret)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=ml")
    llmtrace.configure(store=live.url, project="keyed", flush_interval=0.05)
    answer("with a key")
    assert llmtrace.flush(10)
    assert [t.name for t in live.store.search_traces(project="keyed")] == ["answer"]
    assert [t.name for t in llmtrace.search_traces(project="keyed")] == ["answer"]

    # Without the key the server refuses both paths; the program itself never fails.
    monkeypatch.delenv("LLMTRACE_API_KEY")
    llmtrace.configure(store=live.url, project="anonymous", flush_interval=0.05)
    assert answer("no key") == "42 (no key)"
    llmtrace.flush(10)
    assert live.store.search_traces(project="anonymous") == []
    with pytest.raises(AuthenticationError, match="401"):
        llmtrace.search_traces()


def test_the_exporter_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _runtime._server_headers(None) is None  # no key: the exporter's own env handling
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=ml,Authorization=Basic%20abc")
    assert _runtime._server_headers("llmt_secret") == {
        "x-team": "ml",
        "authorization": "Bearer llmt_secret",
    }


def test_configure_api_key_argument(live_server: Callable[..., LiveServer]) -> None:
    live = live_server(auth=True)
    _, secret = live.store.create_api_key("app")
    settings = llmtrace.configure(
        store=live.url, api_key=secret, project="arg", flush_interval=0.05
    )
    assert secret not in repr(settings)  # never printed with the settings
    answer("with an argument")
    assert llmtrace.flush(10)
    assert [t.name for t in llmtrace.search_traces(project="arg")] == ["answer"]
