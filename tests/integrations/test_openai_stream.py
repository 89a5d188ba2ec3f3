"""The OpenAI integration, streamed calls: the user keeps the SDK's own stream object and sees
exactly the chunks an uninstrumented call yields; the span ends with the stream."""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import datetime, timezone
from typing import Any

import openai
import pytest

import llmtrace
from llmtrace import semconv as sc
from tests.integrations import test_openai as base
from tests.integrations.fake_openai_server import (
    FakeOpenAIServer,
    Reply,
    chat_stream,
    response_stream,
)
from tests.tracing.conftest import only_trace, stored_traces

# The fixtures and helpers of test_openai.py (pytest finds fixtures by module attribute).
server, client, instrumented = base.server, base.client, base.instrumented
CHAT, USER_HI, json_attr, run_async = base.CHAT, base.USER_HI, base.json_attr, base.run_async
only_openai_span, openai_spans = base.only_openai_span, base.openai_spans

CALLS = [
    {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
    {"id": "call_b", "name": "get_time", "arguments": '{"tz": "CET"}'},
]


def _dump(chunks: list[Any]) -> list[tuple[dict[str, object], set[str]]]:
    """What a user can observe of each chunk: its dict form and which fields were sent."""
    return [(c.to_dict(), set(c.model_fields_set)) for c in chunks]


def _chat(client: openai.OpenAI, **kwargs: Any) -> openai.Stream[Any]:
    kwargs.setdefault("messages", USER_HI)
    return client.chat.completions.create(model="gpt-4o-mini", stream=True, **kwargs)


# --- chat, sync --------------------------------------------------------------------------------


def test_chat_stream_read_to_the_end(
    traced: str, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    pace = lambda req: chat_stream(req, event_delay=0.02)  # noqa: E731
    server.script(CHAT, pace, pace)
    baseline = _dump(list(_chat(client)))  # not instrumented yet
    llmtrace.instrument("openai")
    try:

        @llmtrace.trace(name="chat")
        def run() -> list[Any]:
            stream = _chat(client)
            assert type(stream) is openai.Stream
            return list(stream)

        chunks = run()
    finally:
        llmtrace.uninstrument("openai")
    assert _dump(chunks) == baseline
    assert [c.choices[0].delta.content for c in chunks] == ["", "Hel", "lo", " there!", None]
    first, second = server.requests_to(CHAT)
    assert "stream_options" not in first.body
    assert second.body["stream_options"] == {"include_usage": True}
    trace = only_trace()
    span = only_openai_span()
    assert span.parent_span_id == (trace.root.span_id if trace.root else None)
    assert span.status == "OK"
    assert span.outputs == {"role": "assistant", "content": "Hello there!"}
    assert (span.input_tokens, span.output_tokens) == (12, 5)
    attrs = span.attributes
    assert attrs[sc.LLM_STREAMING] is True
    assert attrs[sc.LLM_STREAM_END] == "completed"
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert attrs[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-fake-2"
    # The first content arrives after the role chunk and one 20 ms pause; the stream takes
    # four more pauses to finish.
    ttft = attrs[sc.LLM_TIME_TO_FIRST_TOKEN_MS]
    assert 15 < ttft < span.duration_ms - 50
    assert json_attr(span, sc.LLM_INVOCATION_PARAMETERS) == {"stream": True}
    assert json_attr(span, sc.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello there!"}],
            "finish_reason": "stop",
        }
    ]


@pytest.mark.usefixtures("instrumented")
def test_user_stream_options_are_never_changed(
    client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    chunks = list(_chat(client, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None  # the user asked for it
    assert all("usage" in c.model_fields_set for c in chunks)
    list(_chat(client, stream_options={"include_usage": False}))
    sent = [r.body.get("stream_options") for r in server.requests_to(CHAT)]
    assert sent == [{"include_usage": True}, {"include_usage": False}]
    asked, declined = _two_spans()
    assert (asked.input_tokens, asked.output_tokens) == (12, 5)
    assert (declined.input_tokens, declined.output_tokens) == (None, None)
    assert declined.cost is None


def _two_spans() -> list[Any]:
    spans = [s for t in stored_traces() for s in openai_spans(t)]
    assert len(spans) == 2
    return spans


def test_stream_usage_option_off(
    configure_tracing: Any, client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    configure_tracing()
    llmtrace.instrument("openai", stream_usage=False)
    try:
        chunks = list(_chat(client))
    finally:
        llmtrace.uninstrument("openai")
    assert len(chunks) == 5
    assert "stream_options" not in server.requests_to(CHAT)[0].body
    span = only_openai_span()
    assert span.outputs == {"role": "assistant", "content": "Hello there!"}
    assert (span.input_tokens, span.output_tokens, span.cost) == (None, None, None)
    assert sc.USAGE_TOTAL_TOKENS not in span.attributes


@pytest.mark.usefixtures("instrumented")
def test_stream_options_rejected_by_server_is_retried_without(
    client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    def strict(req: dict[str, Any]) -> Reply:
        if "stream_options" in req:
            body = {"error": {"message": "Unrecognized request argument: stream_options"}}
            return Reply(status=400, body=body)
        return chat_stream(req)

    server.script(CHAT, strict, strict)
    assert [c.choices[0].delta.content for c in _chat(client)][1:4] == ["Hel", "lo", " there!"]
    list(_chat(client))  # the host is remembered: no second refusal
    bodies = [r.body for r in server.requests_to(CHAT)]
    assert ["stream_options" in b for b in bodies] == [True, False, False]
    first, second = _two_spans()
    assert first.status == "OK" and first.input_tokens is None
    assert first.outputs == {"role": "assistant", "content": "Hello there!"}
    assert first.events[0]["name"] == "stream_options_rejected"
    assert second.events == []


@pytest.mark.usefixtures("instrumented")
def test_stream_closed_early(client: openai.OpenAI) -> None:
    stream = _chat(client)
    first, second = next(stream), next(stream)
    assert second.choices[0].delta.content == "Hel"
    stream.close()
    span = only_openai_span()
    assert span.attributes[sc.LLM_STREAM_END] == "closed"
    assert span.status == "OK"
    assert span.outputs == {"role": "assistant", "content": "Hel"}
    assert span.input_tokens is None
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes
    assert first.choices[0].delta.role == "assistant"


@pytest.mark.usefixtures("instrumented")
def test_stream_left_by_break_ends_at_with_exit(client: openai.OpenAI) -> None:
    with _chat(client) as stream:
        for chunk in stream:
            if chunk.choices[0].delta.content == "lo":
                break
        assert stored_traces() == []  # still open inside the block
    span = only_openai_span()
    assert span.attributes[sc.LLM_STREAM_END] == "closed"
    assert span.outputs == {"role": "assistant", "content": "Hello"}


@pytest.mark.usefixtures("instrumented")
def test_abandoned_stream_ends_when_collected(client: openai.OpenAI) -> None:
    stream = _chat(client)
    next(stream)
    next(stream)
    last_chunk_seen = datetime.now(timezone.utc)
    time.sleep(0.1)
    del stream
    gc.collect()
    span = only_openai_span()
    assert span.attributes[sc.LLM_STREAM_END] == "abandoned"
    assert span.outputs == {"role": "assistant", "content": "Hel"}
    end = span.end_time if span.end_time.tzinfo else span.end_time.replace(tzinfo=timezone.utc)
    assert end <= last_chunk_seen


@pytest.mark.usefixtures("instrumented")
def test_unread_stream_ends_when_collected(client: openai.OpenAI) -> None:
    stream = _chat(client)
    returned = datetime.now(timezone.utc)
    time.sleep(0.1)
    del stream
    gc.collect()
    span = only_openai_span()
    end = span.end_time if span.end_time.tzinfo else span.end_time.replace(tzinfo=timezone.utc)
    assert end <= returned
    assert span.attributes[sc.LLM_STREAM_END] == "abandoned"
    assert span.outputs is None
    assert sc.LLM_TIME_TO_FIRST_TOKEN_MS not in span.attributes


@pytest.mark.usefixtures("instrumented")
def test_stream_tool_call_deltas_are_assembled(
    client: openai.OpenAI, server: FakeOpenAIServer
) -> None:
    server.script(CHAT, lambda req: chat_stream(req, pieces=(), tool_calls=CALLS))
    chunks = list(_chat(client, tools=[{"type": "function", "function": {"name": "get_weather"}}]))
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    span = only_openai_span()
    assert span.outputs == {"role": "assistant", "content": None, "tool_calls": CALLS}
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    assert (span.input_tokens, span.output_tokens) == (12, 5)


@pytest.mark.usefixtures("instrumented")
def test_error_in_the_middle_of_a_stream(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    def broken(req: dict[str, Any]) -> Reply:
        events = list(chat_stream(req).events or ())[:2]
        events.append({"error": {"message": "overloaded", "type": "server_error"}})
        return Reply(events=events)

    server.script(CHAT, broken)
    seen = []
    with pytest.raises(openai.APIError, match="overloaded"):
        for chunk in _chat(client):
            seen.append(chunk)
    assert len(seen) == 2
    span = only_openai_span()
    assert span.status == "ERROR"
    assert span.attributes[sc.LLM_STREAM_END] == "error"
    assert span.attributes[sc.ERROR_TYPE] == "openai.APIError"
    assert span.outputs == {"role": "assistant", "content": "Hel"}


@pytest.mark.usefixtures("instrumented")
def test_stream_helper_is_traced_once(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="gpt-4o-mini", messages=USER_HI) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there!"
    assert final.usage is None  # as without llmtrace: the helper was not asked for usage
    span = only_openai_span()
    assert span.outputs == {"role": "assistant", "content": "Hello there!"}
    assert (span.input_tokens, span.output_tokens) == (12, 5)
    assert span.attributes[sc.LLM_STREAM_END] == "completed"


@pytest.mark.usefixtures("instrumented")
def test_legacy_completion_stream(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    stream = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say", stream=True)
    texts = [c.choices[0].text for c in stream]
    assert texts == [" wor", "ld"]
    assert server.requests_to("/v1/completions")[0].body["stream_options"] == {
        "include_usage": True
    }
    span = only_openai_span()
    assert (span.name, span.span_type) == ("openai.completions", "LLM")
    assert span.outputs == " world"
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["length"]
    assert span.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] > 0
    assert (span.input_tokens, span.output_tokens) == (3, 2)


@pytest.mark.usefixtures("instrumented")
def test_responses_stream(client: openai.OpenAI, server: FakeOpenAIServer) -> None:
    events = list(client.responses.create(model="gpt-4o", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert "stream_options" not in server.requests_to("/v1/responses")[0].body
    span = only_openai_span()
    assert (span.name, span.span_type) == ("openai.responses", "CHAT_MODEL")
    assert span.outputs == {"role": "assistant", "content": "Hi from responses"}
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert span.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] > 0
    assert (span.input_tokens, span.output_tokens) == (11, 4)


@pytest.mark.usefixtures("instrumented")
def test_responses_stream_closed_before_completion(client: openai.OpenAI) -> None:
    with client.responses.create(model="gpt-4o", input="hi", stream=True) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                break
    span = only_openai_span()
    assert span.attributes[sc.LLM_STREAM_END] == "closed"
    assert span.outputs == {"role": "assistant", "content": "Hi from"}
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "resp_fake_1"
    assert span.input_tokens is None


# --- async -------------------------------------------------------------------------------------


def test_async_chat_stream_identical_chunks(traced: str, server: FakeOpenAIServer) -> None:
    async def read(aclient: openai.AsyncOpenAI) -> list[Any]:
        stream = await aclient.chat.completions.create(
            model="gpt-4o-mini", messages=USER_HI, stream=True
        )
        assert type(stream) is openai.AsyncStream
        return [chunk async for chunk in stream]

    baseline = _dump(run_async(server, read))
    llmtrace.instrument("openai")
    try:
        chunks = run_async(server, read)
    finally:
        llmtrace.uninstrument("openai")
    assert _dump(chunks) == baseline
    span = only_openai_span()
    assert span.attributes[sc.LLM_STREAM_END] == "completed"
    assert span.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] > 0
    assert span.outputs == {"role": "assistant", "content": "Hello there!"}
    assert (span.input_tokens, span.output_tokens) == (12, 5)


@pytest.mark.usefixtures("instrumented")
def test_async_streams_under_gather(server: FakeOpenAIServer) -> None:
    @llmtrace.trace(name="ask")
    async def ask(aclient: openai.AsyncOpenAI, topic: str) -> str:
        stream = await aclient.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": topic}], stream=True
        )
        parts = [c.choices[0].delta.content or "" async for c in stream]
        return "".join(parts)

    @llmtrace.trace(name="main")
    async def main(aclient: openai.AsyncOpenAI) -> list[str]:
        return list(await asyncio.gather(ask(aclient, "a"), ask(aclient, "b")))

    assert run_async(server, main) == ["Hello there!", "Hello there!"]
    trace = only_trace()
    by_id = {s.span_id: s for s in trace.spans}
    spans = openai_spans(trace)
    assert len(spans) == 2
    for span in spans:
        parent = by_id[span.parent_span_id or ""]
        assert parent.name == "ask"
        assert span.inputs["messages"][0]["content"] == parent.inputs["topic"]
        assert span.end_time <= parent.end_time


@pytest.mark.usefixtures("instrumented")
def test_async_stream_closed_early_by_async_with(server: FakeOpenAIServer) -> None:
    async def read_two(aclient: openai.AsyncOpenAI) -> None:
        stream = await aclient.chat.completions.create(
            model="gpt-4o-mini", messages=USER_HI, stream=True
        )
        async with stream:
            await stream.__anext__()
            await stream.__anext__()

    run_async(server, read_two)
    span = only_openai_span()
    assert span.attributes[sc.LLM_STREAM_END] == "closed"
    assert span.outputs == {"role": "assistant", "content": "Hel"}


@pytest.mark.usefixtures("instrumented")
def test_async_responses_stream(server: FakeOpenAIServer) -> None:
    server.script("/v1/responses", lambda req: response_stream(req, pieces=("a", "b", "c")))

    async def read(aclient: openai.AsyncOpenAI) -> list[str]:
        stream = await aclient.responses.create(model="gpt-4o", input="hi", stream=True)
        return [e.type async for e in stream]

    types = run_async(server, read)
    assert types.count("response.output_text.delta") == 3
    span = only_openai_span()
    assert span.outputs == {"role": "assistant", "content": "abc"}
    assert (span.input_tokens, span.output_tokens) == (11, 4)
    assert span.attributes[sc.LLM_STREAM_END] == "completed"
