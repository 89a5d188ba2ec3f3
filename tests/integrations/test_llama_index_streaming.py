"""Streaming through the LlamaIndex integration: spans stay open until the stream ends, the
time to first token is recorded, and the user receives exactly what LlamaIndex produced."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from datetime import timezone
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse, CompletionResponseGen
from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.llms.callbacks import llm_completion_callback

import llmtrace
from llmtrace import semconv as sc
from tests.integrations import test_llama_index as base
from tests.integrations.test_llama_index import (
    ANSWER,
    MODEL,
    KwargsChatLLM,
    MeteredLLM,
    by_name,
    installed_handlers,
    only_trace,
    shape,
    tracker_is_empty,
)
from tests.tracing.conftest import stored_traces

# The fixtures of the main LlamaIndex test module, shared.
_global_settings = base._global_settings
index = base.index
instrumented = base.instrumented

DELAY = 0.02  # between streamed words; ANSWER has 6 words
WORDS = ANSWER.split(" ")


def open_span_names() -> set[str]:
    handlers = installed_handlers()
    assert handlers is not None
    return {r.kind.name for r in handlers[0]._tracker.open_records()}


def ns(span: llmtrace.Span, which: str) -> int:
    value = getattr(span, which)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1e9)


def before(a: int, b: int) -> bool:
    """a <= b, give or take the store's microsecond rounding."""
    return a <= b + 2_000


def stream_tree(llm_span: str) -> list[Any]:
    return [
        (
            "RetrieverQueryEngine.query",
            "CHAIN",
            [
                (
                    "VectorIndexRetriever.retrieve",
                    "RETRIEVER",
                    [("MockEmbedding.get_query_embedding", "EMBEDDING", [])],
                ),
                ("CompactAndRefine.synthesize", "CHAIN", [(llm_span, "LLM", [])]),
            ],
        )
    ]


def test_streaming_query_spans_end_when_the_stream_is_exhausted(
    instrumented: None, index: VectorStoreIndex
) -> None:
    llmtrace.pricing.set_price(MODEL, input=2.0, output=8.0)
    engine = index.as_query_engine(similarity_top_k=2, llm=MeteredLLM(delay=DELAY), streaming=True)
    started = time.time_ns()
    response = engine.query("capital of France?")
    assert type(response) is StreamingResponse
    # LlamaIndex has left the query and synthesizer spans; llmtrace keeps them open.
    assert open_span_names() == {"RetrieverQueryEngine.query", "CompactAndRefine.synthesize"}

    tokens = []
    for token in response.response_gen:
        tokens.append(token)
    exhausted = time.time_ns()
    assert "".join(tokens) == ANSWER and len(tokens) == len(WORDS)

    trace = only_trace()
    # The LLM is called lazily, while the caller iterates, outside any LlamaIndex span; it
    # still nests under the synthesizer.
    assert shape(trace) == stream_tree("MeteredLLM.stream")
    spans = by_name(trace)
    llm = spans["MeteredLLM.stream"]
    synthesizer = spans["CompactAndRefine.synthesize"]
    query = spans["RetrieverQueryEngine.query"]
    assert all(s.status == "OK" for s in trace.spans)

    ttft = llm.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS]
    assert DELAY * 1000 <= ttft < llm.duration_ms
    assert llm.attributes[sc.LLM_STREAMING] is True
    assert llm.duration_ms >= len(WORDS) * DELAY * 1000
    # Children end before their parents, all after the last token and before we returned.
    assert before(ns(llm, "end_time"), ns(synthesizer, "end_time"))
    assert before(ns(synthesizer, "end_time"), ns(query, "end_time"))
    assert before(started, ns(query, "start_time"))
    assert before(ns(query, "end_time"), exhausted)
    assert query.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] >= ttft
    assert query.outputs == ANSWER and synthesizer.outputs == ANSWER
    assert llm.outputs == ANSWER

    # Usage arrives with the last chunk.
    assert (llm.input_tokens, llm.output_tokens) == (40, 7)
    assert llm.cost == pytest.approx((40 * 2.0 + 7 * 8.0) / 1e6)
    assert (trace.info.input_tokens, trace.info.output_tokens) == (40, 7)
    assert tracker_is_empty()


