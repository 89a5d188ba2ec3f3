"""The OpenAI integration, non-streamed calls: the real `openai` client against a local
OpenAI-compatible server (tests/integrations/fake_openai_server.py); streams are in
test_openai_stream.py, which reuses the fixtures and helpers defined here."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import openai
import pydantic
import pytest

import llmtrace
from llmtrace import pricing
from llmtrace import semconv as sc
from llmtrace.integrations._common import start_span
from llmtrace.integrations.openai import _extract, _patch
from llmtrace.store import Span
from tests.integrations.fake_openai_server import (
    FakeOpenAIServer,
    Reply,
    chat_completion,
    error_reply,
    response,
)
from tests.tracing.conftest import only_trace, stored_traces

T = TypeVar("T")
CHAT = "/v1/chat/completions"
USER_HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A fresh local OpenAI-compatible server."""
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def instrumented(traced: str) -> Iterator[None]:
    """Tracing into a temporary store with the OpenAI integration on; off afterwards."""
    llmtrace.instrument("openai")
    yield
    llmtrace.uninstrument("openai")


@pytest.fixture
def client(server: FakeOpenAIServer) -> Iterator[openai.OpenAI]:
    """A sync client on the local server; fast retries come from the server's retry-after."""
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as c:
        yield c


def run_async(server: FakeOpenAIServer, body: Callable[[openai.AsyncOpenAI], Awaitable[T]]) -> T:
    """Run `body` with an async client on the server, in a new event loop (the client's
    connections belong to the loop, so it is made and closed inside)."""

    async def main() -> T:
        url = server.base_url
        async with openai.AsyncOpenAI(base_url=url, api_key="sk-test", max_retries=2) as client:
            return await body(client)

    return asyncio.run(main())


def openai_spans(trace: llmtrace.Trace) -> list[Span]:
    """The spans the integration made, in start order."""
    spans = [s for s in trace.spans if s.attributes.get(sc.SPAN_INTEGRATION) == "openai"]
    return sorted(spans, key=lambda s: s.start_time)


def only_openai_span() -> Span:
    """The single trace's single OpenAI span."""
    spans = openai_spans(only_trace())
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def json_attr(span: Span, key: str) -> Any:
    """An attribute stored as JSON text, decoded."""
    return json.loads(span.attributes[key])


# --- chat completions --------------------------------------------------------------------------


@pytest.mark.usefixtures("instrumented")
def test_chat_completion_span_under_trace(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    @llmtrace.trace(name="answer")
    def answer(question: str) -> str:
        result = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": question},
            ],
            temperature=0.2,
            top_p=0.9,
            max_tokens=50,
            stop=["\n"],
            seed=7,
            n=1,
            presence_penalty=0.1,
            frequency_penalty=0.3,
            response_format={"type": "json_object"},
            user="ada",
            extra_headers={"Authorization": "Bearer sk-should-never-be-recorded"},
        )
        return result.choices[0].message.content or ""

    assert answer("hello?") == "Hello there!"
    trace = only_trace()
    root = trace.root
    assert root is not None and root.name == "answer"
    span = only_openai_span()
    assert span.parent_span_id == root.span_id
    assert (span.name, span.span_type, span.status) == (
        "openai.chat.completions",
        "CHAT_MODEL",
        "OK",
    )
    assert span.model == "gpt-4o-mini"
    assert span.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello?"},
        ]
    }
    assert span.outputs == {"role": "assistant", "content": "Hello there!"}
    assert (span.input_tokens, span.output_tokens) == (12, 5)
    attrs = span.attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[sc.SERVER_PORT] == server.port
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert attrs[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-fake-1"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ["\n"]
    assert attrs[sc.GEN_AI_REQUEST_SEED] == 7
    assert attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] == 1
    assert attrs[sc.GEN_AI_REQUEST_PRESENCE_PENALTY] == 0.1
    assert attrs[sc.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.3
    assert attrs[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert attrs[sc.LLM_ATTEMPTS] == 1
    assert sc.LLM_STREAMING not in attrs
    assert json_attr(span, sc.LLM_INVOCATION_PARAMETERS) == {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "stop": ["\n"],
        "seed": 7,
        "n": 1,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.3,
        "response_format": {"type": "json_object"},
        "user": "ada",
    }
    assert json_attr(span, sc.GEN_AI_INPUT_MESSAGES) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "hello?"}]},
    ]
    assert json_attr(span, sc.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello there!"}],
            "finish_reason": "stop",
        }
    ]
    assert "sk-should-never-be-recorded" not in json.dumps(span.to_dict())
    assert trace.info.span_count == 2
    assert (trace.info.input_tokens, trace.info.output_tokens) == (12, 5)


