"""The state shared by the span and event handlers: one `Record` per llmtrace span, reachable
from every LlamaIndex span id that maps onto it.

LlamaIndex nests spans of one object inside each other (`query` -> `_query`, `retrieve` ->
`_retrieve`, `predict` -> `complete`, `synthesize` -> `get_response`). Those inner spans are
*collapsed* into the outer one: their ids point at the outer record, so their events enrich it
and their children nest under it. Transparent spans (see `_kinds`) point at their parent's
record the same way.

A record normally ends when its LlamaIndex span exits. A span that returns a stream ends when
the stream does: an LLM span when every LLM call in it has sent its end event, a query engine
or synthesizer span when its `StreamingResponse` is exhausted (see `_streams`).

All methods are called by LlamaIndex's dispatcher, which swallows handler errors silently;
they catch their own exceptions to log them at debug level, and never raise.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any

from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse
from llama_index.core.chat_engine.types import StreamingAgentChatResponse
from opentelemetry import trace as otel_trace

from llmtrace import semconv as sc
from llmtrace.integrations._common import SpanHandle, start_span
from llmtrace.integrations.llama_index import _extract as ex
from llmtrace.integrations.llama_index._kinds import Kind, classify
from llmtrace.integrations.llama_index._streams import Streams
from llmtrace.pricing import Usage
from llmtrace.semconv import SpanType
from llmtrace.tracing._runtime import get_runtime

logger = logging.getLogger("llmtrace")

INTEGRATION = "llama_index"


class Record:
    """One llmtrace span and what the handlers learned about it so far."""

    __slots__ = (
        "deferred",
        "embedded",
        "ended",
        "error",
        "finalizer",
        "first_token_ns",
        "handle",
        "ids",
        "inputs_set",
        "instance_id",
        "kind",
        "llm_finished",
        "llm_started",
        "model",
        "outputs_set",
        "owner_id",
        "params",
        "parent_otel",
        "provider",
        "recording",
        "response_model",
        "start_ns",
        "usage",
    )

    def __init__(
        self, handle: SpanHandle, kind: Kind, owner_id: str, instance_id: int | None, start_ns: int
    ) -> None:
        self.handle = handle
        self.kind = kind
        self.owner_id = owner_id  # the LlamaIndex span that opened it
        self.ids: list[str] = [owner_id]  # every LlamaIndex span id mapped onto it
        self.instance_id = instance_id
        self.start_ns = start_ns
        self.parent_otel = 0  # OpenTelemetry id of the parent span (0: none)
        self.recording = False  # the span is recorded (not sampled out, tracing on)
        self.deferred = False  # exited with a stream; ends when the stream does
        self.ended = False
        self.inputs_set = False  # by the first LLM start event (the outermost call)
        self.outputs_set = False
        self.llm_started = 0  # LLM chat/completion start events seen
        self.llm_finished = 0  # ... and their end (or exception) events
        self.first_token_ns: int | None = None
        self.embedded = 0  # texts embedded
        self.usage: Usage | None = None
        self.model: str | None = None
        self.response_model: str | None = None
        self.provider: str | None = None
        self.params: dict[str, Any] = {}  # sampling parameters (temperature, ...)
        self.error: BaseException | None = None  # raised inside, not (yet) out of the span
        self.finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def is_model(self) -> bool:
        """True for LLM, chat and embedding spans."""
        return self.kind.model_span


def is_stream(value: object) -> bool:
    """True for generators and async generators (what LlamaIndex streams with)."""
    return isinstance(value, (Generator, AsyncGenerator))


class Tracker:
    """Maps LlamaIndex span ids to records; thread-safe (one re-entrant lock)."""

    def __init__(self) -> None:
        # Re-entrant: a garbage-collection finalizer may run on a thread that holds the lock.
        self._lock = threading.RLock()
        self._spans: dict[str, Record | None] = {}
        # id(LLM object) -> its records waiting for their stream to end.
        self._streaming: dict[int, list[Record]] = {}
        self.streams = Streams(self)

    # --- lookups ----------------------------------------------------------------------------

    def lookup(self, span_id: str | None) -> Record | None:
        """The live record a LlamaIndex span id maps to, if any."""
        if span_id is None:
            return None
        with self._lock:
            record = self._spans.get(span_id)
        return None if record is None or record.ended else record

    def open_records(self) -> list[Record]:
        """Records not ended yet (for tests and shutdown)."""
        with self._lock:
            unique = {id(r): r for r in self._spans.values() if r is not None and not r.ended}
        return list(unique.values())

    def tracked_ids(self) -> int:
        """How many LlamaIndex span ids are mapped (for tests: 0 once everything ended)."""
        with self._lock:
            return len(self._spans)

    # --- span lifecycle ---------------------------------------------------------------------

    def enter(
        self,
        span_id: str,
        bound_args: inspect.BoundArguments,
        instance: object | None,
        parent_id: str | None,
    ) -> None:
        """A LlamaIndex span started: open a span, or map it onto its parent's record."""
        if not get_runtime().enabled:
            return  # tracing is off: nothing to keep (exit and drop then find nothing)
        kind = classify(span_id, instance)
        with self._lock:
            parent = self._spans.get(parent_id) if parent_id is not None else None
            if parent is not None and parent.ended:
                parent = None
            same_object = (
                parent is not None and instance is not None and parent.instance_id == id(instance)
            )
            # The program or parser a model method runs (structured_predict) is part of the
            # model call: its inner model calls then collapse into the outer one.
            inside_model = (
                parent is not None
                and parent.is_model
                and kind.span_type in (SpanType.CHAIN, SpanType.PARSER)
            )
            if kind.span_type is None or same_object or inside_model:
                self._spans[span_id] = parent
                if parent is not None:
                    parent.ids.append(span_id)
                return
        parent_handle = _parent(parent)
        parent_otel = _span_id_of(parent_handle)
        if kind.model_span and instance is not None:
            with self._lock:
                streaming = self._continued(id(instance), parent_otel)
                if streaming is not None:
                    self._spans[span_id] = streaming
                    streaming.ids.append(span_id)
                    return
        record = self._open(span_id, kind, bound_args, instance, parent_handle)
        record.parent_otel = parent_otel
        with self._lock:
            self._spans[span_id] = record

    def _continued(self, instance_id: int, parent_otel: int) -> Record | None:
        """The streaming record a new model span continues, if any (caller holds the lock).

        Some LLMs stream by calling another method of theirs lazily, from inside the returned
        generator (`CustomLLM.astream_complete` iterates `stream_complete`): LlamaIndex then
        reports that call outside the streaming span. It is the same call if the object is
        the same and the span would have the same parent.
        """
        for record in reversed(self._streaming.get(instance_id, ())):
            if not record.ended and record.parent_otel == parent_otel:
                return record
        return None

    def _open(
        self,
        span_id: str,
        kind: Kind,
        bound_args: inspect.BoundArguments,
        instance: object | None,
        parent: SpanHandle | None,
    ) -> Record:
        span_type = kind.span_type or SpanType.CHAIN
        start_ns = time.time_ns()
        handle = start_span(
            kind.name,
            span_type,
            parent=parent,
            start_time_ns=start_ns,
            integration=INTEGRATION,
            model_span=kind.model_span,
        )
        record = Record(handle, kind, span_id, None if instance is None else id(instance), start_ns)
        record.recording = handle.live.is_recording()
        if record.recording:
            try:
                self._describe(record, bound_args, instance)
            except Exception:
                logger.debug("llmtrace could not describe a LlamaIndex span", exc_info=True)
        handle.attach()
        return record

    def _describe(
        self, record: Record, bound_args: inspect.BoundArguments, instance: object | None
    ) -> None:
        """Inputs and static attributes of a new span (only when it is recorded)."""
        live = record.handle.live
        span_type = record.kind.span_type
        if span_type not in (SpanType.LLM, SpanType.CHAT_MODEL):  # LLM events carry inputs
            live.set_inputs(ex.bound_inputs(bound_args))
        if instance is None:
            return
        if record.is_model:
            record.provider = ex.provider(instance)
            record.model = ex.instance_model(instance)
            if record.model is not None:
                live.set_model(record.model, provider=record.provider)
            if span_type is not SpanType.EMBEDDING:
                record.params = ex.instance_parameters(instance)
                if record.params:
                    live.set_attributes(ex.parameter_attributes(record.params))
        elif span_type is SpanType.TOOL:
            _tool_attributes(record.handle, instance)

    def exit(self, span_id: str, instance: object | None, result: object) -> None:
        """A LlamaIndex span returned `result`."""
        if isinstance(instance, StreamingAgentChatResponse):
            self.streams.chat_written(instance, None)
        with self._lock:
            if span_id not in self._spans:
                return
            record = self._spans[span_id]
            if record is None:
                del self._spans[span_id]
                return
            if record.owner_id != span_id:
                # A collapsed span. One that returned a stream keeps its id mapped: the
                # stream's LLM events arrive with it later.
                if not is_stream(result):
                    self._forget(span_id, record)
                return
        record.handle.detach()  # the call returned: no longer current for the caller
        if record.recording and not record.outputs_set:
            self._set_result(record, result)
        if isinstance(result, (StreamingResponse, AsyncStreamingResponse)):
            self.streams.own_response(result, record)
        elif isinstance(result, StreamingAgentChatResponse):
            self.streams.own_chat(result, record)
        elif record.is_model and is_stream(result) and self._defer(record):
            self._watch(record, result)
        else:
            self.finish(record)

    def drop(self, span_id: str, instance: object | None, error: BaseException | None) -> None:
        """A LlamaIndex span raised `error` (which LlamaIndex re-raises unchanged)."""
        if isinstance(instance, StreamingAgentChatResponse):
            self.streams.chat_written(instance, error)
        with self._lock:
            if span_id not in self._spans:
                return
            record = self._spans[span_id]
            if record is None:
                del self._spans[span_id]
                return
            if record.owner_id != span_id:
                # Caught by the enclosing call of the same object, or about to leave it too.
                if error is not None:
                    record.error = error
                self._forget(span_id, record)
                return
        self.finish(record, error)

    def finish(self, record: Record, error: BaseException | None = None) -> None:
        """Record usage and end the span (once); forget every id mapped to it."""
        with self._lock:
            if record.ended:
                return
            record.ended = True
            for span_id in record.ids:
                if self._spans.get(span_id) is record:
                    del self._spans[span_id]
            record.ids = []
            if record.deferred and record.instance_id is not None:
                waiting = self._streaming.get(record.instance_id, [])
                if record in waiting:
                    waiting.remove(record)
                if not waiting:
                    self._streaming.pop(record.instance_id, None)
        if record.finalizer is not None:
            record.finalizer.detach()
            record.finalizer = None
        handle = record.handle
        try:
            if record.usage is not None:
                handle.record_usage(
                    record.usage,
                    model=record.response_model or record.model,
                    provider=record.provider,
                )
            pending = record.error
            if pending is not None and pending is not error and not _benign(pending):
                handle.live.record_exception(pending)  # raised inside, handled inside
        except Exception:
            logger.debug("llmtrace could not complete a LlamaIndex span", exc_info=True)
        handle.end(None if error is None or _benign(error) else error)

    def close(self) -> None:
        """End every open span (LlamaIndex dispatcher shutdown, or uninstrument)."""
        for record in self.open_records():
            self.finish(record)
        with self._lock:
            self._spans.clear()
            self._streaming.clear()

    # --- LLM call accounting (events) -------------------------------------------------------

    def llm_started(self, record: Record) -> bool:
        """An LLM chat/completion call inside `record` started; True for the first one (the
        outermost call of a collapsed chain such as chat -> complete: its inputs are kept)."""
        with self._lock:
            record.llm_started += 1
            first = not record.inputs_set
            record.inputs_set = True
        return first

    def llm_finished(self, record: Record, error: BaseException | None = None) -> None:
        """An LLM call inside `record` ended; a streamed span then ends with its last call."""
        with self._lock:
            record.llm_finished += 1
            if error is not None:
                record.error = error
            done = record.deferred and record.llm_finished >= record.llm_started
        if done:
            self.finish(record, error)

    def first_token(self, record: Record) -> None:
        """A streamed chunk arrived: the first one sets the time to first token."""
        now = time.time_ns()
        with self._lock:
            if record.first_token_ns is not None or record.ended:
                return
            record.first_token_ns = now
        live = record.handle.live
        live.set_attribute(sc.LLM_TIME_TO_FIRST_TOKEN_MS, (now - record.start_ns) / 1e6)
        live.set_attribute(sc.LLM_STREAMING, True)

    # --- helpers ----------------------------------------------------------------------------

    def _forget(self, span_id: str, record: Record) -> None:
        # Caller holds the lock.
        del self._spans[span_id]
        with contextlib.suppress(ValueError):
            record.ids.remove(span_id)

    def _defer(self, record: Record) -> bool:
        with self._lock:
            if record.ended or record.llm_started <= record.llm_finished:
                return False
            record.deferred = True
            if record.instance_id is not None:
                self._streaming.setdefault(record.instance_id, []).append(record)
            return True

    def _watch(self, record: Record, stream: object) -> None:
        """End `record` if its stream is garbage-collected before it finished."""
        with contextlib.suppress(TypeError):  # not weak-referenceable
            record.finalizer = weakref.finalize(stream, self._abandoned, record)

    def _abandoned(self, record: Record) -> None:
        try:
            self.finish(record)
        except Exception:  # runs inside garbage collection: never propagate
            logger.debug("llmtrace could not end an abandoned LlamaIndex stream", exc_info=True)

    def _set_result(self, record: Record, result: object) -> None:
        """Outputs of a span from its return value (when no event already gave them)."""
        live = record.handle.live
        span_type = record.kind.span_type
        try:
            if is_stream(result) or isinstance(
                result, (StreamingResponse, AsyncStreamingResponse, StreamingAgentChatResponse)
            ):
                if record.is_model:
                    live.set_attribute(sc.LLM_STREAMING, True)
                return
            if span_type is SpanType.EMBEDDING:
                shape = ex.embedding_shape(result)
                if shape is not None:
                    live.set_outputs(shape)
                    if "dimensions" in shape:
                        live.set_attribute(
                            sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, shape["dimensions"]
                        )
                return
            if span_type in (SpanType.RETRIEVER, SpanType.RERANKER) and isinstance(
                result, Sequence
            ):
                docs = ex.documents(result)
                live.set_outputs(docs)
                set_documents(record.handle, docs)
                return
            if result is not None:
                live.set_outputs(ex.payload(result))
        except Exception:
            logger.debug("llmtrace could not capture a LlamaIndex result", exc_info=True)


