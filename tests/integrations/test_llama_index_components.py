"""The LlamaIndex integration on other components: rerankers, structured outputs, tools,
agents, ingestion, and LlamaIndex LLMs calling the instrumented OpenAI client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, LLMMetadata
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

import llmtrace
from llmtrace import semconv as sc
from tests.integrations import test_llama_index as base
from tests.integrations.fake_openai_server import FakeOpenAIServer
from tests.integrations.test_llama_index import (
    DOCS,
    MODEL,
    MeteredLLM,
    by_name,
    only_trace,
    shape,
    tracker_is_empty,
)

# The fixtures of the main LlamaIndex test module, shared.
_global_settings = base._global_settings
index = base.index
instrumented = base.instrumented


# --- rerankers, structured outputs, tools ------------------------------------------------------


def test_node_postprocessor_is_a_reranker_span(instrumented: None, index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(
        similarity_top_k=2,
        llm=MockLLM(max_tokens=1),
        node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.5)],
    )
    engine.query("capital?")
    trace = only_trace()
    spans = by_name(trace)
    rerank = spans["SimilarityPostprocessor._postprocess_nodes"]
    assert rerank.span_type == "RERANKER"
    assert rerank.parent_span_id == spans["RetrieverQueryEngine.query"].span_id
    assert len(rerank.outputs) == 2 and rerank.outputs[0]["score"] == pytest.approx(1.0)


class KeywordReranker(BaseNodePostprocessor):
    """Orders nodes by keyword hits, reporting through rerank events as provider rerankers do."""

    keyword: str = "France"
    top_n: int = 1

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        dispatcher = get_dispatcher(__name__)
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle, nodes=nodes, top_n=self.top_n, model_name="keyword-v1"
            )
        )
        ranked = sorted(nodes, key=lambda n: self.keyword not in n.get_content())[: self.top_n]
        reranked = [NodeWithScore(node=n.node, score=1.0) for n in ranked]
        dispatcher.event(ReRankEndEvent(nodes=reranked))
        return reranked


def test_reranker_events_give_query_model_and_documents(
    instrumented: None, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(
        similarity_top_k=4, llm=MockLLM(max_tokens=1), node_postprocessors=[KeywordReranker()]
    )
    engine.query("capital of France?")
    spans = by_name(only_trace())
    rerank = spans["KeywordReranker._postprocess_nodes"]
    assert rerank.span_type == "RERANKER"
    assert rerank.parent_span_id == spans["RetrieverQueryEngine.query"].span_id
    assert rerank.model == "keyword-v1"
    assert rerank.attributes[sc.RETRIEVAL_QUERY] == "capital of France?"
    assert rerank.inputs["query"] == "capital of France?" and rerank.inputs["top_n"] == 1
    assert len(rerank.inputs["documents"]) == 4
    [best] = rerank.outputs
    assert (best["content"], best["score"]) == (DOCS[0], 1.0)
    assert json.loads(rerank.attributes[sc.RETRIEVAL_DOCUMENTS]) == rerank.outputs


class City(BaseModel):
    name: str
    country: str


def test_structured_predict_is_one_llm_span_with_the_parsed_output(instrumented: None) -> None:
    llmtrace.pricing.set_price(MODEL, input=2.0, output=8.0)
    llm = MeteredLLM(answer='{"name": "Paris", "country": "France"}')
    city = llm.structured_predict(City, PromptTemplate("Capital of {country}?"), country="France")
    assert city == City(name="Paris", country="France")
    trace = only_trace()
    # The text-completion program and its output parser are part of the call: the inner
    # predict/complete collapse into the structured_predict span.
    assert shape(trace) == [("MeteredLLM.structured_predict", "LLM", [])]
    span = trace.spans[0]
    assert span.outputs == {"name": "Paris", "country": "France"}
    assert "Capital of France?" in span.inputs["prompt"]
    assert (span.input_tokens, span.output_tokens) == (40, 7)
    assert trace.info.cost == pytest.approx((40 * 2.0 + 7 * 8.0) / 1e6)


def test_tool_span_is_named_after_the_tool(instrumented: None) -> None:
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    tool = FunctionTool.from_defaults(fn=multiply)
    assert tool.call(a=6, b=7).content == "42"
    span = only_trace().spans[0]
    assert (span.name, span.span_type, span.status) == ("multiply", "TOOL", "OK")
    assert span.inputs == {"a": 6, "b": 7}
    assert span.outputs == "42"
    assert span.attributes[sc.GEN_AI_TOOL_NAME] == "multiply"
    assert "Multiply two integers." in span.attributes[sc.GEN_AI_TOOL_DESCRIPTION]


# --- agents ---------------------------------------------------------------------------------


def test_function_agent_run_is_an_agent_span_with_steps_llm_calls_and_tools(
    instrumented: None,
) -> None:
    def multiply(a: int = 6, b: int = 7) -> int:
        """Multiply two integers."""
        return a * b

    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(fn=multiply)], llm=MockFunctionCallingLLM()
    )

    async def main() -> str:
        return str(await agent.run("What is 6 times 7?"))

    assert asyncio.run(main()) == "Tool calls complete."
    trace = only_trace()
    step = "BaseWorkflowAgent."
    llm = ("MockFunctionCallingLLM.astream_chat", "CHAT_MODEL", [])
    assert shape(trace) == [
        (
            "FunctionAgent.run",
            "AGENT",
            [
                (step + "init_run", "CHAIN", []),
                (step + "setup_agent", "CHAIN", []),
                (step + "run_agent_step", "CHAIN", [llm]),
                (step + "parse_agent_output", "CHAIN", []),
                (step + "call_tool", "CHAIN", [("multiply", "TOOL", [])]),
                (step + "aggregate_tool_results", "CHAIN", []),
                (step + "setup_agent", "CHAIN", []),
                (step + "run_agent_step", "CHAIN", [llm]),
                (step + "parse_agent_output", "CHAIN", []),
            ],
        )
    ]
    assert all(s.status == "OK" for s in trace.spans)
    tool = next(s for s in trace.spans if s.name == "multiply")
    assert (tool.inputs, tool.outputs) == ({"a": 6, "b": 7}, "42")
    first_call = next(s for _, s in trace.walk() if s.span_type == "CHAT_MODEL")
    assert first_call.inputs == {"messages": [{"role": "user", "content": "What is 6 times 7?"}]}
    [call] = first_call.outputs["tool_calls"]
    assert (call["name"], call["arguments"]) == ("multiply", {"a": 6, "b": 7})
    assert json.loads(first_call.attributes[sc.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "multiply"
    steps = [s for s in trace.spans if s.name.startswith(step)]
    assert all("ctx" not in s.inputs for s in steps)  # the workflow Context is plumbing
    assert tracker_is_empty()


def test_ingestion_is_one_embedding_span_per_batch(traced: str) -> None:
    llmtrace.instrument("llama_index")
    try:
        documents = [Document(text=text) for text in DOCS]
        VectorStoreIndex.from_documents(documents, embed_model=MockEmbedding(embed_dim=8))
    finally:
        llmtrace.uninstrument("llama_index")
    trace = only_trace()
    # Splitting documents into nodes is transparent; the batch embedding is the one span.
    assert shape(trace) == [("MockEmbedding.get_text_embedding_batch", "EMBEDDING", [])]
    span = trace.spans[0]
    assert span.inputs["texts"] == DOCS
    assert span.outputs == {"count": 4, "dimensions": 8}


# --- a LlamaIndex LLM on the instrumented OpenAI client ---------------------------------------


class OpenAIChatLLM(MeteredLLM):
    """What llama-index-llms-openai does: call the OpenAI client, return its completion as
    `raw` and its token counts in `additional_kwargs`."""

    base_url: str = ""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model, is_chat_model=True)

    @llm_chat_callback()
    def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        client = openai.OpenAI(base_url=self.base_url, api_key="sk-test", max_retries=0)
        completion = client.chat.completions.create(
            model=self.model,
            messages=[{"role": m.role.value, "content": m.content} for m in messages],
        )
        usage = completion.usage
        assert usage is not None
        return ChatResponse(
            message=ChatMessage(role="assistant", content=completion.choices[0].message.content),
            raw=completion,
            additional_kwargs={
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
            },
        )


def test_openai_call_inside_a_llama_index_llm_nests_and_is_counted_once(
    instrumented: None,
) -> None:
    llmtrace.pricing.set_price(MODEL, input=2.0, output=8.0)
    llmtrace.instrument("openai")
    try:
        with FakeOpenAIServer() as server:
            llm = OpenAIChatLLM(base_url=server.base_url)
            llm.chat([ChatMessage(role="user", content="Capital of France?")])
    finally:
        llmtrace.uninstrument("openai")
    trace = only_trace()
    assert shape(trace) == [
        ("OpenAIChatLLM.chat", "CHAT_MODEL", [("openai.chat.completions", "CHAT_MODEL", [])])
    ]
    outer, inner = by_name(trace)["OpenAIChatLLM.chat"], by_name(trace)["openai.chat.completions"]
    # Both report the call's 12 + 5 tokens (the fake server's usage); the trace counts it once.
    assert (outer.input_tokens, outer.output_tokens) == (12, 5)
    assert (inner.input_tokens, inner.output_tokens) == (12, 5)
    assert outer.attributes[sc.USAGE_AGGREGATE] is False
    assert sc.USAGE_AGGREGATE not in inner.attributes
    assert outer.attributes[sc.GEN_AI_RESPONSE_MODEL] == MODEL  # raw.model
    assert outer.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert (trace.info.input_tokens, trace.info.output_tokens) == (12, 5)
    assert trace.info.cost == pytest.approx((12 * 2.0 + 5 * 8.0) / 1e6)
    assert tracker_is_empty()