@pytest.mark.usefixtures("instrumented")
def test_tool_definitions_and_tool_calls(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    calls = [{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}]
    server.script(CHAT, lambda req: chat_completion(req, content=None, tool_calls=calls))
    history = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
    ]
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=history, tools=tools, tool_choice="auto"
    )
    assert result.choices[0].message.tool_calls is not None
    span = only_openai_span()
    assert span.inputs == {"messages": history, "tools": tools}
    assert json_attr(span, sc.GEN_AI_TOOL_DEFINITIONS) == tools
    assert json_attr(span, sc.LLM_INVOCATION_PARAMETERS) == {"tool_choice": "auto"}
    assert span.outputs == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}],
    }
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    assert json_attr(span, sc.GEN_AI_INPUT_MESSAGES)[1:] == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_0",
                    "name": "get_weather",
                    "arguments": '{"city": "Oslo"}',
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_0", "response": "sunny"}],
        },
    ]
    assert json_attr(span, sc.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": '{"city": "Paris"}',
                }
            ],
            "finish_reason": "tool_calls",
        }
    ]


class Answer(pydantic.BaseModel):
    city: str


@pytest.mark.usefixtures("instrumented")
def test_parse_structured_output(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    server.script(CHAT, lambda req: chat_completion(req, content='{"city": "Paris"}'))
    result = client.chat.completions.parse(
        model="gpt-4o-mini", messages=USER_HI, response_format=Answer
    )
    assert result.choices[0].message.parsed == Answer(city="Paris")
    span = only_openai_span()
    assert span.name == "openai.chat.completions"
    assert span.attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert json_attr(span, sc.LLM_INVOCATION_PARAMETERS) == {"response_format": "<Answer>"}
    assert span.outputs == {"role": "assistant", "content": '{"city": "Paris"}'}
    assert len(server.requests_to(CHAT)) == 1


@pytest.mark.usefixtures("instrumented")
def test_response_model_differs_from_request_model(
    client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    server.script(CHAT, lambda req: chat_completion(req, model="gpt-4o-mini-2024-07-18"))
    client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    span = only_openai_span()
    assert span.model == "gpt-4o-mini-2024-07-18"
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert span.attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"


@pytest.mark.usefixtures("instrumented")
def test_raw_response_is_traced_and_untouched(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER_HI)
    assert raw.parse().choices[0].message.content == "Hello there!"
    span = only_openai_span()
    assert span.outputs == {"role": "assistant", "content": "Hello there!"}
    assert (span.input_tokens, span.output_tokens) == (12, 5)
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 200


@pytest.mark.usefixtures("instrumented")
def test_streaming_response_body_is_left_to_the_user(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=USER_HI
    ) as raw:
        assert raw.parse().choices[0].message.content == "Hello there!"
    span = only_openai_span()
    assert span.status == "OK"
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 200
    assert span.outputs is None  # the body was the user's to read; llmtrace did not read it


# --- other endpoints ---------------------------------------------------------------------------


@pytest.mark.usefixtures("instrumented")
def test_embeddings_record_count_and_dimension_not_vectors(client: openai.OpenAI) -> None:
    pricing.set_price("fake-embedder", input=0.02, output=0)
    result = client.embeddings.create(model="fake-embedder", input=["alpha", "beta"])
    assert [len(d.embedding) for d in result.data] == [4, 4]
    span = only_openai_span()
    assert (span.name, span.span_type) == ("openai.embeddings", "EMBEDDING")
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert span.inputs == {"input": ["alpha", "beta"]}
    assert span.outputs == {"embeddings": 2, "dimensions": 4}
    assert span.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 4
    assert (span.input_tokens, span.output_tokens) == (6, None)
    assert span.cost == pytest.approx(6 * 0.02 / 1e6, rel=1e-12)
    assert "0.5" not in json.dumps(span.outputs)


@pytest.mark.usefixtures("instrumented")
def test_legacy_completion(client: openai.OpenAI) -> None:
    result = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Say", max_tokens=2, stop="."
    )
    assert result.choices[0].text == " world"
    span = only_openai_span()
    assert (span.name, span.span_type) == ("openai.completions", "LLM")
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"
    assert span.inputs == {"prompt": "Say"}
    assert span.outputs == " world"
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["length"]
    assert span.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 2
    assert span.attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ["."]
    assert (span.input_tokens, span.output_tokens) == (3, 2)


@pytest.mark.usefixtures("instrumented")
def test_responses_api(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    calls = [{"call_id": "call_9", "name": "lookup", "arguments": '{"q": "x"}'}]
    server.script("/v1/responses", lambda req: response(req, text="Looking.", function_calls=calls))
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    result = client.responses.create(
        model="gpt-4o",
        input="find x",
        instructions="Use tools.",
        tools=tools,  # type: ignore[list-item]
        max_output_tokens=64,
        temperature=0.5,
    )
    assert result.output_text == "Looking."
    span = only_openai_span()
    assert (span.name, span.span_type) == ("openai.responses", "CHAT_MODEL")
    assert span.inputs == {"input": "find x", "instructions": "Use tools.", "tools": tools}
    assert span.outputs == {
        "role": "assistant",
        "content": "Looking.",
        "tool_calls": [{"id": "call_9", "name": "lookup", "arguments": '{"q": "x"}'}],
    }
    attrs = span.attributes
    assert attrs[sc.GEN_AI_RESPONSE_ID] == "resp_fake_1"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert json_attr(span, sc.GEN_AI_SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "Use tools."}
    ]
    assert json_attr(span, sc.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "find x"}]}
    ]
    assert (span.input_tokens, span.output_tokens) == (11, 4)


