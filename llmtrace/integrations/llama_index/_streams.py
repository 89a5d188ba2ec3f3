"""Spans that outlive their LlamaIndex span because they return a stream.

A streaming query engine returns a `StreamingResponse` at once; the LLM call happens later,
while the caller iterates `response.response_gen`, outside any LlamaIndex span (LlamaIndex
would report it as a separate root). So the query engine and synthesizer spans stay open, and
`response_gen` is replaced by a generator yielding the very same items that, around each
step, makes the synthesizer span current (the LLM span nests under it) and, once the stream is
exhausted, closed or failed, ends the spans with the answer as output. The response object and
the items are unchanged.

A streaming chat engine returns a `StreamingAgentChatResponse` whose reply a background thread
(or task) writes to memory; the chat engine span ends when that writer finishes.

Streams that are never iterated end when they are garbage-collected.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse
from llama_index.core.chat_engine.types import StreamingAgentChatResponse
from opentelemetry import context as otel_context

from llmtrace import semconv as sc

if TYPE_CHECKING:
    from llmtrace.integrations.llama_index._tracker import Record, Tracker

logger = logging.getLogger("llmtrace")


class _Group:
    """The spans that end with one stream (a synthesizer and the query engine around it)."""

    def __init__(self, tracker: Tracker, record: Record) -> None:
        self.tracker = tracker
        self.records: list[Record] = [record]
        self.context = record.handle.context  # the innermost span: LLM calls nest under it
        self.first_token_ns: int | None = None
        self.pieces: list[str] = []
        self.done = False
        self.lock = threading.Lock()

    def add(self, record: Record) -> bool:
        """Also end `record` with the stream; False when the stream already ended."""
        with self.lock:
            if self.done:
                return False
            self.records.append(record)
        if self.first_token_ns is not None:
            _set_first_token(record, self.first_token_ns)
        return True

    def item(self, value: object) -> None:
        try:
            if self.first_token_ns is None:
                self.first_token_ns = time.time_ns()
                with self.lock:
                    records = list(self.records)
                for record in records:
                    _set_first_token(record, self.first_token_ns)
            if isinstance(value, str):
                self.pieces.append(value)
        except Exception:
            logger.debug("llmtrace could not follow a LlamaIndex stream", exc_info=True)

    def end(self, error: BaseException | None = None) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
            records = list(self.records)
        text = "".join(self.pieces)
        for record in records:  # innermost first
            try:
                record.handle.live.set_outputs(text)
            except Exception:
                logger.debug("llmtrace could not capture a streamed answer", exc_info=True)
            self.tracker.finish(record, error)


class _ChatStream:
    """A streamed chat reply: the chat engine spans waiting for its writer to finish."""

    __slots__ = ("done", "error", "records")

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.done = False
        self.error: BaseException | None = None


class Streams:
    """Stream bookkeeping of one tracker."""

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker
        self._lock = threading.RLock()
        # id(our wrapper generator) -> its group; entries leave with the wrapper.
        self._groups: dict[int, _Group] = {}
        # id(StreamingAgentChatResponse) -> its state; entries leave with the response.
        self._chats: dict[int, _ChatStream] = {}

    def own_response(
        self, response: StreamingResponse | AsyncStreamingResponse, record: Record
    ) -> None:
        """End `record` when `response`'s stream ends (wrapping the stream the first time)."""
        tracker = self._tracker
        gen: Any = response.response_gen
        with self._lock:
            group = self._groups.get(id(gen))
        if group is not None:
            if not group.add(record):
                tracker.finish(record)
            return
        if not record.handle.otel_span.get_span_context().is_valid:
            tracker.finish(record)  # no trace to continue: leave the response alone
            return
        if isinstance(response, StreamingResponse) and isinstance(gen, Generator):
            group = _Group(tracker, record)
            wrapper: Any = _wrap_sync(gen, group)
        elif isinstance(response, AsyncStreamingResponse) and isinstance(gen, AsyncGenerator):
            group = _Group(tracker, record)
            wrapper = _wrap_async(gen, group)
        else:  # already consumed, or a stream we do not know how to follow
            tracker.finish(record)
            return
        try:
            response.response_gen = wrapper
        except Exception:
            logger.debug("llmtrace could not follow a LlamaIndex stream", exc_info=True)
            tracker.finish(record)
            return
        key = id(wrapper)
        with self._lock:
            self._groups[key] = group
        weakref.finalize(wrapper, self._collected, key, group)

    def own_chat(self, response: StreamingAgentChatResponse, record: Record) -> None:
        """End `record` when the writer of `response` has finished (or already has)."""
        key = id(response)
        with self._lock:
            chat = self._chats.get(key)
            if chat is None:
                chat = self._chat(response, key)
            done = chat.done
            if not done:
                chat.records.append(record)
        if done:
            self._tracker.finish(record, chat.error)

    def chat_written(
        self, response: StreamingAgentChatResponse, error: BaseException | None
    ) -> None:
        """The writer of `response` (write_response_to_history) returned or raised."""
        key = id(response)
        with self._lock:
            chat = self._chats.get(key)
            if chat is None:
                chat = self._chat(response, key)
            chat.done = True
            chat.error = error
            records, chat.records = chat.records, []
        for record in records:
            self._tracker.finish(record, error)

    def _chat(self, response: StreamingAgentChatResponse, key: int) -> _ChatStream:
        # Caller holds the lock.
        chat = _ChatStream()
        self._chats[key] = chat
        with contextlib.suppress(TypeError):  # not weak-referenceable
            weakref.finalize(response, self._chat_collected, key, chat)
        return chat

    def _collected(self, key: int, group: _Group) -> None:
        try:
            with self._lock:
                if self._groups.get(key) is group:
                    del self._groups[key]
            group.end()  # never iterated: end with what we have
        except Exception:
            logger.debug("llmtrace could not end an abandoned LlamaIndex stream", exc_info=True)

    def _chat_collected(self, key: int, chat: _ChatStream) -> None:
        try:
            with self._lock:
                if self._chats.get(key) is chat:
                    del self._chats[key]
                records, chat.records = chat.records, []
            for record in records:
                self._tracker.finish(record)
        except Exception:
            logger.debug("llmtrace could not end an abandoned LlamaIndex chat", exc_info=True)


def _set_first_token(record: Record, first_ns: int) -> None:
    live = record.handle.live
    live.set_attribute(sc.LLM_TIME_TO_FIRST_TOKEN_MS, (first_ns - record.start_ns) / 1e6)
    live.set_attribute(sc.LLM_STREAMING, True)


def _wrap_sync(inner: Iterator[Any], group: _Group) -> Generator[Any, None, None]:
    error: BaseException | None = None
    try:
        while True:
            token = otel_context.attach(group.context)
            try:
                item = next(inner)
            except StopIteration:
                break
            finally:
                otel_context.detach(token)
            group.item(item)
            yield item
    except GeneratorExit:
        close = getattr(inner, "close", None)
        if close is not None:
            close()
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        group.end(error)


async def _wrap_async(inner: AsyncIterator[Any], group: _Group) -> AsyncGenerator[Any, None]:
    error: BaseException | None = None
    try:
        while True:
            token = otel_context.attach(group.context)
            try:
                item = await inner.__anext__()
            except StopAsyncIteration:
                break
            finally:
                otel_context.detach(token)
            group.item(item)
            yield item
    except GeneratorExit:
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        group.end(error)


__all__ = ["Streams"]