def test_stream_chat_span_ends_after_the_last_chunk(instrumented: None) -> None:
    llm = KwargsChatLLM(delay=DELAY)
    stream = llm.stream_chat([ChatMessage(role="user", content="Capital of France?")])
    returned = time.time_ns()
    assert open_span_names() == {"KwargsChatLLM.stream_chat"}
    deltas = [chunk.delta for chunk in stream]
    exhausted = time.time_ns()
    assert "".join(d or "" for d in deltas) == ANSWER

    span = only_trace().spans[0]
    assert (span.name, span.span_type, span.status) == (
        "KwargsChatLLM.stream_chat",
        "CHAT_MODEL",
        "OK",
    )
    assert ns(span, "end_time") >= returned + len(WORDS) * DELAY * 1e9 * 0.9
    assert before(ns(span, "end_time"), exhausted)
    assert DELAY * 1000 <= span.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] < span.duration_ms
    assert span.attributes[sc.LLM_STREAMING] is True
    assert span.inputs == {"messages": [{"role": "user", "content": "Capital of France?"}]}
    assert span.outputs == {"role": "assistant", "content": ANSWER}
    assert (span.input_tokens, span.output_tokens) == (40, 7)
    assert tracker_is_empty()


def test_async_streaming_query(instrumented: None, index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(similarity_top_k=2, llm=MeteredLLM(delay=DELAY), streaming=True)

    async def main() -> list[str]:
        response = await engine.aquery("capital of France?")
        assert type(response) is AsyncStreamingResponse
        return [token async for token in response.async_response_gen()]

    assert "".join(asyncio.run(main())) == ANSWER
    trace = only_trace()
    assert shape(trace) == [
        (
            "RetrieverQueryEngine.aquery",
            "CHAIN",
            [
                (
                    "VectorIndexRetriever.aretrieve",
                    "RETRIEVER",
                    [("MockEmbedding.aget_query_embedding", "EMBEDDING", [])],
                ),
                # CustomLLM.astream_complete calls stream_complete lazily, inside the generator
                # it returns: that call is part of the astream span, not a sibling.
                ("CompactAndRefine.asynthesize", "CHAIN", [("MeteredLLM.astream", "LLM", [])]),
            ],
        )
    ]
    spans = by_name(trace)
    llm = spans["MeteredLLM.astream"]
    assert llm.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] >= DELAY * 1000
    assert llm.duration_ms >= len(WORDS) * DELAY * 1000
    assert (llm.input_tokens, llm.output_tokens) == (40, 7)
    assert (trace.info.input_tokens, trace.info.output_tokens) == (40, 7)  # counted once
    assert spans["RetrieverQueryEngine.aquery"].outputs == ANSWER
    assert all(s.status == "OK" for s in trace.spans)
    assert tracker_is_empty()


def test_direct_async_stream_is_one_span(instrumented: None) -> None:
    async def main() -> str:
        stream = await MeteredLLM(delay=DELAY).astream_complete("Capital of France?")
        return "".join([chunk.delta or "" async for chunk in stream])

    assert asyncio.run(main()) == ANSWER
    span = only_trace().spans[0]
    assert len(only_trace().spans) == 1
    assert (span.name, span.status) == ("MeteredLLM.astream_complete", "OK")
    assert span.inputs == {"prompt": "Capital of France?"}
    assert span.outputs == ANSWER
    assert span.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] >= DELAY * 1000
    assert (span.input_tokens, span.output_tokens) == (40, 7)
    assert tracker_is_empty()


