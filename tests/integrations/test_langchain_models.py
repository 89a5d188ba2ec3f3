"""LangChain integration: what model, LLM, retriever, tool and agent spans record (model,
provider, request parameters, messages, usage and cost, the double-count guard, documents,
tool calls, agent events, tags, metadata, sessions)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.callbacks import CallbackManager
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

import llmtrace
from llmtrace import pricing
from llmtrace import semconv as sc
from llmtrace.integrations._common import start_span
from llmtrace.integrations.langchain import LlmtraceCallbackHandler
from llmtrace.pricing import Usage
from tests.integrations.test_langchain_fakes import (
    MODEL,
    PROVIDER,
    ListRetriever,
    UsageChat,
    no_callback_failures,  # noqa: F401  (a fixture)
    one_span,
    tree,
)
from tests.tracing.conftest import only_trace, stored_traces

pytestmark = pytest.mark.usefixtures("traced", "no_callback_failures")

RICH_USAGE = {
    "input_tokens": 1000,
    "output_tokens": 500,
    "total_tokens": 1500,
    "input_token_details": {"cache_read": 200, "cache_creation": 100},
    "output_token_details": {"reasoning": 100},
}


def _cb() -> dict[str, Any]:
    return {"callbacks": [LlmtraceCallbackHandler()]}


def _set_rich_price() -> None:
    pricing.set_price(
        MODEL, input=2, cached_input=0.5, cache_write=3, output=8, reasoning=10
    )  # (700*2 + 200*0.5 + 100*3 + 400*8 + 100*10) / 1e6 = 0.0018 + 0.0042 = 0.006


def test_chat_span_records_model_request_messages_usage_and_cost() -> None:
    _set_rich_price()
    model = UsageChat(reply="Paris", usage=RICH_USAGE)
    messages = [SystemMessage("Be brief."), HumanMessage("Capital of France?")]
    result = model.invoke(messages, config=_cb())

    assert result.content == "Paris"
    span = only_trace().root
    assert span is not None
    assert (span.name, span.span_type, span.status, span.model) == (
        "UsageChat",
        "CHAT_MODEL",
        "OK",
        MODEL,
    )
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == MODEL
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == PROVIDER
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.25
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert json.loads(attrs[sc.LLM_INVOCATION_PARAMETERS]) == {
        "model_name": MODEL,
        "temperature": 0.25,
        "max_tokens": 64,
    }
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert span.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ]
    }
    assert span.outputs == {"role": "assistant", "content": "Paris", "finish_reason": "stop"}
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]},
    ]
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Paris"}],
            "finish_reason": "stop",
        }
    ]
    assert (span.input_tokens, span.output_tokens) == (1000, 500)
    assert attrs[sc.USAGE_TOTAL_TOKENS] == 1500
    assert attrs[sc.USAGE_CACHED_INPUT_TOKENS] == 200
    assert attrs[sc.USAGE_CACHE_WRITE_TOKENS] == 100
    assert attrs[sc.USAGE_REASONING_TOKENS] == 100
    assert span.cost == 0.006
    assert (attrs[sc.COST_INPUT], attrs[sc.COST_OUTPUT]) == (0.0018, 0.0042)
    assert sc.USAGE_AGGREGATE not in attrs


def test_trace_rollup_sums_model_calls_of_a_chain() -> None:
    _set_rich_price()
    first = UsageChat(usage=RICH_USAGE, name="first")
    second = UsageChat(usage=RICH_USAGE, name="second")
    chain = first | RunnableLambda(lambda m: m.content, name="text") | second
    chain.invoke("hi", config=_cb())

    info = only_trace().info
    assert (info.input_tokens, info.output_tokens, info.total_tokens) == (2000, 1000, 3000)
    assert info.cost == 0.012


def test_unknown_model_has_tokens_but_no_cost() -> None:
    UsageChat(model_name="lc-unpriced-model").invoke("hi", config=_cb())
    trace = only_trace()
    span = trace.root
    assert span is not None
    assert (span.model, span.input_tokens, span.output_tokens, span.cost) == (
        "lc-unpriced-model",
        11,
        7,
        None,
    )
    assert trace.info.cost is None
    assert "lc-unpriced-model" in pricing.unpriced_models()


def test_nested_model_span_counts_tokens_once() -> None:
    pricing.set_price(MODEL, input=1, output=2)

    def provider_call() -> None:
        # What an instrumented provider SDK does inside the LangChain model.
        handle = start_span("provider.chat", "CHAT_MODEL", model_span=True)
        handle.live.set_model(MODEL)
        handle.record_usage(Usage(input_tokens=11, output_tokens=7), model=MODEL)
        handle.end()

    UsageChat(inner=provider_call).invoke("hi", config=_cb())

    trace = only_trace()
    assert tree(trace) == ("UsageChat", "CHAT_MODEL", [("provider.chat", "CHAT_MODEL", [])])
    outer = one_span(trace, "UsageChat")
    inner = one_span(trace, "provider.chat")
    assert (outer.input_tokens, outer.output_tokens) == (11, 7)  # still shown on the span
    assert outer.attributes[sc.USAGE_AGGREGATE] is False
    assert sc.USAGE_AGGREGATE not in inner.attributes
    assert (trace.info.input_tokens, trace.info.output_tokens) == (11, 7)
    assert trace.info.cost == (11 * 1 + 7 * 2) / 1e6


def test_usage_from_llm_output_when_messages_have_none() -> None:
    class LegacyChat(UsageChat):
        def _generate(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> Any:
            from langchain_core.outputs import ChatGeneration, ChatResult

            return ChatResult(
                generations=[ChatGeneration(message=AIMessage(content="x"))],
                llm_output={
                    "model_name": "lc-legacy-model",
                    "token_usage": {
                        "prompt_tokens": 30,
                        "completion_tokens": 12,
                        "total_tokens": 42,
                        "prompt_tokens_details": {"cached_tokens": 10},
                    },
                },
            )

    pricing.set_price("lc-legacy-model", input=1, output=1, cached_input=0)
    LegacyChat(model_name="lc-legacy-request").invoke("hi", config=_cb())
    span = only_trace().root
    assert span is not None
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == "lc-legacy-request"
    assert span.attributes[sc.GEN_AI_RESPONSE_MODEL] == "lc-legacy-model"
    assert (span.model, span.input_tokens, span.output_tokens) == ("lc-legacy-model", 30, 12)
    assert span.attributes[sc.USAGE_CACHED_INPUT_TOKENS] == 10
    assert span.cost == (20 + 12) / 1e6


def test_tool_calls_in_messages_and_outputs() -> None:
    call = {"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1", "type": "tool_call"}
    reply = AIMessage(content="", tool_calls=[call])
    model = GenericFakeChatModel(messages=iter([reply]))
    history = [
        HumanMessage("add 1 and 2"),
        AIMessage(content="", tool_calls=[call]),
        ToolMessage(content="3", tool_call_id="call_1"),
    ]
    model.invoke(history, config=_cb())

    span = only_trace().root
    assert span is not None
    tool_call = {"id": "call_1", "name": "add", "arguments": {"a": 1, "b": 2}}
    assert span.inputs == {
        "messages": [
            {"role": "user", "content": "add 1 and 2"},
            {"role": "assistant", "content": "", "tool_calls": [tool_call]},
            {"role": "tool", "content": "3", "tool_call_id": "call_1"},
        ]
    }
    assert span.outputs == {"role": "assistant", "content": "", "tool_calls": [tool_call]}
    assert json.loads(span.attributes[sc.GEN_AI_INPUT_MESSAGES])[2] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_1", "response": "3"}],
    }
    assert json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "tool_call", **tool_call}]}
    ]


def test_streamed_chat_records_time_to_first_token() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three")]))
    chunks = [c.content for c in model.stream("hi", config=_cb())]
    assert "".join(str(c) for c in chunks) == "one two three"

    span = only_trace().root
    assert span is not None
    assert span.attributes[sc.LLM_STREAMING] is True
    ttft = span.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS]
    assert isinstance(ttft, float) and 0 <= ttft <= span.duration_ms
    assert span.outputs["content"] == "one two three"


def test_llm_span() -> None:
    llm = FakeListLLM(responses=["forty-two"])
    assert llm.invoke("meaning?", config=_cb()) == "forty-two"
    span = only_trace().root
    assert span is not None
    assert (span.name, span.span_type, span.status) == ("FakeListLLM", "LLM", "OK")
    assert span.inputs == {"prompt": "meaning?"}
    assert span.outputs == "forty-two"
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "fakelist"


def test_model_error_marks_span_and_propagates() -> None:
    error = RuntimeError("rate limited")

    def fail() -> None:
        raise error

    with pytest.raises(RuntimeError) as caught:
        UsageChat(inner=fail).invoke("hi", config=_cb())
    assert caught.value is error
    span = only_trace().root
    assert span is not None
    assert (span.span_type, span.status) == ("CHAT_MODEL", "ERROR")
    assert span.attributes[sc.ERROR_TYPE] == "RuntimeError"
    assert span.input_tokens is None


def test_retriever_span_records_query_and_documents() -> None:
    docs = ListRetriever().invoke("cats", config=_cb())
    assert [d.page_content for d in docs] == ["cats one", "cats two"]

    span = only_trace().root
    assert span is not None
    assert (span.name, span.span_type) == ("ListRetriever", "RETRIEVER")
    expected = [
        {"id": "d1", "score": 0.9, "content": "cats one", "metadata": {"score": 0.9, "src": "a"}},
        {"id": None, "score": None, "content": "cats two", "metadata": {"src": "b"}},
    ]
    assert span.inputs == {"query": "cats"}
    assert span.outputs == expected
    assert span.attributes[sc.RETRIEVAL_QUERY] == "cats"
    assert json.loads(span.attributes[sc.RETRIEVAL_DOCUMENTS]) == expected


def test_payload_attributes_follow_capture_settings(configure_tracing: Any) -> None:
    configure_tracing(capture_inputs=False, capture_outputs=False)
    ListRetriever().invoke("secret query", config=_cb())
    UsageChat().invoke("secret prompt", config=_cb())
    for trace in stored_traces():
        span = trace.root
        assert span is not None
        assert span.inputs is None and span.outputs is None
        for key in (
            sc.RETRIEVAL_QUERY,
            sc.RETRIEVAL_DOCUMENTS,
            sc.GEN_AI_INPUT_MESSAGES,
            sc.GEN_AI_OUTPUT_MESSAGES,
        ):
            assert key not in span.attributes


def test_tool_span_records_name_call_id_and_output() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    message = add.invoke(
        {"type": "tool_call", "id": "call_9", "name": "add", "args": {"a": 2, "b": 3}},
        config=_cb(),
    )
    assert message.content == "5"
    span = only_trace().root
    assert span is not None
    assert (span.name, span.span_type, span.status) == ("add", "TOOL", "OK")
    assert span.attributes[sc.GEN_AI_TOOL_NAME] == "add"
    assert span.attributes[sc.GEN_AI_TOOL_CALL_ID] == "call_9"
    assert span.attributes[sc.GEN_AI_TOOL_DESCRIPTION] == "Add two integers."
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert span.inputs == {"a": 2, "b": 3}
    assert span.outputs == "5"


def test_agent_actions_and_finish_are_events_on_an_agent_span() -> None:
    manager = CallbackManager.configure(inheritable_callbacks=[LlmtraceCallbackHandler()])
    run = manager.on_chain_start(None, {"input": "weather?"}, name="AgentExecutor")
    run.on_agent_action(AgentAction(tool="search", tool_input="weather", log="I should search"))
    tool_run = run.get_child().on_tool_start({"name": "search"}, "weather")
    tool_run.on_tool_end("sunny")
    run.on_agent_finish(AgentFinish(return_values={"output": "sunny"}, log="done"))
    run.on_chain_end({"output": "sunny"})

    trace = only_trace()
    assert tree(trace) == ("AgentExecutor", "AGENT", [("search", "TOOL", [])])
    agent = trace.root
    assert agent is not None
    assert agent.attributes[sc.GEN_AI_OPERATION_NAME] == "invoke_agent"
    events = {e["name"]: e["attributes"] for e in agent.events}
    assert events["langchain.agent_action"]["tool"] == "search"
    assert json.loads(events["langchain.agent_action"]["tool_input"]) == "weather"
    assert json.loads(events["langchain.agent_finish"]["return_values"]) == {"output": "sunny"}


def test_tags_metadata_and_session() -> None:
    chain = RunnableLambda(lambda x: x, name="step") | StrOutputParser()
    config = {
        "callbacks": [LlmtraceCallbackHandler()],
        "tags": ["prod"],
        "metadata": {"thread_id": "thread-7", "customer": "acme"},
        "run_name": "my-chain",
    }
    chain.invoke("hi", config=config)  # type: ignore[arg-type]

    trace = only_trace()
    assert trace.info.session_id == "thread-7"
    root = trace.root
    assert root is not None
    assert root.name == "my-chain"
    assert root.attributes[sc.LANGCHAIN_TAGS] == ["prod"]
    assert json.loads(root.attributes[sc.LANGCHAIN_METADATA]) == {
        "thread_id": "thread-7",
        "customer": "acme",
    }
    step = one_span(trace, "step")
    assert step.attributes[sc.LANGCHAIN_TAGS] == ["seq:step:1", "prod"]
    assert step.attributes[sc.LANGCHAIN_RUN_ID] != root.attributes[sc.LANGCHAIN_RUN_ID]


def test_model_metadata_keeps_langsmith_keys_out() -> None:
    UsageChat().invoke("hi", config={**_cb(), "metadata": {"user": "ada"}})
    span = only_trace().root
    assert span is not None
    assert json.loads(span.attributes[sc.LANGCHAIN_METADATA]) == {"user": "ada"}


def test_async_chat_under_trace_function_counts_once() -> None:
    pricing.set_price(MODEL, input=1, output=1)

    @llmtrace.trace
    async def ask() -> str:
        first = await UsageChat().ainvoke("a", config=_cb())
        second = await UsageChat().ainvoke("b", config=_cb())
        return f"{first.content}|{second.content}"

    assert asyncio.run(ask()) == "echo:a|echo:b"
    trace = only_trace()
    root = trace.root
    assert root is not None
    assert [(c.name, c.span_type) for c in root.children] == [
        ("UsageChat", "CHAT_MODEL"),
        ("UsageChat", "CHAT_MODEL"),
    ]
    assert (trace.info.input_tokens, trace.info.output_tokens) == (22, 14)
    assert trace.info.cost == 36 / 1e6


def test_session_set_on_an_enclosing_span_wins() -> None:
    @llmtrace.trace
    def turn() -> str:
        llmtrace.update_current_trace(session_id="explicit")
        return UsageChat().invoke("hi", config={**_cb(), "metadata": {"thread_id": "th"}}).text

    turn()
    assert only_trace().info.session_id == "explicit"


def test_retry_and_custom_events() -> None:
    from langchain_core.callbacks import dispatch_custom_event
    from tenacity import RetryCallState, Retrying

    def progress(x: str) -> str:
        dispatch_custom_event("progress", {"pct": 50})
        return x

    RunnableLambda(progress, name="work").invoke("x", config=_cb())
    manager = CallbackManager.configure(inheritable_callbacks=[LlmtraceCallbackHandler()])
    run = manager.on_chain_start(None, {}, name="flaky")
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = 2
    state.set_exception((TimeoutError, TimeoutError("slow"), None))
    run.on_retry(state)
    run.on_chain_end({})

    work, flaky = (t.root for t in stored_traces())
    assert work is not None and flaky is not None
    assert [(e["name"], json.loads(e["attributes"]["data"])) for e in work.events] == [
        ("progress", {"pct": 50})
    ]
    assert [(e["name"], e["attributes"]) for e in flaky.events] == [
        ("langchain.retry", {"attempt": 2, sc.ERROR_TYPE: "TimeoutError"})
    ]


def test_retriever_and_async_model_errors() -> None:
    class BrokenRetriever(ListRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: Any) -> Any:
            raise LookupError("index offline")

    with pytest.raises(LookupError):
        BrokenRetriever().invoke("q", config=_cb())

    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        asyncio.run(UsageChat(inner=fail).ainvoke("hi", config=_cb()))

    spans = [t.root for t in stored_traces()]
    assert [(s.name, s.span_type, s.status, s.attributes[sc.ERROR_TYPE]) for s in spans if s] == [
        ("BrokenRetriever", "RETRIEVER", "ERROR", "LookupError"),
        ("UsageChat", "CHAT_MODEL", "ERROR", "RuntimeError"),
    ]


def test_llm_batch_in_one_provider_call_counts_tokens_once() -> None:
    from langchain_core.language_models import BaseLLM

    pricing.set_price(MODEL, input=1, output=1)

    class BatchLLM(BaseLLM):
        @property
        def _llm_type(self) -> str:
            return "batch-llm"

        def _generate(
            self, prompts: list[str], stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> Any:
            # One provider call for every prompt, traced by the provider's integration.
            handle = start_span("provider.completions", "LLM", model_span=True)
            handle.record_usage(Usage(input_tokens=20, output_tokens=4), model=MODEL)
            handle.end()
            from langchain_core.outputs import Generation, LLMResult

            return LLMResult(
                generations=[[Generation(text=p.upper())] for p in prompts],
                llm_output={
                    "model_name": MODEL,
                    "token_usage": {"prompt_tokens": 20, "completion_tokens": 4},
                },
            )

    assert BatchLLM().batch(["a", "b"], config=_cb()) == ["A", "B"]

    first, second = stored_traces()
    assert tree(first) == ("BatchLLM", "LLM", [("provider.completions", "LLM", [])])
    assert tree(second) == ("BatchLLM", "LLM", [])
    assert one_span(first, "BatchLLM").attributes[sc.USAGE_AGGREGATE] is False
    assert (first.info.input_tokens, first.info.output_tokens) == (20, 4)
    assert (second.info.input_tokens, second.info.output_tokens) == (0, 0)
    assert (first.root.inputs, second.root.inputs) == ({"prompt": "a"}, {"prompt": "b"})  # type: ignore[union-attr]
