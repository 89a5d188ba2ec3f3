"""Streamed calls: the user keeps the SDK's own `Stream`/`AsyncStream` object; llmtrace swaps
the iterator inside it for one that watches each chunk on its way to the user.

The span ends when the stream is read to the end, fails, is closed (`close()`, `with` exit), or,
if the user drops it unfinished, when it is garbage-collected (`weakref.finalize`), stamped
with the time of the last chunk seen (or of the call's return). When llmtrace asked for the
usage chunk itself (`stream_options.include_usage`), that chunk is kept from the user and the
`usage` field of the other chunks is restored to what an unasked-for stream carries (unset),
so what the user iterates is what the call without llmtrace yields.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

from llmtrace import semconv as sc
from llmtrace.integrations.openai import _extract as ex
from llmtrace.integrations.openai._call import Call

logger = logging.getLogger("llmtrace")

COMPLETED = "completed"
CLOSED = "closed"
ABANDONED = "abandoned"
ERROR = "error"


class _Choice:
    __slots__ = ("calls", "finish", "refusal", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: Any = None


class ChoicesAccumulator:
    """Chat and legacy completion chunks: text, tool-call deltas, finish reasons, usage."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.choices: dict[int, _Choice] = {}
        self.response_id: Any = None
        self.model: Any = None
        self.usage: Any = None

    def add(self, chunk: Any) -> bool:
        """Take one chunk; True when it carries generated content."""
        if self.response_id is None:
            self.response_id = ex.get(chunk, "id")
            self.model = ex.get(chunk, "model")
        usage = ex.get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        produced = False
        for choice in ex.get(chunk, "choices") or ():
            index = ex.get(choice, "index") or 0
            state = self.choices.get(index)
            if state is None:
                state = self.choices[index] = _Choice()
            if self.kind == ex.COMPLETION:
                text = ex.get(choice, "text")
                if text:
                    state.text.append(text)
                    produced = True
            else:
                produced = _add_delta(state, ex.get(choice, "delta")) or produced
            reason = ex.get(choice, "finish_reason")
            if reason is not None:
                state.finish = reason
        return produced

    def summary(self) -> ex.Summary:
        """What the chunks seen so far add up to."""
        summary = ex.Summary(response_id=self.response_id, response_model=self.model)
        summary.usage = ex.usage_of(self.kind, self.usage)
        indexes = sorted(self.choices)
        states = [self.choices[i] for i in indexes]
        reasons = [s.finish for s in states]
        if self.kind == ex.COMPLETION:
            texts = ["".join(s.text) for s in states]
            summary.finish_reasons = [str(r) for r in reasons if r is not None]
            summary.outputs = texts[0] if len(texts) == 1 else texts
            return summary
        messages = []
        for s in states:
            calls = [
                {"id": c["id"], "name": c["name"], "arguments": "".join(c["arguments"])}
                for _, c in sorted(s.calls.items())
            ]
            content = "".join(s.text) if s.text else None
            messages.append(ex.chat_output(content, calls, "".join(s.refusal) or None))
        if messages:
            ex.finish_choices(summary, messages, reasons)
        return summary


def _add_delta(state: _Choice, delta: Any) -> bool:
    produced = False
    content = ex.get(delta, "content")
    if content:
        state.text.append(content)
        produced = True
    refusal = ex.get(delta, "refusal")
    if refusal:
        state.refusal.append(refusal)
        produced = True
    for call in ex.get(delta, "tool_calls") or ():
        index = ex.get(call, "index") or 0
        entry = state.calls.get(index)
        if entry is None:
            entry = state.calls[index] = {"id": None, "name": None, "arguments": []}
        if ex.get(call, "id"):
            entry["id"] = ex.get(call, "id")
        function = ex.get(call, "function")
        if ex.get(function, "name"):
            entry["name"] = ex.get(function, "name")
        arguments = ex.get(function, "arguments")
        if arguments:
            entry["arguments"].append(arguments)
        produced = True
    return produced


_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesAccumulator:
    """Responses API events: the final `response` object, or the deltas seen before a cut."""

    kind = ex.RESPONSES

    def __init__(self) -> None:
        self.final: Any = None
        self.partial: Any = None  # the response of response.created / in_progress
        self.text: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.error: str | None = None

    def add(self, event: Any) -> bool:
        """Take one event; True when it carries generated content (any `*.delta`)."""
        etype = ex.get(event, "type")
        if not isinstance(etype, str):
            return False
        if etype == "response.output_text.delta":
            self.text.append(str(ex.get(event, "delta") or ""))
            return True
        if etype in _FINAL_EVENTS:
            self.final = ex.get(event, "response")
        elif etype in ("response.created", "response.in_progress"):
            self.partial = ex.get(event, "response")
        elif etype == "response.output_item.done":
            item = ex.get(event, "item")
            if ex.get(item, "type") == "function_call":
                self.calls.append(
                    {
                        "id": ex.get(item, "call_id"),
                        "name": ex.get(item, "name"),
                        "arguments": ex.get(item, "arguments"),
                    }
                )
        elif etype == "error":
            self.error = str(ex.get(event, "message") or ex.get(event, "code") or "error event")
        return etype.endswith(".delta")

    def summary(self) -> ex.Summary:
        """The final response's summary, or one built from the deltas seen so far."""
        summary = ex.Summary()
        if self.final is not None:
            ex.summarize_response(summary, self.final)
        else:
            summary.response_id = ex.get(self.partial, "id")
            summary.response_model = ex.get(self.partial, "model")
            if self.text or self.calls:
                message = ex.chat_output("".join(self.text) or None, self.calls)
                summary.outputs = message
                summary.output_messages = [ex.output_message(message, None)]
        if self.error and not summary.error:
            summary.error = self.error
        return summary


