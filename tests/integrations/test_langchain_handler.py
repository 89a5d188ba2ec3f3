"""LangChain integration: the handler's robustness (callbacks never raise, bounded run map,
orphaned runs, tracing off, sampling, heavy concurrency) and the extraction helpers."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from typing import Any
from uuid import uuid4

import pytest
from langchain_core.callbacks import CallbackManager
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AIMessageChunk, ChatMessage, HumanMessageChunk
from langchain_core.outputs import ChatGeneration, Generation, LLMResult

from llmtrace import semconv as sc
from llmtrace.integrations.langchain import LlmtraceCallbackHandler, _handler
from llmtrace.integrations.langchain import _extract as ex
from llmtrace.integrations.langchain._runs import ABANDONED_EVENT
from llmtrace.pricing import Usage
from llmtrace.semconv import SpanType
from tests.integrations.test_langchain import SEQUENCE_TREE, qa_chain
from tests.integrations.test_langchain_fakes import (
    UsageChat,
    no_callback_failures,  # noqa: F401  (a fixture)
    one_span,
    tree,
)
from tests.tracing.conftest import only_trace, stored_traces


def _abandoned(span: Any) -> list[str]:
    return [e["attributes"]["reason"] for e in span.events if e["name"] == ABANDONED_EVENT]


def test_a_failing_callback_is_logged_and_the_run_goes_on(
    traced: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(response: Any) -> Any:
        raise RuntimeError("extraction bug")

    monkeypatch.setattr(ex, "model_result", broken)
    caplog.set_level(logging.DEBUG, logger="llmtrace")
    handler = LlmtraceCallbackHandler()
    handler.raise_error = True  # LangChain would re-raise a callback error: none escapes

    assert qa_chain().invoke({"q": "hi"}, config={"callbacks": [handler]}) == "echo:hi"

    assert tree(only_trace()) == SEQUENCE_TREE
    assert any("on_llm_end failed" in r.getMessage() for r in caplog.records)
    assert len(handler._runs) == 0


def test_callbacks_accept_odd_arguments_without_raising(traced: str) -> None:
    handler = LlmtraceCallbackHandler()
    unknown = uuid4()
    handler.on_chain_end({}, run_id=unknown)
    handler.on_llm_end(None, run_id=unknown)
    handler.on_tool_error(ValueError("x"), run_id=unknown)
    handler.on_llm_new_token("t", run_id=unknown)

    run_id = uuid4()
    handler.on_chat_model_start(None, [[object(), "plain text"]], run_id=run_id)  # type: ignore[arg-type]
    handler.on_llm_new_token("t", run_id=run_id)
    handler.on_llm_end(object(), run_id=run_id)
    retriever = uuid4()
    handler.on_retriever_start({}, None, run_id=retriever)  # type: ignore[arg-type]
    handler.on_retriever_end([object()], run_id=retriever)

    spans = {s.name: s for t in stored_traces() for s in t.spans}
    assert set(spans) == {"llm", "retriever"}
    assert {s.status for s in spans.values()} == {"OK"}
    assert len(handler._runs) == 0


def test_open_runs_are_bounded(traced: str) -> None:
    handler = LlmtraceCallbackHandler(max_open_runs=2)

    def scenario() -> None:
        # Three root runs started one after the other in one context each nest under the
        # previous (the current span); ended out of order they would leave a stale span
        # current, hence a context of its own.
        manager = CallbackManager.configure(inheritable_callbacks=[handler])
        runs = [manager.on_chain_start(None, {"i": i}, name=f"run{i}") for i in range(3)]
        assert len(handler._runs) == 2
        for run in reversed(runs[1:]):
            run.on_chain_end({"ok": True})
        runs[0].on_chain_end({"late": True})  # already ended: ignored

    contextvars.copy_context().run(scenario)

    spans = {s.name: s for t in stored_traces() for s in t.spans}
    assert set(spans) == {"run0", "run1", "run2"}
    assert _abandoned(spans["run0"]) == ["too many open runs"]
    assert spans["run0"].outputs is None
    assert _abandoned(spans["run1"]) == []
    assert len(handler._runs) == 0


@pytest.mark.usefixtures("no_callback_failures")
def test_runs_left_open_end_with_their_parent(traced: str) -> None:
    handler = LlmtraceCallbackHandler()
    manager = CallbackManager.configure(inheritable_callbacks=[handler])
    parent = manager.on_chain_start(None, {}, name="parent")
    child = parent.get_child().on_chain_start(None, {}, name="child")
    child.get_child().on_chain_start(None, {}, name="grandchild")
    parent.on_chain_end({})

    trace = only_trace()
    assert tree(trace) == ("parent", "CHAIN", [("child", "CHAIN", [("grandchild", "CHAIN", [])])])
    assert _abandoned(one_span(trace, "child")) == ["parent run ended"]
    assert _abandoned(one_span(trace, "grandchild")) == ["parent run ended"]
    child_span, grandchild_span = one_span(trace, "child"), one_span(trace, "grandchild")
    assert grandchild_span.end_time <= child_span.end_time  # deepest first
    assert len(handler._runs) == 0


@pytest.mark.usefixtures("no_callback_failures")
def test_tracing_off_records_nothing(configure_tracing: Any) -> None:
    configure_tracing(enabled=False)
    handler = LlmtraceCallbackHandler()
    assert qa_chain().invoke({"q": "hi"}, config={"callbacks": [handler]}) == "echo:hi"
    assert len(handler._runs) == 0


@pytest.mark.usefixtures("no_callback_failures")
def test_sampled_out_traces_leave_no_open_runs(configure_tracing: Any) -> None:
    configure_tracing(sample_rate=0.0)
    handler = LlmtraceCallbackHandler()
    assert qa_chain().invoke({"q": "hi"}, config={"callbacks": [handler]}) == "echo:hi"
    assert len(handler._runs) == 0
    assert stored_traces() == []


@pytest.mark.usefixtures("no_callback_failures")
def test_one_handler_serves_many_threads_and_tasks(traced: str) -> None:
    handler = LlmtraceCallbackHandler()
    chain = qa_chain()
    config: Any = {"callbacks": [handler]}

    def worker(n: int) -> None:
        for i in range(3):
            assert chain.invoke({"q": f"t{n}-{i}"}, config=config) == f"echo:t{n}-{i}"

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    async def many() -> list[str]:
        return await asyncio.gather(
            *(chain.ainvoke({"q": f"a{i}"}, config=config) for i in range(12))
        )

    assert asyncio.run(many()) == [f"echo:a{i}" for i in range(12)]

    traces = stored_traces()
    assert len(traces) == 30
    for trace in traces:
        assert tree(trace) == SEQUENCE_TREE
        root = trace.root
        assert root is not None
        assert one_span(trace, "UsageChat").outputs["content"] == f"echo:{root.inputs['q']}"
    assert len(handler._runs) == 0


# --- extraction --------------------------------------------------------------------------------


def test_usage_from_metadata() -> None:
    assert ex.usage_from_metadata(None) is None
    assert ex.usage_from_metadata({"input_tokens": 3, "output_tokens": 4}) == Usage(
        input_tokens=3, output_tokens=4
    )


def test_usage_from_llm_output_shapes() -> None:
    assert ex.usage_from_llm_output(None) is None
    assert ex.usage_from_llm_output({"token_usage": {}}) is None
    openai_shape = {
        "token_usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "completion_tokens_details": {"reasoning_tokens": 2},
        }
    }
    assert ex.usage_from_llm_output(openai_shape) == Usage(
        input_tokens=10, output_tokens=5, total_tokens=15, reasoning_tokens=2
    )
    anthropic_shape = {
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
        }
    }
    # Anthropic counts cache tokens apart; llmtrace's input includes them.
    assert ex.usage_from_llm_output(anthropic_shape) == Usage(
        input_tokens=130, output_tokens=5, cached_input_tokens=100, cache_write_tokens=20
    )


def _chat_result(*usages: dict[str, int]) -> LLMResult:
    gens = [
        ChatGeneration(message=AIMessage(content=f"c{i}", usage_metadata=u))  # type: ignore[arg-type]
        for i, u in enumerate(usages)
    ]
    return LLMResult(generations=[gens])


def test_candidates_repeating_the_call_usage_count_once() -> None:
    same = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    result = ex.model_result(_chat_result(same, same))
    assert result.usage == Usage(input_tokens=5, output_tokens=2, total_tokens=7)
    assert [m["content"] for m in result.outputs] == ["c0", "c1"]
    other = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    assert ex.model_result(_chat_result(same, other)).usage == Usage(
        input_tokens=6, output_tokens=3, total_tokens=9
    )


def test_text_generations() -> None:
    result = ex.model_result(
        LLMResult(
            generations=[[Generation(text="a", generation_info={"finish_reason": "length"})]],
            llm_output={"model": "m"},
        )
    )
    assert (result.outputs, result.finish_reasons, result.response_model) == ("a", ["length"], "m")
    assert result.output_messages is None


def test_message_roles() -> None:
    assert ex.message_dict(AIMessageChunk(content="x"))["role"] == "assistant"
    assert ex.message_dict(HumanMessageChunk(content="x"))["role"] == "user"
    assert ex.message_dict(ChatMessage(role="critic", content="x"))["role"] == "critic"
    assert ex.message_dict("raw") == {"role": "user", "content": "raw"}
    blocks = [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "u"}}]
    assert ex.genai_message({"role": "user", "content": blocks}) == {
        "role": "user",
        "parts": [{"type": "text", "content": "see"}, {"type": "image_url"}],
    }


def test_request_attributes_and_model() -> None:
    params = {"temperature": 0, "top_p": 0.5, "max_completion_tokens": 9, "stop": "END", "n": 2}
    assert ex.request_attributes(params, {}) == {
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.0,
        sc.GEN_AI_REQUEST_TOP_P: 0.5,
        sc.GEN_AI_REQUEST_CHOICE_COUNT: 2,
        sc.GEN_AI_REQUEST_MAX_TOKENS: 9,
        sc.GEN_AI_REQUEST_STOP_SEQUENCES: ["END"],
    }
    meta = {"ls_temperature": 0.7, "ls_max_tokens": 5, "ls_model_name": "from-ls"}
    assert ex.request_attributes({}, meta) == {
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.7,
        sc.GEN_AI_REQUEST_MAX_TOKENS: 5,
    }
    assert ex.request_model(None, meta, {"model": "from-params"}) == "from-params"
    assert ex.request_model(None, meta, {}) == "from-ls"
    assert ex.request_model({"kwargs": {"model_name": "from-ser"}}, {}, {}) == "from-ser"
    assert ex.request_model(None, None, {}) is None


def test_span_types_names_and_sessions() -> None:
    assert ex.chain_span_type("JsonOutputParser", None, None) is SpanType.PARSER
    assert ex.chain_span_type("x", None, "parser") is SpanType.PARSER
    assert ex.chain_span_type("agent", None, None) is SpanType.AGENT
    ser = {"id": ["langchain", "agents", "AgentExecutor"]}
    assert ex.chain_span_type("Executor", ser, None) is SpanType.AGENT
    assert ex.chain_span_type("RunnableSequence", None, "chain") is SpanType.CHAIN
    assert ex.run_name({"id": ["a", "Cls"]}, {}, "d") == "Cls"
    assert ex.run_name(None, {"name": None}, "d") == "d"
    assert ex.session_of({"thread_id": 7}) == "7"
    assert ex.session_of({"session_id": "s", "thread_id": "t"}) == "s"
    assert ex.session_of({"thread_id": True}) is None


def test_documents() -> None:
    docs = [
        Document(page_content="a", metadata={"relevance_score": 0.5}),
        Document(page_content="b", metadata={"score": "high"}),
    ]
    assert [d["score"] for d in ex.documents(docs)] == [0.5, None]


def test_handler_module_exports() -> None:
    assert _handler.LlmtraceCallbackHandler is LlmtraceCallbackHandler
    assert LlmtraceCallbackHandler.run_inline is True
    assert UsageChat().model_name == "lc-test-model"


def test_a_failing_start_callback_leaves_the_run_untraced(
    traced: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("naming bug")

    monkeypatch.setattr(ex, "run_name", broken)
    caplog.set_level(logging.DEBUG, logger="llmtrace")
    handler = LlmtraceCallbackHandler()

    assert qa_chain().invoke({"q": "hi"}, config={"callbacks": [handler]}) == "echo:hi"

    assert stored_traces() == []
    assert any("on_chain_start failed" in r.getMessage() for r in caplog.records)
    assert any("on_chat_model_start failed" in r.getMessage() for r in caplog.records)
    assert len(handler._runs) == 0
