"""Real langchain-core components for the LangChain integration tests (no tests here): a chat
model reporting exact usage, a retriever, tools, and helpers that read stored span trees."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.retrievers import BaseRetriever
from opentelemetry import trace as otel_trace

import llmtrace

MODEL = "lc-test-model"
PROVIDER = "lc-test-provider"
USAGE = {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}


class UsageChat(BaseChatModel):
    """A chat model answering `reply` (or echoing the last message) with exact usage."""

    model_name: str = MODEL
    reply: str | None = None
    usage: dict[str, Any] = USAGE
    temperature: float = 0.25
    max_tokens: int = 64
    # Called inside `_generate` (e.g. a `@llmtrace.trace` function or a nested model span).
    inner: Callable[[], Any] | None = None

    @property
    def _llm_type(self) -> str:
        return "usage-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return LangSmithParams(ls_provider=PROVIDER, ls_model_name=self.model_name)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.inner is not None:
            self.inner()
        text = self.reply if self.reply is not None else f"echo:{messages[-1].content}"
        message = AIMessage(
            content=text,
            usage_metadata=self.usage,  # type: ignore[arg-type]
            response_metadata={"model_name": self.model_name, "finish_reason": "stop"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


class ListRetriever(BaseRetriever):
    """Returns two documents about the query."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(id="d1", page_content=f"{query} one", metadata={"score": 0.9, "src": "a"}),
            Document(page_content=f"{query} two", metadata={"src": "b"}),
        ]


Shape = tuple[str, str, list[Any]]


def shape(span: llmtrace.Span) -> Shape:
    """(name, type, children) of a stored span; children sorted by name (parallel branches
    start in any order)."""
    children = sorted((shape(c) for c in span.children), key=lambda s: (s[0], s[1], repr(s[2])))
    return (span.name, span.span_type, children)


def tree(trace: llmtrace.Trace) -> Shape:
    """The shape of a trace with exactly one root."""
    assert len(trace.roots) == 1, [s.name for s in trace.roots]
    root = trace.root
    assert root is not None
    return shape(root)


def spans_named(trace: llmtrace.Trace, name: str) -> list[llmtrace.Span]:
    return [s for s in trace.spans if s.name == name]


def one_span(trace: llmtrace.Trace, name: str) -> llmtrace.Span:
    found = spans_named(trace, name)
    assert len(found) == 1, (name, [s.name for s in trace.spans])
    return found[0]


@pytest.fixture
def no_callback_failures(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if any handler callback logged a failure (they never raise), or if a
    span was left current in the test's context after its runs ended."""
    caplog.set_level("DEBUG", logger="llmtrace")
    yield
    failures = [r for r in caplog.records if "LangChain callback" in r.getMessage()]
    assert not failures, [(r.getMessage(), r.exc_text) for r in failures]
    assert not otel_trace.get_current_span().get_span_context().is_valid


__all__ = [
    "MODEL",
    "PROVIDER",
    "USAGE",
    "ListRetriever",
    "UsageChat",
    "no_callback_failures",
    "one_span",
    "shape",
    "spans_named",
    "tree",
]