@pytest.mark.usefixtures("instrumented")
def test_azure_client_provider_and_server(server: FakeOpenAIServer) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=f"http://127.0.0.1:{server.port}",
        api_key="azure-key",
        api_version="2024-10-21",
    )
    azure.chat.completions.create(model="my-deployment", messages=USER_HI)
    span = only_openai_span()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert span.attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert span.attributes[sc.SERVER_PORT] == server.port
    assert span.model == "my-deployment"


# --- tokens and cost ---------------------------------------------------------------------------


@pytest.mark.usefixtures("instrumented")
def test_exact_cost_with_cached_and_reasoning_tokens(
    client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    pricing.set_price("fake-reasoner", input=2.0, output=8.0, cached_input=0.5, reasoning=10.0)
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 600},
        "completion_tokens_details": {"reasoning_tokens": 300},
    }
    server.script(CHAT, lambda req: chat_completion(req, usage=usage))

    @llmtrace.trace
    def run() -> None:
        client.chat.completions.create(model="fake-reasoner", messages=USER_HI)

    run()
    trace = only_trace()
    span = only_openai_span()
    assert (span.input_tokens, span.output_tokens) == (1000, 500)
    attrs = span.attributes
    assert attrs[sc.USAGE_CACHED_INPUT_TOKENS] == 600
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 600
    assert attrs[sc.USAGE_REASONING_TOKENS] == 300
    # (400 * 2 + 600 * 0.5) input, (200 * 8 + 300 * 10) output, per million tokens
    assert attrs[sc.COST_INPUT] == pytest.approx(1100 / 1e6, rel=1e-12)
    assert attrs[sc.COST_OUTPUT] == pytest.approx(4600 / 1e6, rel=1e-12)
    assert span.cost == pytest.approx(5700 / 1e6, rel=1e-12)
    assert trace.info.cost == pytest.approx(5700 / 1e6, rel=1e-12)
    assert (trace.info.input_tokens, trace.info.output_tokens) == (1000, 500)


@pytest.mark.usefixtures("instrumented")
def test_unknown_model_has_tokens_but_no_cost(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="my-local-llama", messages=USER_HI)
    span = only_openai_span()
    assert (span.input_tokens, span.output_tokens) == (12, 5)
    assert span.cost is None
    assert only_trace().info.cost is None
    assert "my-local-llama" in pricing.unpriced_models()


# --- errors and retries ------------------------------------------------------------------------