def test_stream_closed_early_ends_every_span(instrumented: None, index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(similarity_top_k=1, llm=MeteredLLM(), streaming=True)
    response = engine.query("capital?")
    first = next(response.response_gen)
    response.response_gen.close()
    trace = only_trace()
    spans = by_name(trace)
    assert spans["RetrieverQueryEngine.query"].outputs == first == "Paris"
    assert all(s.status == "OK" for s in trace.spans)  # stopping early is not an error
    assert tracker_is_empty()


def test_stream_never_iterated_ends_when_collected(
    instrumented: None, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(similarity_top_k=1, llm=MeteredLLM(), streaming=True)
    response = engine.query("capital?")
    assert open_span_names()
    del response
    gc.collect()
    assert {s.name for s in only_trace().spans} >= {"RetrieverQueryEngine.query"}
    assert tracker_is_empty()


class BrokenStreamLLM(MeteredLLM):
    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text="Par", delta="Par")
            raise ConnectionError("stream cut")

        return gen()


def test_error_in_the_middle_of_a_stream(instrumented: None, index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(similarity_top_k=1, llm=BrokenStreamLLM(), streaming=True)
    response = engine.query("capital?")
    received = []
    with pytest.raises(ConnectionError, match="stream cut"):
        for token in response.response_gen:
            received.append(token)
    assert received == ["Par"]
    spans = by_name(only_trace())
    for name in (
        "BrokenStreamLLM.stream",
        "CompactAndRefine.synthesize",
        "RetrieverQueryEngine.query",
    ):
        assert spans[name].status == "ERROR", name
        assert spans[name].attributes[sc.ERROR_TYPE] == "ConnectionError"
    assert spans["VectorIndexRetriever.retrieve"].status == "OK"
    assert tracker_is_empty()


def test_streaming_chat_engine_span_ends_when_the_reply_is_written(instrumented: None) -> None:
    engine = SimpleChatEngine.from_defaults(llm=KwargsChatLLM(delay=DELAY))
    response = engine.stream_chat("Capital of France?")
    text = "".join(response.response_gen)
    assert text.strip() == ANSWER
    trace = only_trace()
    assert shape(trace) == [
        (
            "SimpleChatEngine.stream_chat",
            "CHAIN",
            [("KwargsChatLLM.stream_chat", "CHAT_MODEL", [])],
        )
    ]
    spans = by_name(trace)
    chat, llm = spans["SimpleChatEngine.stream_chat"], spans["KwargsChatLLM.stream_chat"]
    assert before(ns(llm, "end_time"), ns(chat, "end_time"))
    assert chat.duration_ms >= len(WORDS) * DELAY * 1000
    assert chat.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] >= DELAY * 1000
    assert all(s.status == "OK" for s in trace.spans)
    assert tracker_is_empty()


def test_concurrent_streams_keep_their_own_trees(
    instrumented: None, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(similarity_top_k=1, llm=MeteredLLM(delay=0.005), streaming=True)
    questions: Sequence[str] = ("capital of France?", "capital of Spain?", "capital of Italy?")

    async def one(question: str) -> str:
        response = await engine.aquery(question)
        return "".join([t async for t in response.async_response_gen()])

    async def main() -> list[str]:
        return await asyncio.gather(*(one(q) for q in questions))

    assert asyncio.run(main()) == [ANSWER] * 3
    traces = stored_traces()
    assert len(traces) == 3
    for trace in traces:
        spans = by_name(trace)
        question = spans["RetrieverQueryEngine.aquery"].inputs["str_or_query_bundle"]
        assert question in spans["MeteredLLM.astream"].inputs["prompt"]
        assert (
            spans["MeteredLLM.astream"].parent_span_id
            == spans["CompactAndRefine.asynthesize"].span_id
        )
    assert tracker_is_empty()


def test_async_stream_closed_early_ends_every_span(
    instrumented: None, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(similarity_top_k=1, llm=MeteredLLM(), streaming=True)

    async def main() -> str:
        response = await engine.aquery("capital?")
        stream = response.response_gen
        first: str = await stream.__anext__()
        await stream.aclose()
        return first

    assert asyncio.run(main()) == "Paris"
    trace = only_trace()
    assert by_name(trace)["RetrieverQueryEngine.aquery"].outputs == "Paris"
    assert all(s.status == "OK" for s in trace.spans)
    assert tracker_is_empty()


def test_async_streaming_chat_engine(instrumented: None) -> None:
    engine = SimpleChatEngine.from_defaults(llm=KwargsChatLLM(delay=DELAY))

    async def main() -> str:
        response = await engine.astream_chat("Capital of France?")
        return "".join([token async for token in response.async_response_gen()])

    assert asyncio.run(main()).strip() == ANSWER
    trace = only_trace()
    assert shape(trace) == [
        (
            "SimpleChatEngine.astream_chat",
            "CHAIN",
            [("KwargsChatLLM.astream_chat", "CHAT_MODEL", [])],
        )
    ]
    spans = by_name(trace)
    chat, llm = spans["SimpleChatEngine.astream_chat"], spans["KwargsChatLLM.astream_chat"]
    assert before(ns(llm, "end_time"), ns(chat, "end_time"))
    assert chat.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] >= DELAY * 1000
    assert llm.outputs == {"role": "assistant", "content": ANSWER}
    assert tracker_is_empty()


def test_dispatcher_shutdown_ends_open_spans(instrumented: None) -> None:
    stream = MeteredLLM().stream_complete("hi")
    next(stream)
    get_dispatcher().shutdown()
    span = only_trace().spans[0]
    assert (span.name, span.status) == ("MeteredLLM.stream_complete", "OK")
    assert tracker_is_empty()
    list(stream)
