"""LlamaIndex instrumentation events enriching the span they belong to (`event.span_id`).

LLM events give the messages or prompt, the model and its parameters, the answer, tool calls,
token usage and the time to first token; embedding events the model and the number and size of
vectors; retrieval and rerank events the query and the documents with their scores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.chat_engine import (
    StreamChatDeltaReceivedEvent,
    StreamChatErrorEvent,
)
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)
from llama_index.core.instrumentation.events.exception import ExceptionEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
    LLMCompletionStartEvent,
    LLMStructuredPredictEndEvent,
)
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.instrumentation.events.retrieval import (
    RetrievalEndEvent,
    RetrievalStartEvent,
)
from pydantic import PrivateAttr

from llmtrace import semconv as sc
from llmtrace.integrations.llama_index import _extract as ex
from llmtrace.integrations.llama_index._tracker import Record, Tracker, set_documents, set_query

logger = logging.getLogger("llmtrace")

_Handler = Callable[[Tracker, Record, Any], None]


class LlmtraceEventHandler(BaseEventHandler):
    """Adds what LlamaIndex events say to the llmtrace span of their LlamaIndex span."""

    _tracker: Tracker = PrivateAttr()

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._tracker = tracker

    @classmethod
    def class_name(cls) -> str:
        """Class name (LlamaIndex's handler registry key)."""
        return "LlmtraceEventHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """Route `event` to the span it belongs to; never raises."""
        try:
            handler = _handler_for(type(event))
            if handler is None:
                return
            record = self._tracker.lookup(event.span_id)
            if record is not None and (record.recording or handler in _ACCOUNTING):
                handler(self._tracker, record, event)
        except Exception:
            logger.debug("llmtrace could not handle a LlamaIndex event", exc_info=True)


# --- LLM --------------------------------------------------------------------------------------


def _model_start(record: Record, model_dict: dict[str, Any], call_kwargs: dict[str, Any]) -> None:
    live = record.handle.live
    model = ex.model_name(model_dict)
    if model is not None and model != record.model:
        record.model = model
        live.set_model(model, provider=record.provider)
    # Per-call overrides (llm.chat(messages, temperature=0)) of the configured parameters.
    overrides = ex.model_parameters(call_kwargs)
    if overrides and any(record.params.get(k) != v for k, v in overrides.items()):
        record.params = {**record.params, **overrides}
        live.set_attributes(ex.parameter_attributes(record.params))


def _chat_start(tracker: Tracker, record: Record, event: LLMChatStartEvent) -> None:
    if tracker.llm_started(record) and record.recording:
        live = record.handle.live
        live.set_inputs({"messages": [ex.message(m) for m in event.messages]})
        tools = ex.tool_definitions(event.additional_kwargs.get("tools"))
        if tools is not None:
            live.set_attribute(sc.GEN_AI_TOOL_DEFINITIONS, tools)
    if record.recording:
        _model_start(record, event.model_dict, event.additional_kwargs)


def _completion_start(tracker: Tracker, record: Record, event: LLMCompletionStartEvent) -> None:
    if tracker.llm_started(record) and record.recording:
        record.handle.live.set_inputs({"prompt": event.prompt})
    if record.recording:
        _model_start(record, event.model_dict, event.additional_kwargs)


def _in_progress(
    tracker: Tracker,
    record: Record,
    event: LLMChatInProgressEvent | LLMCompletionInProgressEvent | StreamChatDeltaReceivedEvent,
) -> None:
    if record.first_token_ns is None:
        tracker.first_token(record)


def _llm_end(
    tracker: Tracker, record: Record, event: LLMChatEndEvent | LLMCompletionEndEvent
) -> None:
    response = event.response
    try:
        if response is not None and record.recording:
            live = record.handle.live
            live.set_outputs(ex.response_output(response))
            record.outputs_set = True
            usage = ex.usage(response)
            if usage is not None:
                record.usage = usage  # recorded once, at the end (inner calls repeat it)
            answered_by = ex.response_model(response)
            if answered_by is not None:
                record.response_model = answered_by
                live.set_model(
                    record.model or answered_by,
                    provider=record.provider,
                    response_model=answered_by,
                )
            reasons = ex.finish_reasons(response)
            if reasons:
                live.set_attribute(sc.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
    finally:
        tracker.llm_finished(record)


def _structured_end(tracker: Tracker, record: Record, event: LLMStructuredPredictEndEvent) -> None:
    record.handle.live.set_outputs(ex.payload(event.output))
    record.outputs_set = True


def _exception(tracker: Tracker, record: Record, event: ExceptionEvent) -> None:
    # Sent when a streamed LLM call fails (or its consumer closes it early).
    if record.is_model:
        tracker.llm_finished(record, event.exception)
    else:
        record.error = event.exception


def _stream_chat_error(tracker: Tracker, record: Record, event: StreamChatErrorEvent) -> None:
    record.error = event.exception


# --- embeddings, retrieval, rerank ---------------------------------------------------


def _embedding_start(tracker: Tracker, record: Record, event: EmbeddingStartEvent) -> None:
    model = ex.model_name(event.model_dict)
    if model is not None and model != record.model:
        record.model = model
        record.handle.live.set_model(model, provider=record.provider)


def _embedding_end(
    tracker: Tracker, record: Record, event: EmbeddingEndEvent | Any
) -> None:  # also SparseEmbeddingEndEvent: `chunks` and `embeddings` (sparse: dicts)
    record.embedded += len(event.chunks)
    outputs: dict[str, int] = {"count": record.embedded}
    vectors: Any = event.embeddings
    if vectors and isinstance(vectors[0], list):
        outputs["dimensions"] = len(vectors[0])
        record.handle.live.set_attribute(sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(vectors[0]))
    record.handle.live.set_outputs(outputs)
    record.outputs_set = True


def _retrieval_start(tracker: Tracker, record: Record, event: RetrievalStartEvent) -> None:
    set_query(record.handle, event.str_or_query_bundle)


def _retrieval_end(tracker: Tracker, record: Record, event: RetrievalEndEvent) -> None:
    docs = ex.documents(event.nodes)
    record.handle.live.set_outputs(docs)
    record.outputs_set = True
    set_documents(record.handle, docs)


def _rerank_start(tracker: Tracker, record: Record, event: ReRankStartEvent) -> None:
    live = record.handle.live
    if event.query is not None:
        set_query(record.handle, event.query)
    live.set_inputs(
        {
            "query": ex.query_text(event.query),
            "top_n": event.top_n,
            "documents": ex.documents(event.nodes),
        }
    )
    if event.model_name and event.model_name.strip().lower() not in ("", "unknown"):
        record.model = event.model_name
        live.set_model(event.model_name, provider=record.provider)


def _rerank_end(tracker: Tracker, record: Record, event: ReRankEndEvent) -> None:
    _retrieval_end(tracker, record, event)  # type: ignore[arg-type]  # same `nodes` field


_HANDLERS: dict[type, _Handler | None] = {
    LLMChatStartEvent: _chat_start,
    LLMCompletionStartEvent: _completion_start,
    LLMChatInProgressEvent: _in_progress,
    LLMCompletionInProgressEvent: _in_progress,
    StreamChatDeltaReceivedEvent: _in_progress,
    LLMChatEndEvent: _llm_end,
    LLMCompletionEndEvent: _llm_end,
    LLMStructuredPredictEndEvent: _structured_end,
    ExceptionEvent: _exception,
    StreamChatErrorEvent: _stream_chat_error,
    EmbeddingStartEvent: _embedding_start,
    EmbeddingEndEvent: _embedding_end,
    RetrievalStartEvent: _retrieval_start,
    RetrievalEndEvent: _retrieval_end,
    ReRankStartEvent: _rerank_start,
    ReRankEndEvent: _rerank_end,
}


# Handlers that also count LLM calls, which decides when a streamed span ends: they run for
# spans that are not recorded too.
_ACCOUNTING: frozenset[_Handler] = frozenset({_chat_start, _completion_start, _llm_end, _exception})


# Events of newer llama-index-core versions, matched by class name so that older ones import.
_HANDLERS_BY_NAME: dict[str, _Handler] = {"SparseEmbeddingEndEvent": _embedding_end}


def _handler_for(event_type: type) -> _Handler | None:
    """The handler of an event class or its nearest handled base class (cached)."""
    try:
        return _HANDLERS[event_type]
    except KeyError:
        pass
    found: _Handler | None = None
    for cls in event_type.__mro__:
        found = _HANDLERS.get(cls) or _HANDLERS_BY_NAME.get(cls.__name__)
        if found is not None:
            break
    _HANDLERS[event_type] = found
    return found


__all__ = ["LlmtraceEventHandler"]
