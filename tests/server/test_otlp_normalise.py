"""Normalisation of each convention into llmtrace's stored form, with realistic attribute sets
as the instrumentations send them: OpenInference, OTel GenAI (current attributes, the older
flattened keys and the span-event forms), Traceloop/OpenLLMetry, and llmtrace's own spans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmtrace import pricing
from llmtrace.server.otlp import normalise, to_records
from llmtrace.store import SqlStore
from tests.server._otlp_helpers import NOW_NS, make_request, make_span


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    pricing.reset_prices()
    yield
    pricing.reset_prices()


def run(attrs: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = dict(attrs)
    normalise(out, events or [], NOW_NS)
    # The raw attributes are all kept, unchanged.
    assert {k: out[k] for k in attrs} == attrs
    return out


def loads(attrs: dict[str, Any], key: str) -> Any:
    return json.loads(attrs[key])


def event(name: str, **attrs: Any) -> dict[str, Any]:
    return {"name": name, "timestamp_ns": NOW_NS, "attributes": attrs}


# --- OpenInference -----------------------------------------------------------------------------

OI_CHAT = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "gpt-4o-mini-2024-07-18",
    "llm.provider": "openai",
    "llm.system": "openai",
    "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.2}',
    "input.value": '{"messages": [{"role": "system", "content": "Be terse."}], "model": "m"}',
    "input.mime_type": "application/json",
    "output.value": '{"id": "chatcmpl-1", "choices": []}',
    "output.mime_type": "application/json",
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "Be terse.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.contents.0.message_content.type": "text",
    "llm.input_messages.1.message.contents.0.message_content.text": "What is this?",
    "llm.input_messages.1.message.contents.1.message_content.type": "image",
    "llm.input_messages.1.message.contents.1.message_content.image.image.url": "https://x/cat.png",
    "llm.input_messages.2.message.role": "tool",
    "llm.input_messages.2.message.tool_call_id": "call_0",
    "llm.input_messages.2.message.content": "22C",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "weather",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city": "Oslo"}',
    "llm.token_count.prompt": 1200,
    "llm.token_count.completion": 40,
    "llm.token_count.total": 1240,
    "llm.token_count.prompt_details.cache_read": 1000,
}


def test_openinference_chat() -> None:
    out = run(OI_CHAT)
    assert out["llmtrace.span.type"] == "CHAT_MODEL"
    assert out["llmtrace.span.model"] == "gpt-4o-mini-2024-07-18"
    assert out["llmtrace.span.provider"] == "openai"
    assert (out["llmtrace.usage.input_tokens"], out["llmtrace.usage.output_tokens"]) == (1200, 40)
    assert out["llmtrace.usage.total_tokens"] == 1240
    assert out["llmtrace.usage.cached_input_tokens"] == 1000
    assert loads(out, "llmtrace.span.inputs") == {
        "messages": [
            {"role": "system", "content": "Be terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "url": "https://x/cat.png"},
                ],
            },
            {"role": "tool", "content": "22C", "tool_call_id": "call_0"},
        ]
    }
    assert loads(out, "llmtrace.span.outputs") == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "name": "weather", "arguments": '{"city": "Oslo"}'}],
    }
    # Priced with the cached-input rate: 200 x 0.15 + 1000 x 0.075 + 40 x 0.6 per 1M tokens.
    assert out["llmtrace.cost.total"] == pytest.approx(129e-6)
    assert out["llmtrace.cost.price"] == "gpt-4o-mini@2024-07-18"


def test_openinference_llm_without_messages_keeps_input_value() -> None:
    out = run(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "my-local-model",
            "input.value": "Once upon a time",
            "output.value": "there was a span.",
            "llm.token_count.prompt": 4,
        }
    )
    assert out["llmtrace.span.type"] == "LLM"
    assert loads(out, "llmtrace.span.inputs") == "Once upon a time"
    assert loads(out, "llmtrace.span.outputs") == "there was a span."
    assert "llmtrace.cost.total" not in out  # no price for this model: no cost, never $0


def test_openinference_retriever_documents() -> None:
    out = run(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": "what is otlp?",
            "retrieval.documents.0.document.id": "d1",
            "retrieval.documents.0.document.content": "OTLP is a protocol.",
            "retrieval.documents.0.document.score": 0.92,
            "retrieval.documents.0.document.metadata": '{"source": "otlp.md"}',
            "retrieval.documents.1.document.content": "Spans have ids.",
        }
    )
    docs = [
        {
            "id": "d1",
            "score": 0.92,
            "content": "OTLP is a protocol.",
            "metadata": {"source": "otlp.md"},
        },
        {"content": "Spans have ids."},
    ]
    assert out["llmtrace.span.type"] == "RETRIEVER"
    assert loads(out, "llmtrace.retrieval.documents") == docs
    assert loads(out, "llmtrace.span.outputs") == docs
    assert out["llmtrace.retrieval.query"] == "what is otlp?"
    assert loads(out, "llmtrace.span.inputs") == "what is otlp?"


def test_openinference_reranker_embedding_chain_and_tool() -> None:
    reranker = run(
        {
            "openinference.span.kind": "RERANKER",
            "reranker.query": "q",
            "reranker.model_name": "rerank-v3",
            "reranker.output_documents.0.document.content": "best",
            "reranker.output_documents.0.document.score": 3.5,
        }
    )
    assert reranker["llmtrace.span.type"] == "RERANKER"
    assert reranker["llmtrace.span.model"] == "rerank-v3"
    assert loads(reranker, "llmtrace.span.inputs") == {"query": "q"}
    assert loads(reranker, "llmtrace.span.outputs") == [{"score": 3.5, "content": "best"}]

    embedding = run(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "embedding.embeddings.0.embedding.text": "hello",
            "embedding.embeddings.0.embedding.vector": [0.1, 0.2, 0.3],
            "embedding.embeddings.1.embedding.text": "world",
            "llm.token_count.prompt": 2,
            "llm.token_count.total": 2,
        }
    )
    assert embedding["llmtrace.span.type"] == "EMBEDDING"
    assert loads(embedding, "llmtrace.span.inputs") == {"input": ["hello", "world"]}
    assert loads(embedding, "llmtrace.span.outputs") == {"embeddings": 2, "dimensions": 3}
    assert embedding["llmtrace.cost.total"] == pytest.approx(2 * 0.02e-6)

    chain = run(
        {
            "openinference.span.kind": "CHAIN",
            "input.value": '{"question": "hi"}',
            "input.mime_type": "application/json",
            "output.value": "hello",
            "output.mime_type": "text/plain",
            "session.id": "s1",
        }
    )
    assert chain["llmtrace.span.type"] == "CHAIN"
    assert chain["llmtrace.span.inputs"] == '{"question": "hi"}'  # JSON text kept as sent
    assert loads(chain, "llmtrace.span.outputs") == "hello"

    tool = run({"openinference.span.kind": "tool", "tool.name": "calc", "input.value": "1+1"})
    assert tool["llmtrace.span.type"] == "TOOL"


# --- GenAI, current generation -----------------------------------------------------------------

GENAI_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.finish_reasons": ["tool_calls"],
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 20,
    "gen_ai.conversation.id": "conv-7",
    "gen_ai.system_instructions": '[{"type": "text", "content": "You help."}]',
    "gen_ai.input.messages": json.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo?"}]},
            {
                "role": "assistant",
                "parts": [
                    {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"q": "Oslo"}}
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "c1", "response": {"t": 22}}],
            },
        ]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "It is 22C."}],
                "finish_reason": "stop",
            }
        ]
    ),
}


def test_genai_current_chat() -> None:
    out = run(GENAI_CHAT)
    assert out["llmtrace.span.type"] == "CHAT_MODEL"
    assert out["llmtrace.span.model"] == "gpt-4o-2024-08-06"  # the response model wins
    assert out["llmtrace.span.provider"] == "openai"
    assert (out["llmtrace.usage.input_tokens"], out["llmtrace.usage.output_tokens"]) == (100, 20)
    assert out["llmtrace.trace.session_id"] == "conv-7"
    assert loads(out, "llmtrace.span.inputs") == {
        "messages": [
            {"role": "system", "content": "You help."},
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"q": "Oslo"}}],
            },
            {"role": "tool", "content": '{"t":22}', "tool_call_id": "c1"},
        ]
    }
    assert loads(out, "llmtrace.span.outputs") == {"role": "assistant", "content": "It is 22C."}
    assert out["llmtrace.cost.total"] == pytest.approx(100 * 2.5e-6 + 20 * 10e-6)


def test_genai_structured_values_and_operation_details_event() -> None:
    # Newer SDKs may send messages as structured values, or on an event.
    structured = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "m",
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}],
    }
    out = run(structured)
    assert loads(out, "llmtrace.span.inputs") == {"messages": [{"role": "user", "content": "hi"}]}
    text_part = [{"type": "text", "content": "a"}]
    details = event(
        "gen_ai.client.inference.operation.details",
        **{
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": text_part}]),
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": "b"}]}]
            ),
        },
    )
    out = run({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, [details])
    assert loads(out, "llmtrace.span.inputs") == {"messages": [{"role": "user", "content": "a"}]}
    assert loads(out, "llmtrace.span.outputs") == {"role": "assistant", "content": "b"}


def test_genai_tool_agent_embeddings_and_retrieval() -> None:
    tool = run(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "weather",
            "gen_ai.tool.call.arguments": '{"city": "Oslo"}',
            "gen_ai.tool.call.result": '{"t": 22}',
        }
    )
    assert tool["llmtrace.span.type"] == "TOOL"
    assert loads(tool, "llmtrace.span.inputs") == {"city": "Oslo"}
    assert loads(tool, "llmtrace.span.outputs") == {"t": 22}
    assert run({"gen_ai.operation.name": "invoke_agent"})["llmtrace.span.type"] == "AGENT"
    emb = run(
        {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 50,
        }
    )
    assert emb["llmtrace.span.type"] == "EMBEDDING"
    assert emb["llmtrace.cost.total"] == pytest.approx(50 * 0.02e-6)
    retrieval = run(
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.retrieval.query.text": "otlp",
            "gen_ai.retrieval.documents": '[{"id": "a", "score": 0.5}]',
        }
    )
    assert retrieval["llmtrace.span.type"] == "RETRIEVER"
    assert retrieval["llmtrace.retrieval.query"] == "otlp"
    assert loads(retrieval, "llmtrace.retrieval.documents") == [{"id": "a", "score": 0.5}]


# --- GenAI, older generation -------------------------------------------------------------------


def test_genai_old_flattened_prompt_and_completion_keys() -> None:
    out = run(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 12,
            "gen_ai.usage.completion_tokens": 5,
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": '[{"type": "text", "text": "Hi"}]',
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Hello!",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.completion.1.role": "assistant",
            "gen_ai.completion.1.tool_calls.0.id": "t1",
            "gen_ai.completion.1.tool_calls.0.name": "f",
            "gen_ai.completion.1.tool_calls.0.arguments": "{}",
        }
    )
    assert out["llmtrace.span.type"] == "CHAT_MODEL"
    assert out["llmtrace.span.provider"] == "openai"
    assert (out["llmtrace.usage.input_tokens"], out["llmtrace.usage.output_tokens"]) == (12, 5)
    assert loads(out, "llmtrace.span.inputs") == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    }
    assert loads(out, "llmtrace.span.outputs") == [
        {"role": "assistant", "content": "Hello!"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "t1", "name": "f", "arguments": "{}"}],
        },
    ]
    assert out["llmtrace.cost.total"] == pytest.approx(12 * 0.15e-6 + 5 * 0.6e-6)


def test_genai_message_events() -> None:
    events = [
        event("gen_ai.system.message", content="Be brief.", **{"gen_ai.system": "openai"}),
        event("gen_ai.user.message", **{"gen_ai.event.content": '{"content": "Hi"}'}),
        event(
            "gen_ai.choice",
            **{
                "gen_ai.event.content": json.dumps(
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "c1",
                                    "type": "function",
                                    "function": {"name": "f", "arguments": "{}"},
                                }
                            ],
                        },
                    }
                )
            },
        ),
    ]
    out = run({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, events)
    assert loads(out, "llmtrace.span.inputs") == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    }
    assert loads(out, "llmtrace.span.outputs") == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "name": "f", "arguments": "{}"}],
    }


def test_genai_content_prompt_and_completion_events() -> None:
    events = [
        event("gen_ai.content.prompt", **{"gen_ai.prompt": '[{"role": "user", "content": "Q"}]'}),
        event("gen_ai.content.completion", **{"gen_ai.completion": '[{"content": "A"}]'}),
    ]
    out = run({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-x"}, events)
    assert loads(out, "llmtrace.span.inputs") == {"messages": [{"role": "user", "content": "Q"}]}
    assert loads(out, "llmtrace.span.outputs") == {"role": "assistant", "content": "A"}
    assert out["llmtrace.span.type"] == "CHAT_MODEL"


# --- Traceloop / OpenLLMetry -------------------------------------------------------------------


def test_traceloop_workflow_and_task() -> None:
    out = run(
        {
            "traceloop.span.kind": "workflow",
            "traceloop.workflow.name": "joke_generator",
            "traceloop.entity.name": "joke_generator",
            "traceloop.entity.input": '{"args": ["cats"], "kwargs": {}}',
            "traceloop.entity.output": '"A cat walks into a bar."',
            "traceloop.association.properties.session_id": "sess-1",
            "traceloop.association.properties.user_id": "u-9",
        }
    )
    assert out["llmtrace.span.type"] == "CHAIN"
    assert loads(out, "llmtrace.span.inputs") == {"args": ["cats"], "kwargs": {}}
    assert loads(out, "llmtrace.span.outputs") == "A cat walks into a bar."
    assert out["llmtrace.trace.session_id"] == "sess-1"
    assert out["llmtrace.trace.user_id"] == "u-9"
    assert run({"traceloop.span.kind": "agent"})["llmtrace.span.type"] == "AGENT"
    assert run({"traceloop.span.kind": "tool"})["llmtrace.span.type"] == "TOOL"


def test_traceloop_llm_span() -> None:
    out = run(
        {
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "llm.usage.total_tokens": 25,
            "gen_ai.usage.prompt_tokens": 20,
            "gen_ai.usage.completion_tokens": 5,
            "gen_ai.usage.cache_read_input_tokens": 0,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Tell me a joke",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Why did the span cross the road?",
            "gen_ai.completion.0.finish_reason": "stop",
        }
    )
    assert out["llmtrace.span.type"] == "CHAT_MODEL"
    assert out["llmtrace.span.model"] == "gpt-4o-2024-08-06"
    assert out["llmtrace.usage.total_tokens"] == 25
    assert (out["llmtrace.usage.input_tokens"], out["llmtrace.usage.output_tokens"]) == (20, 5)
    assert loads(out, "llmtrace.span.inputs") == {
        "messages": [{"role": "user", "content": "Tell me a joke"}]
    }
    assert loads(out, "llmtrace.span.outputs")["content"] == "Why did the span cross the road?"
    assert out["llmtrace.cost.total"] == pytest.approx(20 * 2.5e-6 + 5 * 10e-6)


# --- llmtrace's own spans, plain spans, pricing ------------------------------------------------


def test_llmtrace_spans_are_left_alone() -> None:
    own = {
        "llmtrace.span.type": "CHAT_MODEL",
        "llmtrace.span.inputs": '{"messages": []}',
        "gen_ai.request.model": "gpt-4o-mini",
        "llmtrace.usage.input_tokens": 10,
        "gen_ai.prompt.0.content": "not read",
    }
    assert run(own) == own  # nothing added, not even a cost: llmtrace priced it (or could not)


def test_plain_spans_get_nothing() -> None:
    plain = {"http.request.method": "GET", "url.path": "/"}
    assert run(plain) == plain


def test_span_keys_win_over_mapped_ones() -> None:
    out = run({**OI_CHAT, "llmtrace.span.model": "mine", "llmtrace.cost.total": 1.5})
    assert out["llmtrace.span.model"] == "mine"
    assert out["llmtrace.cost.total"] == 1.5 and "llmtrace.cost.price" not in out


def test_cost_uses_the_price_in_force_on_the_span_start_day() -> None:
    pricing.set_price("house-model", input=1, output=1, valid_from="2020-01-01")
    pricing.set_price("house-model", input=2, output=2, valid_from="2025-06-01")
    attrs = {"gen_ai.request.model": "house-model", "gen_ai.usage.input_tokens": 1_000_000}
    before = dict(attrs)
    normalise(before, [], 1_700_000_000 * 10**9)  # 2023-11
    after = dict(attrs)
    normalise(after, [], NOW_NS)  # 2025-06-15
    assert (before["llmtrace.cost.total"], after["llmtrace.cost.total"]) == (1.0, 2.0)


def test_normalised_spans_are_stored_with_columns_and_raw_attributes(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'n.db'}")
    try:
        root = make_span("agent", attrs={"openinference.span.kind": "AGENT"})
        llm = make_span("llm", trace=root.trace_id, parent=root.span_id, attrs=OI_CHAT)
        store.log_spans(
            to_records(make_request(root, llm, resource={"llmtrace.project": "p"})).records
        )
        trace = store.get_trace(root.trace_id.hex())
        assert trace.info.project == "p"
        assert (trace.info.input_tokens, trace.info.output_tokens) == (1200, 40)
        assert trace.info.cost == pytest.approx(129e-6)
        span = next(s for s in trace.spans if s.name == "llm")
        assert (span.span_type, span.model, span.input_tokens) == (
            "CHAT_MODEL",
            "gpt-4o-mini-2024-07-18",
            1200,
        )
        assert span.inputs["messages"][0] == {"role": "system", "content": "Be terse."}
        assert span.outputs["tool_calls"][0]["name"] == "weather"
        assert span.attributes["llm.input_messages.0.message.content"] == "Be terse."  # raw kept
        assert next(s for s in trace.spans if s.name == "agent").span_type == "AGENT"
    finally:
        store.close()


# --- robustness: any value under any known key ----------------------------------------------

ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    2**63 - 1,
    1.5,
    float("nan"),
    float("inf"),
    True,
    "",
    "x",
    "[",
    "[{",
    "{}",
    "[1, 2]",
    '[{"parts": 5, "role": [1]}]',
    '[{"role": "user", "parts": [5, {"type": "tool_call_response", "response": {"a": 1}}]}]',
    '[{"tool_calls": "nope", "content": [{"type": "image_url", "image_url": "u"}, 3]}]',
    '{"message": 5}',
    [],
    [1, "a", None],
    [{"parts": None}, "x"],
    {"k": [1]},
    {"parts": "x", "message": {"tool_calls": [5, {"function": "f"}]}},
]
ODD_KEYS = sorted(
    {
        *OI_CHAT,
        *GENAI_CHAT,
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.prompt.0.content",
        "gen_ai.prompt.0.tool_calls.0.name",
        "gen_ai.completion.0.function_call.name",
        "gen_ai.retrieval.documents",
        "gen_ai.retrieval.query.text",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.usage.cache_read.input_tokens",
        "traceloop.span.kind",
        "traceloop.entity.input",
        "traceloop.association.properties.session_id",
        "llm.request.type",
        "llm.usage.total_tokens",
        "llm.prompts.0.prompt.text",
        "retrieval.documents.0.document.metadata",
        "retrieval.documents.0.document.content",
        "embedding.embeddings.0.embedding.vector",
        "reranker.query",
        "llm.input_messages.\u00b2.message.role",  # a digit int() refuses
        "llm.input_messages." + "9" * 5000 + ".message.role",
    }
)
ODD_EVENTS = [
    event("gen_ai.user.message", **{"gen_ai.event.content": "[1]"}),
    event("gen_ai.choice", message='{"tool_calls": [{"function": 3}]}'),
    event("gen_ai.choice", **{"gen_ai.event.content": '{"message": [1]}'}),
    event("gen_ai.content.prompt", **{"gen_ai.prompt": "[5, {}]"}),
    event("gen_ai.client.inference.operation.details", **{"gen_ai.input.messages": 5}),
    {"name": "gen_ai.tool.message", "timestamp_ns": 0, "attributes": {}},
]


@pytest.mark.parametrize("kind", ["LLM", "RETRIEVER", "EMBEDDING", "RERANKER", "CHAIN", 5, None])
def test_no_value_under_any_known_key_breaks_normalisation(kind: Any) -> None:
    for key in ODD_KEYS:
        for value in ODD_VALUES:
            attrs = {**OI_CHAT, **GENAI_CHAT, "openinference.span.kind": kind, key: value}
            normalise(attrs, list(ODD_EVENTS), NOW_NS)  # must not raise
            for stored in ("llmtrace.span.inputs", "llmtrace.span.outputs"):
                if stored in attrs:
                    assert isinstance(attrs[stored], str)
