"""How the LlamaIndex integration reads LlamaIndex objects: usage in every provider shape,
models, parameters, tool calls, documents."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ToolCallBlock,
)
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from llmtrace import semconv as sc
from llmtrace.integrations.llama_index import _extract as ex
from llmtrace.integrations.llama_index._kinds import classify, span_name
from llmtrace.pricing import Usage
from llmtrace.semconv import SpanType


def completion(raw: Any = None, **additional: Any) -> CompletionResponse:
    return CompletionResponse(text="ok", raw=raw, additional_kwargs=additional)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {
                "usage": {
                    "prompt_tokens": 1200,
                    "completion_tokens": 300,
                    "total_tokens": 1500,
                    "prompt_tokens_details": {"cached_tokens": 1000},
                    "completion_tokens_details": {"reasoning_tokens": 200},
                }
            },
            Usage(1200, 300, 1500, cached_input_tokens=1000, reasoning_tokens=200),
            id="openai-chat-dict",
        ),
        pytest.param(
            SimpleNamespace(
                usage=SimpleNamespace(
                    prompt_tokens=10,
                    completion_tokens=2,
                    total_tokens=12,
                    prompt_tokens_details=None,
                    completion_tokens_details=None,
                )
            ),
            Usage(10, 2, 12),
            id="openai-object",
        ),
        pytest.param(
            {
                "usage": {
                    "input_tokens": 50,
                    "output_tokens": 9,
                    "cache_read_input_tokens": 100,
                    "cache_creation_input_tokens": 25,
                }
            },
            # Anthropic counts cache reads and writes apart; llmtrace's input includes them.
            Usage(175, 9, cached_input_tokens=100, cache_write_tokens=25),
            id="anthropic",
        ),
        pytest.param(
            {
                "usage": {
                    "input_tokens": 80,
                    "output_tokens": 20,
                    "total_tokens": 100,
                    "input_tokens_details": {"cached_tokens": 64},
                    "output_tokens_details": {"reasoning_tokens": 5},
                }
            },
            Usage(80, 20, 100, cached_input_tokens=64, reasoning_tokens=5),
            id="openai-responses",
        ),
        pytest.param(
            {
                "usage_metadata": {
                    "prompt_token_count": 30,
                    "candidates_token_count": 8,
                    "thoughts_token_count": 4,
                    "total_token_count": 42,
                    "cached_content_token_count": 10,
                }
            },
            Usage(30, 12, 42, cached_input_tokens=10, reasoning_tokens=4),
            id="gemini",
        ),
        pytest.param({"usage": {"prompt_tokens": True}}, None, id="booleans-are-not-counts"),
        pytest.param({"model": "x"}, None, id="no-usage"),
        pytest.param(None, None, id="no-raw"),
    ],
)
def test_usage_from_raw(raw: Any, expected: Usage | None) -> None:
    assert ex.usage(completion(raw)) == expected


def test_usage_from_additional_kwargs_and_message_kwargs() -> None:
    response = completion(None, prompt_tokens=7, completion_tokens=3, total_tokens=10)
    assert ex.usage(response) == Usage(7, 3, 10)
    chat = ChatResponse(
        message=ChatMessage(
            role="assistant",
            content="hi",
            additional_kwargs={"input_tokens": 4, "output_tokens": 1},
        )
    )
    assert ex.usage(chat) == Usage(4, 1)
    # raw usage wins over kwargs
    both = completion({"usage": {"prompt_tokens": 1, "completion_tokens": 1}}, prompt_tokens=9)
    assert ex.usage(both) == Usage(1, 1)


def test_response_model_and_finish_reasons() -> None:
    raw = {"model": "gpt-4o-mini-2024-07-18", "choices": [{"finish_reason": "stop"}]}
    response = completion(raw)
    assert ex.response_model(response) == "gpt-4o-mini-2024-07-18"
    assert ex.finish_reasons(response) == ["stop"]
    assert ex.finish_reasons(completion({"stop_reason": "end_turn"})) == ["end_turn"]
    assert ex.finish_reasons(completion(None)) == []
    assert ex.response_model(completion(None)) is None


def test_models_parameters_and_providers() -> None:
    assert ex.model_name({"model_name": "unknown", "model": "gpt-4o"}) == "gpt-4o"
    assert ex.model_name({"model_name": "unknown"}) is None
    params = ex.model_parameters({"temperature": 0.1, "stop": "END", "api_key": "sk-x"})
    assert params == {"temperature": 0.1, "stop": "END"}  # nothing else, never secrets
    attrs = ex.parameter_attributes(params)
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.1
    assert attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ["END"]
    assert json.loads(attrs[sc.LLM_INVOCATION_PARAMETERS]) == params
    assert ex.parameter_attributes({}) == {}

    provider_llm = type("OpenAI", (), {"__module__": "llama_index.llms.openai.base"})()
    assert ex.provider(provider_llm) == "openai"
    core_llm = type("MockLLM", (), {"__module__": "llama_index.core.llms.mock"})()
    assert ex.provider(core_llm) is None
    assert ex.instance_parameters(SimpleNamespace(temperature=0.5, max_tokens=None)) == {
        "temperature": 0.5
    }


def test_messages_and_tool_calls() -> None:
    block = ToolCallBlock(tool_call_id="c1", tool_name="search", tool_kwargs={"q": "x"})
    message = ChatMessage(role="assistant", blocks=[block])
    assert ex.message(message)["tool_calls"] == [
        {"id": "c1", "name": "search", "arguments": {"q": "x"}}
    ]
    openai_style = ChatMessage(
        role="assistant",
        content="",
        additional_kwargs={
            "tool_calls": [
                {"id": "c2", "function": {"name": "add", "arguments": '{"a": 1}'}},
            ]
        },
    )
    assert ex.tool_calls(openai_style) == [{"id": "c2", "name": "add", "arguments": '{"a": 1}'}]
    assert ex.message(ChatMessage(role="user", content="hi")) == {"role": "user", "content": "hi"}


def test_documents_payloads_and_shapes() -> None:
    node = NodeWithScore(node=TextNode(text="t", id_="n", metadata={"k": 1}), score=0.5)
    assert ex.document(node) == {"id": "n", "score": 0.5, "content": "t", "metadata": {"k": 1}}
    assert ex.payload({"q": QueryBundle("why?"), "nodes": [node]}) == {
        "q": "why?",
        "nodes": [{"id": "n", "score": 0.5, "content": "t", "metadata": {"k": 1}}],
    }
    assert ex.embedding_shape([0.1, 0.2]) == {"count": 1, "dimensions": 2}
    assert ex.embedding_shape([[0.1], [0.2]]) == {"count": 2, "dimensions": 1}
    assert ex.embedding_shape([]) is None


def test_kinds() -> None:
    assert span_name("RetrieverQueryEngine.query-1b4e28ba-2fa1-11d2-883f-0016d3cca427") == (
        "RetrieverQueryEngine.query"
    )
    assert classify("run_jobs-1234", None).span_type is None  # transparent
    assert classify("my_function-1234", None).span_type is SpanType.CHAIN
    assert classify("Thing.do-1234", object()).span_type is SpanType.CHAIN
    # Matched by class name through the hierarchy (not imported): sparse embeddings.
    sparse_base = type(
        "BaseSparseEmbedding", (), {"__module__": "llama_index.core.base.embeddings.base_sparse"}
    )
    sparse = type("MySparse", (sparse_base,), {})()
    kind = classify("MySparse.get_query_embedding-1234", sparse)
    assert (kind.span_type, kind.model_span) == (SpanType.EMBEDDING, True)
