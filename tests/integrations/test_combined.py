"""Integrations together: a LangChain chat model that calls the instrumented OpenAI client
(what `langchain-openai` does), run in parallel — each provider span nests under its own
LangChain model span, and tokens and cost count once per call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate

import llmtrace
from llmtrace import pricing
from tests.integrations.fake_openai_server import FakeOpenAIServer
from tests.integrations.test_langchain_fakes import tree
from tests.tracing.conftest import stored_traces


class OpenAIBackedChat(BaseChatModel):
    """A LangChain chat model calling the real OpenAI client and reporting its usage."""

    base_url: str
    model_name: str = "gpt-4o-mini"

    @property
    def _llm_type(self) -> str:
        return "openai-backed"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        with openai.OpenAI(base_url=self.base_url, api_key="sk-test", max_retries=0) as client:
            result = client.chat.completions.create(
                model=self.model_name,
                messages=[{"role": "user", "content": str(m.content)} for m in messages],
            )
        usage = result.usage
        assert usage is not None
        message = AIMessage(
            content=result.choices[0].message.content or "",
            usage_metadata={
                "input_tokens": usage.prompt_tokens,
                "output_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
            response_metadata={"model_name": result.model},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


@pytest.fixture
def both(traced: str) -> Iterator[FakeOpenAIServer]:
    llmtrace.instrument("openai", "langchain")
    try:
        with FakeOpenAIServer() as server:
            yield server
    finally:
        llmtrace.uninstrument("openai", "langchain")


def test_langchain_model_over_openai_in_a_batch_counts_each_call_once(
    both: FakeOpenAIServer,
) -> None:
    pricing.set_price("gpt-4o-mini", input=1.0, output=2.0)
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | OpenAIBackedChat(
        base_url=both.base_url
    )
    questions = [{"q": f"question {i}"} for i in range(4)]
    answers = chain.batch(questions, config={"max_concurrency": 4})
    assert [a.content for a in answers] == ["Hello there!"] * 4

    traces = stored_traces()
    assert len(traces) == 4
    for trace in traces:
        assert tree(trace) == (
            "RunnableSequence",
            "CHAIN",
            [
                ("ChatPromptTemplate", "CHAIN", []),
                (
                    "OpenAIBackedChat",
                    "CHAT_MODEL",
                    [("openai.chat.completions", "CHAT_MODEL", [])],
                ),
            ],
        )
        # The fake server reports 12 prompt + 5 completion tokens per call.
        assert (trace.info.input_tokens, trace.info.output_tokens) == (12, 5)
        assert trace.info.cost == 0.000022  # (12 * 1.0 + 5 * 2.0) / 1e6, once
        outer = next(s for s in trace.spans if s.name == "OpenAIBackedChat")
        assert outer.attributes["llmtrace.usage.aggregate"] is False
        assert (outer.input_tokens, outer.output_tokens) == (12, 5)  # still shown
