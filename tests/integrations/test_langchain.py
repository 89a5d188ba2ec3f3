"""LangChain integration: span trees of real langchain-core runnables (sync, threads, async,
event streams), nesting with `@llmtrace.trace` and model spans, auto-injection vs an explicit
handler, errors, and uninstrument."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel
from langchain_core.tools import tool

import llmtrace
from llmtrace import semconv as sc
from llmtrace.integrations import langchain as lc_integration
from llmtrace.integrations.langchain import LlmtraceCallbackHandler
from tests.integrations.test_langchain_fakes import (
    ListRetriever,
    UsageChat,
    no_callback_failures,  # noqa: F401  (a fixture)
    one_span,
    tree,
)
from tests.tracing.conftest import only_trace, stored_traces

pytestmark = pytest.mark.usefixtures("traced", "no_callback_failures")

CHAIN, CHAT, PARSER, TOOL, RETRIEVER = "CHAIN", "CHAT_MODEL", "PARSER", "TOOL", "RETRIEVER"
SEQUENCE_TREE = (
    "RunnableSequence",
    CHAIN,
    [
        ("ChatPromptTemplate", CHAIN, []),
        ("StrOutputParser", PARSER, []),
        ("UsageChat", CHAT, []),
    ],
)


@pytest.fixture
def instrumented() -> Iterator[None]:
    llmtrace.instrument("langchain")
    yield
    llmtrace.uninstrument("langchain")


def qa_chain(**model: Any) -> Runnable[Any, str]:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    return prompt | UsageChat(**model) | StrOutputParser()


def test_prompt_model_parser_tree() -> None:
    handler = LlmtraceCallbackHandler()
    out = qa_chain().invoke({"q": "hi"}, config={"callbacks": [handler]})

    assert out == "echo:hi"
    trace = only_trace()
    assert tree(trace) == SEQUENCE_TREE
    root = trace.root
    assert root is not None
    for child in root.children:
        assert child.parent_span_id == root.span_id
    assert root.inputs == {"q": "hi"}
    assert root.outputs == "echo:hi"
    assert {s.attributes[sc.SPAN_INTEGRATION] for s in trace.spans} == {"langchain"}
    assert root.attributes[sc.LANGCHAIN_RUN_TYPE] == "chain"
    assert one_span(trace, "ChatPromptTemplate").attributes[sc.LANGCHAIN_RUN_TYPE] == "prompt"
    assert len(handler._runs) == 0


def _parallel(async_: bool) -> Runnable[Any, Any]:
    def slow_upper(x: dict[str, str]) -> str:
        time.sleep(0.01)
        return x["q"].upper()

    async def aslow_upper(x: dict[str, str]) -> str:
        await asyncio.sleep(0.01)
        return x["q"].upper()

    upper = RunnableLambda(slow_upper, afunc=aslow_upper, name="upper")
    retrieve = RunnableLambda(lambda x: x["q"], name="query") | ListRetriever()
    return RunnableParallel(a=upper, b=qa_chain(), c=retrieve)


PARALLEL_TREE = (
    "RunnableParallel<a,b,c>",
    CHAIN,
    [
        SEQUENCE_TREE,
        ("RunnableSequence", CHAIN, [("ListRetriever", RETRIEVER, []), ("query", CHAIN, [])]),
        ("upper", CHAIN, []),
    ],
)


def _check_parallel_traces(outputs: list[Any]) -> None:
    questions = [f"q{i}" for i in range(4)]
    assert [o["a"] for o in outputs] == [q.upper() for q in questions]
    traces = stored_traces()
    assert len(traces) == 4
    seen = set()
    for trace in traces:
        assert tree(trace) == PARALLEL_TREE
        root = trace.root
        assert root is not None
        question = root.inputs["q"]
        seen.add(question)
        # Every span of the trace belongs to this input: no span of another trace crept in.
        for span in trace.spans:
            assert span.trace_id == trace.trace_id
        assert one_span(trace, "upper").outputs == question.upper()
        assert one_span(trace, "UsageChat").outputs["content"] == f"echo:{question}"
        assert one_span(trace, "ListRetriever").inputs == {"query": question}
        assert trace.info.input_tokens == 11
    assert seen == set(questions)


def test_parallel_batch_in_threads_keeps_traces_apart() -> None:
    handler = LlmtraceCallbackHandler()
    inputs = [{"q": f"q{i}"} for i in range(4)]
    outputs = _parallel(False).batch(inputs, config={"callbacks": [handler], "max_concurrency": 4})
    _check_parallel_traces(outputs)
    assert len(handler._runs) == 0


def test_parallel_abatch_keeps_traces_apart() -> None:
    handler = LlmtraceCallbackHandler()
    inputs = [{"q": f"q{i}"} for i in range(4)]
    outputs = asyncio.run(
        _parallel(True).abatch(inputs, config={"callbacks": [handler], "max_concurrency": 4})
    )
    _check_parallel_traces(outputs)
    assert len(handler._runs) == 0


def test_astream_events_nests_like_invoke() -> None:
    handler = LlmtraceCallbackHandler()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a b c")]), name="UsageChat")
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    chain = prompt | model | StrOutputParser()

    async def consume() -> list[str]:
        kinds = []
        async for event in chain.astream_events(
            {"q": "hi"}, config={"callbacks": [handler]}, version="v2"
        ):
            kinds.append(event["event"])
        return kinds

    kinds = asyncio.run(consume())

    assert "on_chat_model_stream" in kinds
    trace = only_trace()
    assert tree(trace) == SEQUENCE_TREE
    chat = one_span(trace, "UsageChat")
    assert chat.attributes[sc.LLM_STREAMING] is True
    assert chat.attributes[sc.LLM_TIME_TO_FIRST_TOKEN_MS] >= 0
    assert chat.outputs["content"] == "a b c"
    root = trace.root
    assert root is not None
    assert root.inputs == {"q": "hi"}  # known only at the end of a stream
    assert root.outputs == "a b c"


def test_sequential_async_runs_are_separate_traces() -> None:
    # LangChain ends async runs in shielded tasks: the first run's span must not stay the
    # parent of the next one in the same coroutine.
    handler = LlmtraceCallbackHandler()
    chain = qa_chain()

    async def runs() -> None:
        await chain.ainvoke({"q": "one"}, config={"callbacks": [handler]})
        await UsageChat().ainvoke("two", config={"callbacks": [handler]})
        # Tasks copy the context the previous run's span was left in.
        await asyncio.gather(
            chain.ainvoke({"q": "three"}, config={"callbacks": [handler]}),
            chain.ainvoke({"q": "four"}, config={"callbacks": [handler]}),
        )

    asyncio.run(runs())

    traces = stored_traces()
    assert [tree(t) for t in traces] == [
        SEQUENCE_TREE,
        ("UsageChat", CHAT, []),
        SEQUENCE_TREE,
        SEQUENCE_TREE,
    ]


def test_chain_nests_under_enclosing_trace_function() -> None:
    handler = LlmtraceCallbackHandler()
    chain = qa_chain()

    @llmtrace.trace
    def answer(q: str) -> str:
        return chain.invoke({"q": q}, config={"callbacks": [handler]})

    @llmtrace.trace
    async def aanswer(q: str) -> str:
        return await chain.ainvoke({"q": q}, config={"callbacks": [handler]})

    assert answer("hi") == "echo:hi"
    assert asyncio.run(aanswer("ho")) == "echo:ho"

    traces = stored_traces()
    assert [tree(t) for t in traces] == [
        (
            "test_chain_nests_under_enclosing_trace_function.<locals>.answer",
            "UNKNOWN",
            [SEQUENCE_TREE],
        ),
        (
            "test_chain_nests_under_enclosing_trace_function.<locals>.aanswer",
            "UNKNOWN",
            [SEQUENCE_TREE],
        ),
    ]


def test_trace_function_inside_model_nests_under_chat_span() -> None:
    @llmtrace.trace(span_type="TOOL")
    def lookup() -> str:
        return "fact"

    chain = qa_chain(inner=lookup)
    chain.invoke({"q": "hi"}, config={"callbacks": [LlmtraceCallbackHandler()]})

    assert tree(only_trace()) == (
        "RunnableSequence",
        CHAIN,
        [
            ("ChatPromptTemplate", CHAIN, []),
            ("StrOutputParser", PARSER, []),
            (
                "UsageChat",
                CHAT,
                [
                    (
                        "test_trace_function_inside_model_nests_under_chat_span.<locals>.lookup",
                        TOOL,
                        [],
                    )
                ],
            ),
        ],
    )


def test_model_called_inside_trace_function_inside_lambda_nests_under_that_function() -> None:
    model = UsageChat()

    @llmtrace.trace
    def helper(q: str) -> str:
        return str(model.invoke(q).content)

    chain = RunnableLambda(helper, name="step") | StrOutputParser()
    chain.invoke("hi", config={"callbacks": [LlmtraceCallbackHandler()]})

    helper_name = (
        "test_model_called_inside_trace_function_inside_lambda_nests_under_that_function"
        ".<locals>.helper"
    )
    assert tree(only_trace()) == (
        "RunnableSequence",
        CHAIN,
        [
            ("StrOutputParser", PARSER, []),
            ("step", CHAIN, [(helper_name, "UNKNOWN", [("UsageChat", CHAT, [])])]),
        ],
    )


def test_instrument_and_explicit_handler_give_the_same_tree_without_duplicates(
    instrumented: None,
) -> None:
    chain = qa_chain()
    chain.invoke({"q": "auto"})
    chain.invoke({"q": "explicit"}, config={"callbacks": [LlmtraceCallbackHandler()]})
    asyncio.run(chain.ainvoke({"q": "async"}))
    llmtrace.instrument("langchain")  # idempotent: still one handler per run
    chain.invoke({"q": "again"})

    traces = stored_traces()
    assert [tree(t) for t in traces] == [SEQUENCE_TREE] * 4
    assert [len(t.spans) for t in traces] == [4] * 4
    assert [t.info.input_tokens for t in traces] == [11] * 4


def test_instrument_reaches_threads_started_before_it() -> None:
    import threading

    chain = qa_chain()
    ready, go, done = threading.Event(), threading.Event(), threading.Event()

    def worker() -> None:
        ready.set()
        go.wait(5)
        chain.invoke({"q": "thread"})
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    ready.wait(5)
    llmtrace.instrument("langchain")
    try:
        go.set()
        thread.join(5)
    finally:
        llmtrace.uninstrument("langchain")
    assert done.is_set()
    assert tree(only_trace()) == SEQUENCE_TREE


def test_uninstrument_stops_tracing() -> None:
    chain = qa_chain()
    llmtrace.instrument("langchain")
    assert lc_integration.is_instrumented()
    chain.invoke({"q": "traced"})
    llmtrace.uninstrument("langchain")
    llmtrace.uninstrument("langchain")  # idempotent
    lc_integration.uninstrument()
    assert not lc_integration.is_instrumented()
    chain.invoke({"q": "untraced"})
    asyncio.run(chain.ainvoke({"q": "untraced"}))

    trace = only_trace()
    root = trace.root
    assert root is not None
    assert root.inputs == {"q": "traced"}
    # An explicit handler keeps working.
    chain.invoke({"q": "explicit"}, config={"callbacks": [LlmtraceCallbackHandler()]})
    assert len(stored_traces()) == 2


class Kaput(ValueError):
    pass


def test_tool_error_marks_tool_and_chain_and_propagates_unchanged() -> None:
    error = Kaput("tool broke")

    @tool
    def explode(x: str) -> str:
        """Always fails."""
        raise error

    chain = RunnableLambda(lambda q: {"x": q}, name="prepare") | explode
    with pytest.raises(Kaput) as caught:
        chain.invoke("go", config={"callbacks": [LlmtraceCallbackHandler()]})
    assert caught.value is error

    trace = only_trace()
    assert tree(trace) == (
        "RunnableSequence",
        CHAIN,
        [("explode", TOOL, []), ("prepare", CHAIN, [])],
    )
    assert trace.info.status == "ERROR"
    tool_span = one_span(trace, "explode")
    assert tool_span.status == "ERROR"
    assert tool_span.attributes[sc.ERROR_TYPE].endswith("Kaput")
    assert tool_span.attributes[sc.GEN_AI_TOOL_NAME] == "explode"
    assert "tool broke" in (tool_span.status_message or "")
    root = trace.root
    assert root is not None
    assert root.status == "ERROR"
    assert root.attributes[sc.ERROR_TYPE].endswith("Kaput")
    assert one_span(trace, "prepare").status == "OK"


def test_async_tool_error_propagates() -> None:
    @tool
    async def aexplode(x: str) -> str:
        """Always fails."""
        raise Kaput("async")

    with pytest.raises(Kaput, match="async"):
        asyncio.run(aexplode.ainvoke({"x": "1"}, config={"callbacks": [LlmtraceCallbackHandler()]}))
    span = only_trace().root
    assert span is not None
    assert (span.name, span.span_type, span.status) == ("aexplode", TOOL, "ERROR")


def test_stream_closed_early_ends_every_span_without_error() -> None:
    handler = LlmtraceCallbackHandler()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a b c d")]))
    chain = model | StrOutputParser()
    stream = chain.stream("hi", config={"callbacks": [handler]})
    assert next(stream) == "a"
    stream.close()

    trace = only_trace()
    assert {s.status for s in trace.spans} == {"OK"}
    assert len(trace.spans) == 3
    assert len(handler._runs) == 0


def test_assorted_runnables_close_every_run() -> None:
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.output_parsers import JsonOutputParser
    from langchain_core.runnables import RunnableBranch, RunnablePassthrough

    handler = LlmtraceCallbackHandler()
    config: Any = {"callbacks": [handler]}

    def broken(x: Any) -> Any:
        raise ValueError("primary down")

    fallback = RunnableLambda(broken, name="primary").with_fallbacks(
        [RunnableLambda(lambda x: "backup", name="backup")]
    )
    branch = RunnableBranch(
        (lambda x: x == "a", RunnableLambda(lambda x: "A", name="isa")), fallback
    )
    json_model = FakeListChatModel(responses=['{"answer": 42}'])
    pipeline = RunnablePassthrough.assign(n=lambda d: len(d["q"])) | RunnableLambda(
        lambda d: d["q"], name="q"
    )

    assert fallback.invoke("x", config=config) == "backup"
    assert branch.invoke("a", config=config) == "A"
    assert list((json_model | JsonOutputParser()).stream("go", config=config))[-1] == {"answer": 42}
    assert pipeline.batch([{"q": "ab"}, {"q": "c"}], config=config) == ["ab", "c"]
    assert asyncio.run(fallback.ainvoke("x", config=config)) == "backup"

    traces = stored_traces()
    assert len(traces) == 6
    primary = [s for t in traces for s in t.spans if s.name == "primary"]
    assert [s.status for s in primary] == ["ERROR", "ERROR"]
    assert [t.info.status for t in traces] == ["OK"] * 6
    assert len(handler._runs) == 0


def test_sequence_batch_gives_each_input_its_own_trace() -> None:
    # RunnableSequence.batch starts every input's run in the caller's context before running
    # any step, and ends them in input order.
    handler = LlmtraceCallbackHandler()
    outputs = qa_chain().batch([{"q": f"b{i}"} for i in range(3)], config={"callbacks": [handler]})
    assert outputs == ["echo:b0", "echo:b1", "echo:b2"]

    traces = stored_traces()
    assert [tree(t) for t in traces] == [SEQUENCE_TREE] * 3
    roots = [t.root for t in traces]
    assert sorted(r.inputs["q"] for r in roots if r is not None) == ["b0", "b1", "b2"]
    for trace in traces:
        root = trace.root
        assert root is not None
        assert one_span(trace, "UsageChat").outputs["content"] == f"echo:{root.inputs['q']}"
    assert len(handler._runs) == 0


def test_root_run_started_inside_a_step_with_its_own_callbacks_nests_there() -> None:
    handler = LlmtraceCallbackHandler()
    inner = qa_chain()

    def step(q: str) -> str:
        # Explicit callbacks: LangChain makes this a root run, but it runs inside `step`.
        return inner.invoke({"q": q}, config={"callbacks": [handler]})

    RunnableLambda(step, name="step").invoke("hi", config={"callbacks": [handler]})
    assert tree(only_trace()) == ("step", CHAIN, [SEQUENCE_TREE])


def test_async_leftover_span_is_cleared_by_the_next_run_in_that_context() -> None:
    from opentelemetry import trace as otel_trace

    handler = LlmtraceCallbackHandler()
    chain = qa_chain()
    seen: list[bool] = []

    async def scenario() -> None:
        await chain.ainvoke({"q": "async"}, config={"callbacks": [handler]})
        # LangChain ended that run in a shielded task: its span is still current here.
        seen.append(otel_trace.get_current_span().get_span_context().is_valid)
        chain.invoke({"q": "sync"}, config={"callbacks": [handler]})
        seen.append(otel_trace.get_current_span().get_span_context().is_valid)

    asyncio.run(scenario())
    assert seen == [True, False]
    assert [tree(t) for t in stored_traces()] == [SEQUENCE_TREE] * 2


def test_run_started_while_consuming_a_stream_is_not_its_child() -> None:
    handler = LlmtraceCallbackHandler()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="a b")]))
    streamed = model | StrOutputParser()
    other = qa_chain()
    for _chunk in streamed.stream("hi", config={"callbacks": [handler]}):
        other.invoke({"q": "side"}, config={"callbacks": [handler]})

    shapes = sorted((tree(t) for t in stored_traces()), key=repr)
    assert shapes == sorted(
        [
            (
                "RunnableSequence",
                CHAIN,
                [("GenericFakeChatModel", CHAT, []), ("StrOutputParser", PARSER, [])],
            ),
            SEQUENCE_TREE,
            SEQUENCE_TREE,
            SEQUENCE_TREE,
        ],
        key=repr,
    )
