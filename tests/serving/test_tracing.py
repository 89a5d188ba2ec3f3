"""Each invocation is a trace in the store, with the model's name, version and URI."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

import llmtrace
from llmtrace.serving import TRACE_ID_HEADER
from llmtrace.tracing import _runtime, trace
from tests.serving.conftest import Identity, LiveApp, Moody, Registered

Start = Callable[..., LiveApp]

MODEL_ATTRIBUTES = {
    "llmtrace.model.name": "support-bot",
    "llmtrace.model.version": "3",
    "llmtrace.model.uri": "models:/support-bot/3",
}


def stored() -> list[llmtrace.Trace]:
    assert llmtrace.flush(10)
    page = llmtrace.get_store().search_traces(order_by="start_time asc", limit=100)
    return [llmtrace.get_trace(t.trace_id) for t in page]


def test_invocation_is_a_trace_with_model_attributes(traces_db: str, scoring_server: Start) -> None:
    live = scoring_server(Registered())
    r = live.post_json({"inputs": ["hello"], "params": {"temperature": 0}})
    assert r.status_code == 200
    [t] = stored()
    assert r.headers[TRACE_ID_HEADER] == t.info.trace_id
    assert t.info.name == "invocations"
    assert t.info.status == "OK"
    assert t.info.metadata == MODEL_ATTRIBUTES
    assert t.info.tags == {"llmtrace.serving": "true"}
    [root] = t.spans
    assert root.span_type == "CHAIN"
    assert {k: root.attributes[k] for k in MODEL_ATTRIBUTES} == MODEL_ATTRIBUTES
    assert root.inputs == {"inputs": ["hello"], "params": {"temperature": 0}}
    assert root.outputs == ["hello"]
    # Searchable by model, as a reviewer would filter production traffic.
    page = llmtrace.search_traces("metadata.`llmtrace.model.name` = 'support-bot'")
    assert [x.trace_id for x in page] == [t.info.trace_id]


def test_model_spans_nest_under_the_invocation(traces_db: str, scoring_server: Start) -> None:
    class Chain:
        registered_name = "chain"

        @trace
        def retrieve(self, q: str) -> list[str]:
            return [q.upper()]

        def predict(self, data: Any, params: Any = None) -> Any:
            return self.retrieve(data)

    live = scoring_server(Chain())
    assert live.post_json({"inputs": "q"}).json() == {"predictions": ["Q"]}
    [t] = stored()
    [root] = [s for s in t.spans if s.parent_span_id is None]
    child = next(s for s in t.spans if s.name != "invocations")
    assert child.parent_span_id == root.span_id
    assert t.info.span_count == 2


def test_model_errors_are_error_traces(traces_db: str, scoring_server: Start) -> None:
    live = scoring_server(Moody(), model_name="moody")
    crash = live.post_json({"inputs": "crash"})
    invalid = live.post_json({"inputs": "invalid"})
    assert (crash.status_code, invalid.status_code) == (500, 400)
    traces = stored()
    assert [t.info.status for t in traces] == ["ERROR", "ERROR"]
    assert crash.headers[TRACE_ID_HEADER] == traces[0].info.trace_id
    root = traces[0].spans[0]
    assert "RuntimeError: the GPU caught fire" in (root.status_message or "")
    assert traces[0].info.metadata == {"llmtrace.model.name": "moody"}


def test_csv_inputs_are_previewed(traces_db: str, scoring_server: Start) -> None:
    live = scoring_server(Identity())
    r = live.client.post(
        "/invocations", content=b"a,b\n1,x\n", headers={"content-type": "text/csv"}
    )
    assert r.json() == {"predictions": [{"a": 1, "b": "x"}]}
    [t] = stored()
    preview = t.spans[0].inputs
    assert preview["__dataframe__"]["columns"] == ["a", "b"]
    assert preview["head"] == [{"a": 1, "b": "x"}]


def test_bad_requests_are_not_traced(traces_db: str, scoring_server: Start) -> None:
    live = scoring_server(Identity())
    assert live.post_json({"nope": 1}).status_code == 400
    assert live.post_json({"inputs": 1}).status_code == 200
    assert len(stored()) == 1


def test_tracing_off(traces_db: str, scoring_server: Start) -> None:
    live = scoring_server(Registered(), trace=False)
    r = live.post_json({"inputs": [1]})
    assert r.status_code == 200
    assert TRACE_ID_HEADER not in r.headers
    assert stored() == []
    assert live.client.get("/health").json()["tracing"] is False


def test_tracing_disabled_globally_still_serves(scoring_server: Start, tracing_off: None) -> None:
    live = scoring_server(Registered())  # trace=True, but the runtime is disabled
    r = live.post_json({"inputs": [1]})
    assert r.json() == {"predictions": [1]}
    assert TRACE_ID_HEADER not in r.headers


def test_a_broken_store_never_fails_a_request(
    scoring_server: Start, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    # A store that cannot be opened: spans fail to export in the background only.
    (tmp_path / "dir.db").mkdir()
    llmtrace.configure(store=f"sqlite:///{tmp_path / 'dir.db'}", flush_interval=0.05)
    try:
        live = scoring_server(Identity())
        for i in range(3):
            assert live.post_json({"inputs": i}).json() == {"predictions": i}
        time.sleep(0.3)  # a few export attempts have failed by now
        assert live.post_json({"inputs": "still"}).json() == {"predictions": "still"}
    finally:
        llmtrace.shutdown(timeout=0.5)  # do not wait for the retries of the broken store
        _runtime.reset()


def test_inputs_payload_is_the_request_json(traces_db: str, scoring_server: Start) -> None:
    live = scoring_server(Identity())
    split = {"dataframe_split": {"columns": ["q"], "data": [["hi"]]}}
    live.post_json(split)
    [t] = stored()
    assert t.spans[0].inputs == split
    assert json.loads(t.info.output_preview or "null") == [{"q": "hi"}]