def set_documents(handle: SpanHandle, docs: list[dict[str, Any]]) -> None:
    """`llmtrace.retrieval.documents`: bounded, redacted JSON, when outputs are captured."""
    rt = get_runtime()
    if rt.capture_outputs and handle.live.is_recording():
        text = rt.capture("outputs", docs)
        if text is not None:
            handle.live.set_attribute(sc.RETRIEVAL_DOCUMENTS, text)


def set_query(handle: SpanHandle, query: object) -> None:
    """`llmtrace.retrieval.query`: the query text (redacted, bounded), when inputs are captured."""
    rt = get_runtime()
    text = ex.query_text(query)
    if not isinstance(text, str) or not rt.capture_inputs or not handle.live.is_recording():
        return
    captured = rt.capture("inputs", text)
    if captured is None:
        return
    try:
        value = json.loads(captured)
    except ValueError:
        return
    if isinstance(value, str):
        handle.live.set_attribute(sc.RETRIEVAL_QUERY, value)


def _parent(record: Record | None) -> SpanHandle | None:
    """Where a new span goes: under its LlamaIndex parent's span, unless the current context
    holds a span of the same trace (a user `@trace` function, an OpenAI call) opened inside
    that parent, which is then the closer parent. None means the current context."""
    if record is None:
        return None
    current = otel_trace.get_current_span().get_span_context()
    mine = record.handle.otel_span.get_span_context()
    if current.is_valid and mine.is_valid and current.trace_id == mine.trace_id:
        return None
    return record.handle


def _span_id_of(parent: SpanHandle | None) -> int:
    """OpenTelemetry id of the span a new span gets as parent (0 for a root)."""
    span = parent.otel_span if parent is not None else otel_trace.get_current_span()
    context = span.get_span_context()
    return context.span_id if context.is_valid else 0


def _tool_attributes(handle: SpanHandle, tool: object) -> None:
    try:
        metadata: Any = getattr(tool, "metadata", None)
        if metadata.name:
            handle.live.set_attribute(sc.GEN_AI_TOOL_NAME, metadata.name)
        if metadata.description:
            handle.live.set_attribute(sc.GEN_AI_TOOL_DESCRIPTION, metadata.description)
    except Exception:
        logger.debug("llmtrace could not read a LlamaIndex tool's metadata", exc_info=True)


def _benign(error: BaseException) -> bool:
    # A consumer closing a stream early is not a failure of the call.
    return isinstance(error, GeneratorExit)


__all__ = ["INTEGRATION", "Record", "Tracker", "is_stream", "set_documents", "set_query"]
