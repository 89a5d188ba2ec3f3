"""Which llmtrace span a LlamaIndex span becomes: its type and name, or none at all.

LlamaIndex opens a span for every `@dispatcher.span` method call. The object the method is
called on decides the span type (a retriever's `retrieve` is a RETRIEVER span, an LLM's `chat`
a CHAT_MODEL span). Plumbing that would only add noise between the interesting steps (text
splitting inside a synthesizer, the refine synthesizer's private program, the async job
runner, the thread writing a streamed chat reply to memory) is made *transparent*: no span,
and whatever happens inside nests under the enclosing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.base import BaseLLM
from llama_index.core.chat_engine.types import BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.image_retriever import BaseImageRetriever
from llama_index.core.multi_modal_llms.base import MultiModalLLM
from llama_index.core.node_parser.interface import NodeParser
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.response_synthesizers.base import BaseSynthesizer
from llama_index.core.tools.types import BaseTool
from llama_index.core.types import BaseOutputParser

from llmtrace.semconv import SpanType

_CHAT_METHODS = frozenset({"chat", "achat", "stream_chat", "astream_chat"})
_COMPLETION_METHODS = frozenset({"complete", "acomplete", "stream_complete", "astream_complete"})
# Transparent by class name (private helpers, matched by name so no private import is needed).
_INTERNAL_CLASSES = frozenset({"DefaultRefineProgram"})
# Transparent model methods: preparing a request is not a model call.
_INTERNAL_MODEL_METHODS = frozenset({"_prepare_chat_with_tools"})
# Transparent free functions (LlamaIndex's async job runner), by qualified name.
_INTERNAL_FUNCTIONS = frozenset({"run_jobs", "run_jobs.<locals>.worker"})
# Matched through the class hierarchy by name: agents, to avoid importing the agent package
# (and its dependencies) just to instrument; sparse embeddings, which older llama-index-core
# versions do not have.
_AGENT_BASES = frozenset(
    {
        ("llama_index.core.agent.workflow.base_agent", "BaseWorkflowAgent"),
        ("llama_index.core.agent.workflow.multi_agent_workflow", "AgentWorkflow"),
    }
)
_SPARSE_EMBEDDING_BASES = frozenset(
    {("llama_index.core.base.embeddings.base_sparse", "BaseSparseEmbedding")}
)


@dataclass(frozen=True)
class Kind:
    """What to record for one LlamaIndex span. `span_type` None means transparent."""

    span_type: SpanType | None
    name: str
    model_span: bool = False
    chat_stream_writer: bool = False  # StreamingAgentChatResponse.write_response_to_history


def span_name(span_id: str) -> str:
    """The readable part of a LlamaIndex span id: `RetrieverQueryEngine.query` from
    `RetrieverQueryEngine.query-<uuid>`."""
    return span_id.partition("-")[0]


def classify(span_id: str, instance: object | None) -> Kind:
    """The llmtrace span type and name of the LlamaIndex span `span_id` on `instance`."""
    name = span_name(span_id)
    method = name.rpartition(".")[2]
    if instance is None:
        if name in _INTERNAL_FUNCTIONS:
            return Kind(None, name)
        return Kind(SpanType.CHAIN, name)
    if isinstance(instance, (BaseLLM, MultiModalLLM)):
        if method in _INTERNAL_MODEL_METHODS:
            return Kind(None, name)
        return Kind(_llm_type(instance, method), name, model_span=True)
    if isinstance(instance, BaseEmbedding) or _has_base(type(instance), _SPARSE_EMBEDDING_BASES):
        return Kind(SpanType.EMBEDDING, name, model_span=True)
    if isinstance(instance, (BaseRetriever, BaseImageRetriever)):
        return Kind(SpanType.RETRIEVER, name)
    if isinstance(instance, BaseNodePostprocessor):
        return Kind(SpanType.RERANKER, name)
    if isinstance(instance, BaseTool):
        return Kind(SpanType.TOOL, _tool_name(instance) or name)
    if isinstance(instance, (BaseQueryEngine, BaseSynthesizer, BaseChatEngine)):
        return Kind(SpanType.CHAIN, name)
    if isinstance(instance, StreamingAgentChatResponse):
        return Kind(None, name, chat_stream_writer=True)
    if isinstance(instance, NodeParser) or type(instance).__name__ in _INTERNAL_CLASSES:
        return Kind(None, name)
    if isinstance(instance, BaseOutputParser):
        return Kind(SpanType.PARSER, name)
    if _has_base(type(instance), _AGENT_BASES):
        return Kind(SpanType.AGENT, name)
    return Kind(SpanType.CHAIN, name)


def _llm_type(instance: object, method: str) -> SpanType:
    if method in _CHAT_METHODS:
        return SpanType.CHAT_MODEL
    if method in _COMPLETION_METHODS:
        return SpanType.LLM
    # predict, stream, structured_predict, ...: a chat call on chat models.
    try:
        metadata: Any = getattr(instance, "metadata", None)
        is_chat = bool(metadata.is_chat_model)
    except Exception:
        is_chat = False
    return SpanType.CHAT_MODEL if is_chat else SpanType.LLM


def _tool_name(tool: BaseTool) -> str | None:
    try:
        name = tool.metadata.name
    except Exception:
        return None
    return name if isinstance(name, str) and name else None


def _has_base(cls: type, bases: frozenset[tuple[str, str]]) -> bool:
    return any((base.__module__, base.__name__) in bases for base in cls.__mro__)


__all__ = ["Kind", "classify", "span_name"]