@pytest.mark.usefixtures("instrumented")
def test_bad_request_error_span(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    server.script(CHAT, error_reply(400, "messages must not be empty", code="invalid_value"))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert caught.value.status_code == 400
    assert "messages must not be empty" in str(caught.value)
    span = only_openai_span()
    assert span.status == "ERROR"
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 400
    assert span.attributes[sc.ERROR_TYPE] == "openai.BadRequestError"
    assert span.attributes[sc.LLM_ATTEMPTS] == 1
    assert "messages must not be empty" in (span.status_message or "")
    assert span.events[0]["name"] == "exception"
    assert span.outputs is None and span.input_tokens is None


@pytest.mark.usefixtures("instrumented")
def test_rate_limit_retried_then_success_is_one_ok_span(
    client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    server.script(CHAT, error_reply(429, "slow down", type="rate_limit_exceeded"), None)
    result = client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    assert result.choices[0].message.content == "Hello there!"
    assert len(server.requests_to(CHAT)) == 2
    span = only_openai_span()
    assert span.status == "OK"
    assert span.attributes[sc.LLM_ATTEMPTS] == 2
    assert sc.HTTP_RESPONSE_STATUS_CODE not in span.attributes
    retries = [e for e in span.events if e["name"] == "retry"]
    assert len(retries) == 1
    assert retries[0]["attributes"] == {"attempt": 1, sc.HTTP_RESPONSE_STATUS_CODE: 429}
    assert (span.input_tokens, span.output_tokens) == (12, 5)


@pytest.mark.usefixtures("instrumented")
def test_rate_limit_exhausted_is_one_error_span(server: FakeOpenAIServer) -> None:
    server.script(CHAT, error_reply(429, "slow down"), error_reply(429, "still slow"))
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    assert caught.value.status_code == 429
    span = only_openai_span()
    assert span.status == "ERROR"
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 429
    assert span.attributes[sc.ERROR_TYPE] == "openai.RateLimitError"
    assert span.attributes[sc.LLM_ATTEMPTS] == 2


@pytest.mark.usefixtures("instrumented")
def test_timeout_error_span(server: FakeOpenAIServer) -> None:
    server.script(CHAT, Reply(body={}, delay=1.0))
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    span = only_openai_span()
    assert span.status == "ERROR"
    assert span.attributes[sc.ERROR_TYPE] == "openai.APITimeoutError"
    assert sc.HTTP_RESPONSE_STATUS_CODE not in span.attributes
    assert 150 < span.duration_ms < 1000


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.usefixtures("instrumented")
def test_connection_error_span() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    client = openai.OpenAI(base_url=url, api_key="sk-test", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    span = only_openai_span()
    assert span.status == "ERROR"
    assert span.attributes[sc.ERROR_TYPE] == "openai.APIConnectionError"


@pytest.mark.usefixtures("instrumented")
def test_telemetry_failure_never_breaks_the_call(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("extraction bug")

    monkeypatch.setattr(_extract, "summarize", broken)
    monkeypatch.setattr(_extract, "input_messages", broken)
    result = client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    assert result.choices[0].message.content == "Hello there!"
    span = only_openai_span()
    assert span.status == "OK"
    assert span.outputs is None


# --- context, async, settings ------------------------------------------------------------------


@pytest.mark.usefixtures("instrumented")
def test_async_calls_under_gather_get_their_own_parents(server: FakeOpenAIServer) -> None:
    @llmtrace.trace(name="ask")
    async def ask(aclient: openai.AsyncOpenAI, topic: str) -> str:
        result = await aclient.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": topic}]
        )
        return result.choices[0].message.content or ""

    @llmtrace.trace
    async def main(aclient: openai.AsyncOpenAI) -> list[str]:
        return list(await asyncio.gather(*(ask(aclient, t) for t in "abc")))

    assert run_async(server, main) == ["Hello there!"] * 3
    trace = only_trace()
    by_id = {s.span_id: s for s in trace.spans}
    spans = openai_spans(trace)
    assert len(spans) == 3
    topics = set()
    for span in spans:
        parent = by_id[span.parent_span_id or ""]
        assert parent.name == "ask"
        assert parent.parent_span_id == (trace.root.span_id if trace.root else None)
        topic = parent.inputs["topic"]
        assert span.inputs == {"messages": [{"role": "user", "content": topic}]}
        topics.add(topic)
    assert topics == {"a", "b", "c"}
    assert len({s.parent_span_id for s in spans}) == 3


@pytest.mark.usefixtures("instrumented")
def test_nests_under_an_attached_framework_span_and_tokens_count_once(
    client: openai.OpenAI,
) -> None:
    # What the LangChain / LlamaIndex integrations do around a chat model that calls OpenAI.
    outer = start_span("ChatOpenAI", "CHAT_MODEL", integration="langchain", model_span=True)
    outer.attach()
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    finally:
        outer.record_usage(pricing.Usage(input_tokens=12, output_tokens=5), model="gpt-4o-mini")
        outer.end()
    trace = only_trace()
    span = only_openai_span()
    assert trace.root is not None and trace.root.span_id == outer.span_id
    assert span.parent_span_id == outer.span_id
    assert trace.root.attributes[sc.USAGE_AGGREGATE] is False
    assert sc.USAGE_AGGREGATE not in span.attributes
    assert (trace.info.input_tokens, trace.info.output_tokens) == (12, 5)
    assert trace.info.cost == pytest.approx(span.cost, rel=1e-12)


@pytest.mark.usefixtures("instrumented")
def test_call_outside_any_span_is_a_root(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    trace = only_trace()
    assert trace.root is not None and trace.root.name == "openai.chat.completions"
    assert trace.root.parent_span_id is None


def test_client_made_before_instrument_is_traced(traced: str, server: FakeOpenAIServer) -> None:
    early = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
    early.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)  # warm the resources
    llmtrace.instrument("openai")
    try:
        early.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    finally:
        llmtrace.uninstrument("openai")
    assert only_openai_span().name == "openai.chat.completions"


def _originals() -> dict[tuple[type, str], Any]:
    found = {}
    for module, cls_name, method, _ in _patch.TARGETS:
        cls = _patch._class(module, cls_name)
        if cls is not None and method in cls.__dict__:
            found[(cls, method)] = cls.__dict__[method]
    for module, cls_name, methods in _patch.RETRY_TARGETS:
        cls = _patch._class(module, cls_name)
        method = next((m for m in methods if cls is not None and m in cls.__dict__), None)
        if cls is not None and method is not None:
            found[(cls, method)] = cls.__dict__[method]
    return found


def test_uninstrument_restores_the_exact_originals(
    traced: str, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    before = _originals()
    assert len(before) >= 10
    llmtrace.instrument("openai")
    llmtrace.instrument("openai")  # idempotent: wrapped once
    try:
        patched = _originals()
        assert all(patched[key] is not original for key, original in before.items())
        assert all(getattr(f, "__wrapped__", None) is before[k] for k, f in patched.items())
        raw_bound_while_patched = client.chat.completions.with_raw_response
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    finally:
        llmtrace.uninstrument("openai")
    llmtrace.uninstrument("openai")  # idempotent
    after = _originals()
    assert all(after[key] is original for key, original in before.items())
    client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    raw_bound_while_patched.create(model="gpt-4o-mini", messages=USER_HI).parse()
    assert len(server.requests_to(CHAT)) == 3
    traces = stored_traces()
    assert len(traces) == 1 and len(openai_spans(traces[0])) == 1


def test_tracing_disabled_calls_through(
    configure_tracing: Any, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    configure_tracing(enabled=False)
    llmtrace.instrument("openai")
    try:
        result = client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI)
    finally:
        llmtrace.uninstrument("openai")
    assert result.choices[0].message.content == "Hello there!"
    assert stored_traces() == []


def test_capture_off_records_no_payloads(configure_tracing: Any, client: openai.OpenAI) -> None:
    configure_tracing(capture_inputs=False, capture_outputs=False)
    llmtrace.instrument("openai")
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER_HI, temperature=0)
    finally:
        llmtrace.uninstrument("openai")
    span = only_openai_span()
    assert span.inputs is None and span.outputs is None
    for key in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES):
        assert key not in span.attributes
    assert span.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0
    assert (span.input_tokens, span.output_tokens) == (12, 5)


def test_invalid_option_is_a_config_error() -> None:
    with pytest.raises(llmtrace.ConfigError, match="stream_usage"):
        llmtrace.instrument("openai", stream_usage="yes")
    assert not _patch.state.active


# --- payloads serialized after the call ----------------------------------------------------------


@pytest.mark.parametrize("deferred", [True, False], ids=["export-thread", "caller-thread"])
@pytest.mark.usefixtures("instrumented")
def test_messages_changed_after_the_call_are_stored_as_sent(
    client: openai.OpenAI, deferred: bool
) -> None:
    from llmtrace.tracing._runtime import get_runtime

    rt = get_runtime()
    rt.defer_payloads = deferred  # off whenever OTLP export or a shared provider reads spans
    messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
    params: dict[str, Any] = {"temperature": 0.5, "stop": ["\n"]}
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, **params)
    params["stop"].append("END")  # the caller's objects change after the call
    # The usual chat loop: the reply and the next question go into the same list.
    messages.append({"role": "assistant", "content": reply.choices[0].message.content})
    messages[0]["content"] = "changed"
    span = only_openai_span()
    assert span.inputs["messages"] == [{"role": "user", "content": "hi"}]
    assert [m["role"] for m in json_attr(span, sc.GEN_AI_INPUT_MESSAGES)] == ["user"]
    assert span.outputs is not None
    assert sc.GEN_AI_OUTPUT_MESSAGES in span.attributes
    assert json_attr(span, sc.LLM_INVOCATION_PARAMETERS) == {"temperature": 0.5, "stop": ["\n"]}
