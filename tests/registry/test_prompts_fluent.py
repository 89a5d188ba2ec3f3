"""The fluent prompt API on the configured store, and the link from a formatted prompt to the
LLM spans that use it: the real `openai` client against a local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

import llmtrace
from llmtrace.context import PROMPT_NAME, PROMPT_URIS, PROMPT_VERSION, forget_prompt_uses
from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.registry._prompts import (
    PromptRef,
    delete_prompt_alias,
    get_prompt,
    load_prompt,
    parse_prompt_ref,
    register_prompt,
    search_prompts,
    set_prompt_alias,
)
from llmtrace.store import Span
from llmtrace.tracing import _runtime
from tests.integrations.fake_openai_server import FakeOpenAIServer
from tests.server.conftest import LiveServer


@pytest.fixture
def traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Tracing (and so the default store) on a temporary SQLite file."""
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    for var in ("LLMTRACE_STORE", "LLMTRACE_SAMPLE_RATE", "LLMTRACE_ENABLED"):
        monkeypatch.delenv(var, raising=False)
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    llmtrace.configure(store=url, flush_interval=0.05)
    forget_prompt_uses()  # tests share one context: no prompt formatted by an earlier test
    yield url
    forget_prompt_uses()
    _runtime.reset()


@pytest.fixture
def client(traced: str) -> Iterator[openai.OpenAI]:
    llmtrace.instrument("openai")
    with (
        FakeOpenAIServer() as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as c,
    ):
        yield c
    llmtrace.uninstrument("openai")


def spans() -> list[Span]:
    """Every stored span, oldest trace first, in start order."""
    assert llmtrace.flush(10)
    found: list[Span] = []
    for info in llmtrace.search_traces(order_by="start_time asc", limit=100):
        found += sorted(llmtrace.get_trace(info.trace_id).spans, key=lambda s: s.start_time)
    return found


def llm_spans() -> list[Span]:
    return [s for s in spans() if s.span_type in ("LLM", "CHAT_MODEL")]


@pytest.mark.parametrize(
    ("reference", "version", "expected"),
    [
        ("prompts:/qa/3", None, PromptRef("qa", 3)),
        ("prompts:/qa@production", None, PromptRef("qa", alias="production")),
        ("prompts:/qa", None, PromptRef("qa")),
        ("qa", None, PromptRef("qa")),
        ("qa", 2, PromptRef("qa", 2)),
        ("qa", "2", PromptRef("qa", 2)),
        ("qa", "prod", PromptRef("qa", alias="prod")),
        ("qa.v2-x/10", None, PromptRef("qa.v2-x", 10)),
    ],
)
def test_references_parse(reference: str, version: int | str | None, expected: PromptRef) -> None:
    assert parse_prompt_ref(reference, version) == expected


@pytest.mark.parametrize(
    ("reference", "version"),
    [("prompts:/", None), ("prompts:/qa/x", None), ("prompts:/qa/0", None), ("a/b/c", None),
     ("qa@", None), ("qa@1x", None), ("qa/2", 3), ("qa@prod", "x"), ("bad name", None)],
)  # fmt: skip
def test_bad_references_are_refused(reference: str, version: int | str | None) -> None:
    with pytest.raises(InvalidParameterError):
        parse_prompt_ref(reference, version)


def test_register_load_alias_and_search(traced: str) -> None:
    first = register_prompt("qa", "Q: {{ q }}", commit_message="one", tags={"team": "s"})
    second = register_prompt("qa", [{"role": "user", "content": "{{ q }}"}], config={"t": 0})
    assert (first.version, second.version) == (1, 2)
    assert load_prompt("prompts:/qa") == second == load_prompt("qa")
    assert load_prompt("prompts:/qa/1") == first == load_prompt("qa", version=1)
    set_prompt_alias("qa", "production", 1)
    assert load_prompt("prompts:/qa@production").version == 1
    assert load_prompt("qa", version="production").aliases == ["production"]
    assert get_prompt("qa").aliases == {"production": 1}
    assert [p.name for p in search_prompts("name like 'q%'")] == ["qa"]
    delete_prompt_alias("qa", "production")
    with pytest.raises(NotFoundError):
        load_prompt("prompts:/qa@production")
    with pytest.raises(NotFoundError):
        load_prompt("prompts:/unknown")
    # The fluent API writes where tracing writes.
    assert llmtrace.store.open_store(traced).get_prompt_version("qa", 2) == second


def test_an_llm_span_records_the_prompt_formatted_in_its_trace(client: openai.OpenAI) -> None:
    register_prompt("qa", "Answer briefly: {{ question }}")
    register_prompt("qa", "Answer in one word: {{ question }}")
    prompt = load_prompt("qa", version=2)

    @llmtrace.trace
    def answer(question: str) -> str:
        content = str(prompt.format(question=question))
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": content}]
        )
        return reply.choices[0].message.content or ""

    answer("2+2?")
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    outer, call, unrelated = spans()
    assert outer.name.endswith("answer") and outer.attributes[PROMPT_NAME] == "qa"
    assert call.attributes[PROMPT_NAME] == "qa" and call.attributes[PROMPT_VERSION] == 2
    assert PROMPT_URIS not in call.attributes
    # A later trace that formatted no prompt is not linked to it.
    assert call.trace_id != unrelated.trace_id
    assert PROMPT_NAME not in unrelated.attributes
    # Traces are found by the prompt version they used (a trace tag per prompt).
    found = llmtrace.search_traces("tag.`prompt.qa` = '2'")
    assert [t.trace_id for t in found] == [call.trace_id]
    assert not llmtrace.search_traces("tag.`prompt.qa` = '1'")