Accumulator = ChoicesAccumulator | ResponsesAccumulator


class StreamObserver:
    """Watches one stream's chunks and completes its call's span exactly once.

    It holds no reference to the stream (so that the stream can be collected) but keeps its
    HTTP response, to tell an abandoned stream from one closed through the response.
    """

    __slots__ = ("_call", "_done", "_first_ns", "_last_ns", "_response", "acc", "finalizer", "hide")

    def __init__(self, call: Call, acc: Accumulator, *, hide: bool, response: Any) -> None:
        self._call = call
        self.acc = acc
        self.hide = hide
        self._response = response
        self._first_ns: int | None = None
        self._last_ns = time.time_ns()  # the last sign of life: the call's return, then chunks
        self._done = False
        self.finalizer: weakref.finalize[Any, Any] | None = None

    def visible(self, item: Any) -> bool:
        """Record `item`; False for the usage-only chunk llmtrace asked for (kept from the
        user). Never raises."""
        try:
            self._last_ns = time.time_ns()
            if self.acc.add(item) and self._first_ns is None:
                self._first_ns = time.perf_counter_ns()
            if self.hide:
                return _restore_usage(item)
        except Exception:
            logger.debug("llmtrace could not read an OpenAI stream chunk", exc_info=True)
        return True

    def finish(self, how: str, error: BaseException | None = None) -> None:
        """Complete the span: the stream ended `how` (COMPLETED, CLOSED, ERROR)."""
        self._complete(how, error, None)

    def abandon(self) -> None:
        """The stream was garbage-collected unfinished: end the span at the last chunk (or at
        the call's return when none was read)."""
        closed = bool(getattr(self._response, "is_closed", False))
        self._complete(CLOSED if closed else ABANDONED, None, self._last_ns)

    def _complete(self, how: str, error: BaseException | None, end_ns: int | None) -> None:
        if self._done:
            return
        self._done = True
        self._response = None
        try:
            if self.finalizer is not None:
                self.finalizer.detach()
            attrs: dict[str, Any] = {sc.LLM_STREAM_END: how}
            if self._first_ns is not None:
                ttft = (self._first_ns - self._call.t0) / 1e6
                attrs[sc.LLM_TIME_TO_FIRST_TOKEN_MS] = round(ttft, 3)
            acc = self.acc
            has_usage = getattr(acc, "usage", None) is not None
            # Chat and completion chunks are summarized on the export thread when possible; a
            # Responses stream may carry a failure, which sets the status before the end.
            summary: Any = acc.summary() if self._call.kind == ex.RESPONSES else acc.summary
        except Exception:
            logger.debug("llmtrace could not summarize an OpenAI stream", exc_info=True)
            attrs, summary, has_usage = {sc.LLM_STREAM_END: how}, None, False
        self._call.complete(
            summary, error=error, end_time_ns=end_ns, attributes=attrs, has_usage=has_usage
        )


def _restore_usage(chunk: Any) -> bool:
    """Hide the usage-only chunk; unset `usage` on the others, as without include_usage."""
    usage = ex.get(chunk, "usage")
    if usage is not None and not ex.get(chunk, "choices"):
        return False
    fields = getattr(chunk, "__pydantic_fields_set__", None)
    if usage is not None:
        chunk.usage = None
    if isinstance(fields, set):
        fields.discard("usage")
    return True


def _iterate(inner: Iterator[Any], observer: StreamObserver) -> Iterator[Any]:
    try:
        for item in inner:
            if observer.visible(item):
                yield item
    except GeneratorExit:
        observer.abandon()
        raise
    except BaseException as exc:
        observer.finish(ERROR, exc)
        raise
    observer.finish(COMPLETED)


async def _aiterate(inner: AsyncIterator[Any], observer: StreamObserver) -> AsyncIterator[Any]:
    try:
        async for item in inner:
            if observer.visible(item):
                yield item
    except GeneratorExit:
        observer.abandon()
        raise
    except BaseException as exc:
        observer.finish(ERROR, exc)
        raise
    observer.finish(COMPLETED)


def _accumulator(call: Call) -> Accumulator:
    if call.kind == ex.RESPONSES:
        return ResponsesAccumulator()
    return ChoicesAccumulator(call.kind)


def observe_stream(stream: Any, call: Call, *, hide: bool) -> None:
    """Route `stream`'s chunks (an `openai.Stream`) through the call's observer, in place."""
    observer = StreamObserver(call, _accumulator(call), hide=hide, response=stream.response)
    original_close = stream.close

    def close() -> None:
        try:
            original_close()
        finally:
            observer.finish(CLOSED)

    stream._iterator = _iterate(stream._iterator, observer)
    # An instance attribute: Stream.__exit__ calls self.close(), so `with` exits land here too.
    stream.__dict__["close"] = close
    observer.finalizer = weakref.finalize(stream, observer.abandon)


def observe_async_stream(stream: Any, call: Call, *, hide: bool) -> None:
    """`observe_stream` for an `openai.AsyncStream` (its `close` is a coroutine)."""
    observer = StreamObserver(call, _accumulator(call), hide=hide, response=stream.response)
    original_close = stream.close

    async def close() -> None:
        try:
            await original_close()
        finally:
            observer.finish(CLOSED)

    stream._iterator = _aiterate(stream._iterator, observer)
    stream.__dict__["close"] = close  # AsyncStream.__aexit__ and aclose() call self.close()
    observer.finalizer = weakref.finalize(stream, observer.abandon)


__all__ = [
    "ABANDONED",
    "CLOSED",
    "COMPLETED",
    "ERROR",
    "ChoicesAccumulator",
    "ResponsesAccumulator",
    "StreamObserver",
    "observe_async_stream",
    "observe_stream",
]
