"""Traces started inside a run carry its id; `search_traces("run_id = '...'")` finds them."""

from __future__ import annotations

import pytest

import llmtrace
from tests.tracing.conftest import stored_traces


@llmtrace.trace(span_type="RETRIEVER")
def retrieve(query: str) -> list[str]:
    return ["doc-1", "doc-2"]


@llmtrace.trace
def answer(question: str) -> str:
    retrieve(question)
    with llmtrace.span("generate", span_type="CHAT_MODEL"):
        pass
    return "42"


def _trace_names(filter: str) -> list[str]:
    return [t.info.name for t in stored_traces(filter)]


def test_traces_inside_a_run_are_linked_to_it(tracking: str) -> None:
    answer("outside, before")
    with llmtrace.start_run(name="eval") as run:
        answer("q1")
        answer("q2")
        with llmtrace.start_run(name="child", nested=True) as child:
            answer("in child")
        answer("q3")
    answer("outside, after")

    linked = stored_traces(f"run_id = '{run.run_id}'")
    assert len(linked) == 3
    assert {t.info.name for t in linked} == {"answer"}
    assert all(len(t.spans) == 3 for t in linked)
    assert len(stored_traces(f"run_id = '{child.run_id}'")) == 1
    assert len(stored_traces("run_id is null")) == 2
    assert len(stored_traces()) == 6


def test_a_failed_run_keeps_its_traces(tracking: str) -> None:
    with pytest.raises(RuntimeError), llmtrace.start_run() as run:
        answer("q")
        raise RuntimeError("evaluation crashed")
    assert _trace_names(f"run_id = '{run.run_id}'") == ["answer"]
    assert llmtrace.get_run(run.run_id).info.status == "FAILED"


def test_worker_threads_link_through_the_context_executor(tracking: str) -> None:
    with llmtrace.start_run() as run, llmtrace.ContextThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(answer, ["a", "b", "c"]))
    assert len(stored_traces(f"run_id = '{run.run_id}'")) == 3


def test_trace_defaults_of_the_caller_are_kept(tracking: str) -> None:
    with llmtrace.trace_defaults(session_id="chat-1"), llmtrace.start_run() as run:
        answer("q")
    (linked,) = stored_traces(f"run_id = '{run.run_id}' and session_id = 'chat-1'")
    assert linked.info.name == "answer"
