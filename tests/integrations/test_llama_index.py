"""The LlamaIndex integration, on real llama-index-core objects (mock LLM and embeddings, no
network): query span trees, what each span captures, usage and cost, errors, concurrency, and
instrument/uninstrument. The fakes and fixtures defined here are shared by
test_llama_index_components.py (rerankers, tools, agents, OpenAI) and
test_llama_index_streaming.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.llms import CustomLLM, MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

import llmtrace
from llmtrace import semconv as sc
from llmtrace.integrations.llama_index import installed_handlers
from tests.tracing.conftest import only_trace, stored_traces

MODEL = "li-test-model"  # a made-up model, priced by the tests that need a cost
ANSWER = "Paris is the capital of France"
DOCS = [
    "Paris is the capital of France.",
    "Berlin is the capital of Germany.",
    "Madrid is the capital of Spain.",
    "Rome is the capital of Italy.",
]


class MeteredLLM(CustomLLM):
    """A completion LLM whose responses carry OpenAI-style usage in `raw`, like provider LLMs.

    Streams the answer word by word, `delay` seconds apart; usage comes with the last chunk.
    """

    model: str = MODEL
    answer: str = ANSWER
    delay: float = 0.0
    prompt_tokens: int = 40
    completion_tokens: int = 7
    temperature: float = 0.2

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    def _usage(self) -> dict[str, Any]:
        return {
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            }
        }

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.answer, raw=self._usage())

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        words = self.answer.split(" ")

        def gen() -> CompletionResponseGen:
            text = ""
            for i, word in enumerate(words):
                time.sleep(self.delay)
                delta = word if i == 0 else " " + word
                text += delta
                last = i == len(words) - 1
                yield CompletionResponse(
                    text=text, delta=delta, raw=self._usage() if last else None
                )

        return gen()


class KwargsChatLLM(MeteredLLM):
    """A chat model reporting usage the way llama-index-llms-openai does: in additional_kwargs."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model, is_chat_model=True)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return ChatResponse(
            message=ChatMessage(role="assistant", content=self.answer),
            additional_kwargs={"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        )


class ListRetriever(BaseRetriever):
    """Returns fixed nodes; optionally fails, or calls `hook` (to nest other work inside)."""

    def __init__(self, fail: BaseException | None = None, hook: Any = None) -> None:
        super().__init__()
        self._fail = fail
        self._hook = hook

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self._fail is not None:
            raise self._fail
        if self._hook is not None:
            self._hook(query_bundle.query_str)
        node = TextNode(text="Paris is the capital of France.", id_="n1", metadata={"page": 3})
        return [NodeWithScore(node=node, score=0.9)]


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _global_settings() -> Iterator[None]:
    """Tests pass models explicitly; restore LlamaIndex's global Settings whatever happens."""
    saved = (Settings._llm, Settings._embed_model)
    Settings.llm = MockLLM(max_tokens=5)
    Settings.embed_model = MockEmbedding(embed_dim=8)
    yield
    Settings._llm, Settings._embed_model = saved


@pytest.fixture
def index() -> VectorStoreIndex:
    """A small in-memory index, built before tracing starts (no ingestion spans)."""
    documents = [Document(text=text, id_=f"doc-{i}") for i, text in enumerate(DOCS)]
    return VectorStoreIndex.from_documents(documents, embed_model=MockEmbedding(embed_dim=8))


@pytest.fixture
def instrumented(traced: str, index: VectorStoreIndex) -> Iterator[None]:
    """Tracing into a temporary store with the LlamaIndex integration on (after `index` is
    built, so that its ingestion is not traced)."""
    llmtrace.instrument("llama_index")
    yield
    llmtrace.uninstrument("llama_index")


def shape(trace: llmtrace.Trace) -> list[Any]:
    """The span tree as nested (name, type, [children]) tuples, children in start order."""

    def node(span: llmtrace.Span) -> tuple[str, str, list[Any]]:
        return (span.name, span.span_type, [node(c) for c in span.children])

    return [node(root) for root in trace.roots]


def by_name(trace: llmtrace.Trace) -> dict[str, llmtrace.Span]:
    spans = {s.name: s for s in trace.spans}
    assert len(spans) == len(trace.spans), "span names are not unique"
    return spans


def tracker_is_empty() -> bool:
    handlers = installed_handlers()
    assert handlers is not None
    tracker = handlers[0]._tracker
    return tracker.tracked_ids() == 0 and not tracker.open_records()


QUERY_TREE = [
    (
        "RetrieverQueryEngine.query",
        "CHAIN",
        [
            (
                "VectorIndexRetriever.retrieve",
                "RETRIEVER",
                [("MockEmbedding.get_query_embedding", "EMBEDDING", [])],
            ),
            ("CompactAndRefine.synthesize", "CHAIN", [("MockLLM.predict", "LLM", [])]),
        ],
    )
]


# --- the query tree -------------------------------------------------------------------------


def test_query_is_one_trace_with_the_exact_tree(
    instrumented: None, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(similarity_top_k=2, llm=MockLLM(max_tokens=5))
    response = engine.query("What is the capital of France?")
    assert str(response) == "text text text text text"

    trace = only_trace()
    # query -> _query, retrieve -> _retrieve, synthesize -> get_response, predict -> complete
    # are collapsed; text splitting and the refine program are transparent.
    assert shape(trace) == QUERY_TREE
    spans = by_name(trace)
    assert all(s.status == "OK" for s in trace.spans)
    assert all(s.attributes[sc.SPAN_INTEGRATION] == "llama_index" for s in trace.spans)
    assert trace.info.name == "RetrieverQueryEngine.query"

    query = spans["RetrieverQueryEngine.query"]
    assert query.inputs == {"str_or_query_bundle": "What is the capital of France?"}
    assert query.outputs == "text text text text text"

    retriever = spans["VectorIndexRetriever.retrieve"]
    assert retriever.attributes[sc.RETRIEVAL_QUERY] == "What is the capital of France?"
    docs = retriever.outputs
    assert [d["score"] for d in docs] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert {d["content"] for d in docs} <= set(DOCS) and len(docs) == 2
    assert all(set(d) == {"id", "score", "content", "metadata"} for d in docs)
    assert json.loads(retriever.attributes[sc.RETRIEVAL_DOCUMENTS]) == docs

    embedding = spans["MockEmbedding.get_query_embedding"]
    assert embedding.inputs == {"query": "What is the capital of France?"}
    assert embedding.outputs == {"count": 1, "dimensions": 8}  # never the vector
    assert embedding.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert embedding.attributes[sc.GEN_AI_OPERATION_NAME] == "embeddings"

    synthesizer = spans["CompactAndRefine.synthesize"]
    assert synthesizer.inputs["query"] == "What is the capital of France?"
    assert [n["content"] for n in synthesizer.inputs["nodes"]] == [d["content"] for d in docs]

    llm = spans["MockLLM.predict"]
    prompt = llm.inputs["prompt"]
    assert "What is the capital of France?" in prompt and docs[0]["content"] in prompt
    assert llm.outputs == "text text text text text"
    assert llm.attributes[sc.GEN_AI_OPERATION_NAME] == "text_completion"
    assert llm.model is None  # MockLLM names no model
    assert llm.input_tokens is None and llm.cost is None
    assert tracker_is_empty()


def test_query_nests_under_an_enclosing_trace_and_nested_work_under_its_spans(
    instrumented: None,
) -> None:
    @llmtrace.trace(name="lookup", span_type="TOOL")
    def lookup(text: str) -> int:
        return len(text)

    def hook(query: str) -> None:
        lookup(query)  # a user function inside the retriever
        Settings.embed_model.get_query_embedding(query)  # a LlamaIndex call inside it

    engine = RetrieverQueryEngine(
        retriever=ListRetriever(hook=hook),
        response_synthesizer=get_response_synthesizer(llm=MockLLM(max_tokens=2)),
    )

    @llmtrace.trace(name="answer")
    def answer(question: str) -> str:
        return str(engine.query(question))

    assert answer("capital?") == "text text"
    assert shape(only_trace()) == [
        (
            "answer",
            "UNKNOWN",
            [
                (
                    "RetrieverQueryEngine.query",
                    "CHAIN",
                    [
                        (
                            "ListRetriever.retrieve",
                            "RETRIEVER",
                            [
                                ("lookup", "TOOL", []),
                                ("MockEmbedding.get_query_embedding", "EMBEDDING", []),
                            ],
                        ),
                        ("CompactAndRefine.synthesize", "CHAIN", [("MockLLM.predict", "LLM", [])]),
                    ],
                )
            ],
        )
    ]
    retriever = by_name(only_trace())["ListRetriever.retrieve"]
    assert retriever.outputs == [
        {
            "id": "n1",
            "score": 0.9,
            "content": "Paris is the capital of France.",
            "metadata": {"page": 3},
        }
    ]


def test_llm_called_inside_a_user_span_inside_a_llama_index_span_nests_under_the_user_span(
    instrumented: None,
) -> None:
    llm = MockLLM(max_tokens=1)

    @llmtrace.trace(name="summarize")
    def summarize(text: str) -> str:
        return llm.complete(text).text

    engine = RetrieverQueryEngine(
        retriever=ListRetriever(hook=summarize),
        response_synthesizer=get_response_synthesizer(llm=MockLLM(max_tokens=2)),
    )
    engine.query("q")
    spans = by_name(only_trace())
    assert spans["summarize"].parent_span_id == spans["ListRetriever.retrieve"].span_id
    assert spans["MockLLM.complete"].parent_span_id == spans["summarize"].span_id


def test_concurrent_aqueries_make_one_correct_trace_each(
    instrumented: None, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(similarity_top_k=2, llm=MockLLM(max_tokens=3))
    questions = ["capital of France?", "capital of Spain?", "capital of Italy?"]

    async def main() -> list[Any]:
        return await asyncio.gather(*(engine.aquery(q) for q in questions))

    responses = asyncio.run(main())
    assert [str(r) for r in responses] == ["text text text"] * 3

    traces = stored_traces()
    assert len(traces) == 3
    async_tree = [
        (
            "RetrieverQueryEngine.aquery",
            "CHAIN",
            [
                (
                    "VectorIndexRetriever.aretrieve",
                    "RETRIEVER",
                    [("MockEmbedding.aget_query_embedding", "EMBEDDING", [])],
                ),
                ("CompactAndRefine.asynthesize", "CHAIN", [("MockLLM.apredict", "LLM", [])]),
            ],
        )
    ]
    seen = set()
    for trace in traces:
        assert shape(trace) == async_tree
        spans = by_name(trace)
        question = spans["RetrieverQueryEngine.aquery"].inputs["str_or_query_bundle"]
        seen.add(question)
        # every span of the trace is about the same question
        assert spans["VectorIndexRetriever.aretrieve"].attributes[sc.RETRIEVAL_QUERY] == question
        assert spans["MockEmbedding.aget_query_embedding"].inputs == {"query": question}
        assert question in spans["MockLLM.apredict"].inputs["prompt"]
    assert seen == set(questions)
    assert tracker_is_empty()


def test_queries_in_threads_make_one_correct_trace_each(
    instrumented: None, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(similarity_top_k=2, llm=MockLLM(max_tokens=5))
    questions = [f"question {i}?" for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda q: str(engine.query(q)), questions))
    assert answers == ["text text text text text"] * 8
    traces = stored_traces()
    assert len(traces) == 8
    seen = set()
    for trace in traces:
        assert shape(trace) == QUERY_TREE
        spans = by_name(trace)
        question = spans["RetrieverQueryEngine.query"].inputs["str_or_query_bundle"]
        assert spans["VectorIndexRetriever.retrieve"].attributes[sc.RETRIEVAL_QUERY] == question
        assert question in spans["MockLLM.predict"].inputs["prompt"]
        seen.add(question)
    assert seen == set(questions)
    assert tracker_is_empty()


# --- models: usage, cost, chat --------------------------------------------------------------


def test_usage_and_cost_of_a_query_are_exact_and_roll_up(
    instrumented: None, index: VectorStoreIndex
) -> None:
    llmtrace.pricing.set_price(MODEL, input=2.0, output=8.0)
    engine = index.as_query_engine(similarity_top_k=2, llm=MeteredLLM())
    assert str(engine.query("capital of France?")) == ANSWER

    trace = only_trace()
    llm = by_name(trace)["MeteredLLM.predict"]
    assert llm.span_type == "LLM"
    assert llm.model == MODEL
    assert llm.attributes[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert llm.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert (llm.input_tokens, llm.output_tokens) == (40, 7)
    assert llm.attributes[sc.USAGE_TOTAL_TOKENS] == 47
    assert llm.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 40
    expected = (40 * 2.0 + 7 * 8.0) / 1e6
    assert llm.cost == pytest.approx(expected)
    assert sc.USAGE_AGGREGATE not in llm.attributes  # nothing nested counted it already
    # Counted once in the trace, although complete() is nested in predict() and both report.
    assert (trace.info.input_tokens, trace.info.output_tokens) == (40, 7)
    assert trace.info.total_tokens == 47
    assert trace.info.cost == pytest.approx(expected)


def test_chat_usage_from_additional_kwargs_with_messages_and_parameters(
    instrumented: None,
) -> None:
    llmtrace.pricing.set_price(MODEL, input=1.0, output=4.0)
    llm = KwargsChatLLM()
    response = llm.chat(
        [
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content="Capital of France?"),
        ],
        temperature=0.0,
    )
    assert response.message.content == ANSWER
    span = only_trace().spans[0]
    assert (span.name, span.span_type) == ("KwargsChatLLM.chat", "CHAT_MODEL")
    assert span.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ]
    }
    assert span.outputs == {"role": "assistant", "content": ANSWER}
    assert (span.input_tokens, span.output_tokens) == (11, 3)
    assert span.cost == pytest.approx((11 * 1.0 + 3 * 4.0) / 1e6)
    assert span.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.0  # the call's override
    assert json.loads(span.attributes[sc.LLM_INVOCATION_PARAMETERS]) == {"temperature": 0.0}
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "chat"


def test_unpriced_model_gets_tokens_but_no_cost(instrumented: None) -> None:
    MeteredLLM(model="li-unpriced-model").complete("hi")
    span = only_trace().spans[0]
    assert (span.input_tokens, span.output_tokens, span.cost) == (40, 7, None)
    assert only_trace().info.cost is None


# --- errors ---------------------------------------------------------------------------------


class IndexOffline(RuntimeError):
    pass


def test_retriever_error_marks_spans_and_propagates_unchanged(instrumented: None) -> None:
    error = IndexOffline("index offline")
    engine = RetrieverQueryEngine(
        retriever=ListRetriever(fail=error),
        response_synthesizer=get_response_synthesizer(llm=MockLLM(max_tokens=1)),
    )
    with pytest.raises(IndexOffline) as raised:
        engine.query("capital?")
    assert raised.value is error

    trace = only_trace()
    assert shape(trace) == [
        ("RetrieverQueryEngine.query", "CHAIN", [("ListRetriever.retrieve", "RETRIEVER", [])])
    ]
    assert trace.info.status == "ERROR"
    for span in trace.spans:
        assert span.status == "ERROR"
        assert span.status_message == "IndexOffline: index offline"
        assert span.attributes[sc.ERROR_TYPE].endswith("IndexOffline")
        # one exception event per span, although LlamaIndex drops both _retrieve and retrieve
        assert [e["name"] for e in span.events] == ["exception"]
    assert tracker_is_empty()


def test_error_caught_inside_the_same_component_is_an_event_not_a_failure(
    instrumented: None,
) -> None:
    class Flaky(ListRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            try:
                return self.retrieve("boom")  # fails inside, caught here
            except IndexOffline:
                return super()._retrieve(query_bundle)

        def retrieve(self, str_or_query_bundle: Any) -> list[NodeWithScore]:
            if str_or_query_bundle == "boom":
                raise IndexOffline("first try failed")
            return super().retrieve(str_or_query_bundle)

    Flaky().retrieve("capital?")
    span = only_trace().spans[0]
    assert len(only_trace().spans) == 1
    assert span.status == "OK"
    assert [e["name"] for e in span.events] == ["exception"]


def test_handler_failures_never_reach_the_user(
    instrumented: None, index: VectorStoreIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmtrace.integrations.llama_index import _tracker

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(_tracker, "start_span", broken)
    engine = index.as_query_engine(similarity_top_k=1, llm=MockLLM(max_tokens=2))
    assert str(engine.query("capital?")) == "text text"
    assert stored_traces() == []


# --- instrument / uninstrument ---------------------------------------------------------------


def test_instrument_is_idempotent_and_uninstrument_removes_exactly_its_handlers(
    traced: str, index: VectorStoreIndex
) -> None:
    dispatcher = get_dispatcher()
    before_spans = list(dispatcher.span_handlers)
    before_events = list(dispatcher.event_handlers)
    llmtrace.instrument("llama_index")
    llmtrace.instrument("llama_index")
    assert len(dispatcher.span_handlers) == len(before_spans) + 1
    assert len(dispatcher.event_handlers) == len(before_events) + 1
    engine = index.as_query_engine(similarity_top_k=1, llm=MockLLM(max_tokens=1))
    engine.query("one")
    assert len(stored_traces()) == 1

    llmtrace.uninstrument("llama_index")
    llmtrace.uninstrument("llama_index")
    assert dispatcher.span_handlers == before_spans
    assert dispatcher.event_handlers == before_events
    assert installed_handlers() is None
    engine.query("two")
    assert len(stored_traces()) == 1  # not traced any more

    llmtrace.instrument("llama_index")  # and back on
    try:
        engine.query("three")
        assert len(stored_traces()) == 2
    finally:
        llmtrace.uninstrument("llama_index")


def test_uninstrument_ends_spans_still_open(traced: str) -> None:
    llmtrace.instrument("llama_index")
    stream = MeteredLLM().stream_complete("hi")  # open until consumed
    next(stream)
    llmtrace.uninstrument("llama_index")
    span = only_trace().spans[0]
    assert span.name == "MeteredLLM.stream_complete"
    list(stream)  # the rest of the stream is harmless


def test_events_for_unknown_spans_are_ignored(instrumented: None) -> None:
    from llama_index.core.instrumentation.events.retrieval import RetrievalEndEvent

    handlers = installed_handlers()
    assert handlers is not None
    event_handler = handlers[1]
    event_handler.handle(RetrievalEndEvent(str_or_query_bundle="q", nodes=[], span_id="nope"))
    event_handler.handle(RetrievalEndEvent(str_or_query_bundle="q", nodes=[], span_id=None))
    assert stored_traces() == []


def test_disabled_or_sampled_out_tracing_records_nothing_and_keeps_no_state(
    configure_tracing: Any, index: VectorStoreIndex
) -> None:
    engine = index.as_query_engine(similarity_top_k=1, llm=MeteredLLM(), streaming=True)
    for settings in ({"enabled": False}, {"sample_rate": 0.0, "keep_errors": False}):
        configure_tracing(**settings)
        llmtrace.instrument("llama_index")
        try:
            response = engine.query("capital?")
            assert "".join(response.response_gen) == ANSWER
            assert str(engine.query("again?")) == ANSWER
            assert tracker_is_empty()
        finally:
            llmtrace.uninstrument("llama_index")
    assert stored_traces() == []