def test_a_prompt_formatted_outside_a_trace_links_the_next_call(client: openai.OpenAI) -> None:
    chat = register_prompt(
        "chat", [{"role": "system", "content": "Be {{ tone }}."}, {"role": "user", "content": "hi"}]
    )
    messages = chat.format(tone="kind")
    assert messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "hi"},
    ]
    client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    first, second = llm_spans()
    assert (first.attributes[PROMPT_NAME], first.attributes[PROMPT_VERSION]) == ("chat", 1)
    # Claimed by the first trace: the second call is another trace.
    assert PROMPT_NAME not in second.attributes


def test_several_prompts_in_one_trace_are_all_listed(client: openai.OpenAI) -> None:
    system = register_prompt("system", "You are {{ role }}.")
    user = register_prompt("user", "{{ q }}")
    with llmtrace.span("pipeline"):
        messages = [
            {"role": "system", "content": system.format(role="terse")},
            {"role": "user", "content": user.format(q="why?")},
        ]
        with llmtrace.span("lookup", span_type="TOOL"):
            pass
        client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
        with llmtrace.span("manual", span_type="LLM"):
            pass
    by_name = {s.name: s for s in spans()}
    assert PROMPT_NAME not in by_name["lookup"].attributes
    for name in ("manual", "pipeline"):
        assert by_name[name].attributes[PROMPT_NAME] == "user"
        assert by_name[name].attributes[PROMPT_URIS] == ["prompts:/system/1", "prompts:/user/1"]
    (call,) = llm_spans()[:1]
    assert call.attributes[PROMPT_URIS] == ["prompts:/system/1", "prompts:/user/1"]
    assert call.attributes[PROMPT_VERSION] == 1


def test_no_prompt_no_attributes(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert all(not k.startswith("llmtrace.prompt.") for s in spans() for k in s.attributes)


def test_a_failing_link_never_reaches_the_caller(
    client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmtrace.tracing import _processor

    def broken(trace_id: int) -> None:
        raise RuntimeError("linking bug")

    monkeypatch.setattr(_processor, "prompts_in_trace", broken)
    prompt = register_prompt("p", "{{ x }}")
    reply = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": str(prompt.format(x="hi"))}]
    )
    assert reply.choices[0].message.content
    (call,) = llm_spans()
    assert PROMPT_NAME not in call.attributes


def test_the_link_survives_export_to_a_server(
    live_server: Callable[..., LiveServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remote mode: spans go over OTLP to the server, prompts over REST; the stored LLM span
    still names the prompt version."""
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    for var in ("LLMTRACE_STORE", "LLMTRACE_SAMPLE_RATE", "LLMTRACE_ENABLED"):
        monkeypatch.delenv(var, raising=False)
    live = live_server()
    llmtrace.configure(store=live.url, flush_interval=0.05)
    forget_prompt_uses()
    llmtrace.instrument("openai")
    try:
        with (
            FakeOpenAIServer() as server,
            openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
        ):
            prompt = register_prompt("remote-qa", "Answer: {{ question }}")

            @llmtrace.trace
            def answer(question: str) -> str:
                content = str(prompt.format(question=question))
                reply = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": content}]
                )
                return reply.choices[0].message.content or ""

            answer("2+2?")
        assert llmtrace.flush(10)
        (info,) = live.store.search_traces()
        stored = live.store.get_trace(info.trace_id).spans
        llm = [s for s in stored if s.attributes.get(PROMPT_NAME) and s.parent_span_id]
        assert [(s.attributes[PROMPT_NAME], s.attributes[PROMPT_VERSION]) for s in llm] == [
            ("remote-qa", 1)
        ]
        assert live.store.search_traces("tag.`prompt.remote-qa` = '1'")
    finally:
        llmtrace.uninstrument("openai")
        forget_prompt_uses()
        _runtime.reset()


def test_a_langchain_chat_model_call_records_the_prompt(traced: str) -> None:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage

    llmtrace.instrument("langchain")
    try:
        chat = GenericFakeChatModel(messages=iter([AIMessage(content="4")]))
        prompt = register_prompt("lc-qa", [{"role": "user", "content": "Q: {{ question }}"}])

        @llmtrace.trace
        def answer(question: str) -> str:
            messages = prompt.format(question=question)
            assert isinstance(messages, list)
            return str(chat.invoke([HumanMessage(content=messages[0]["content"])]).content)

        assert answer("2+2?") == "4"
    finally:
        llmtrace.uninstrument("langchain")
    linked = [s for s in spans() if s.span_type == "CHAT_MODEL"]
    assert [(s.attributes.get(PROMPT_NAME), s.attributes.get(PROMPT_VERSION)) for s in linked] == [
        ("lc-qa", 1)
    ]
