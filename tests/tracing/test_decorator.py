"""`@trace` on every kind of callable: inputs, outputs, names, types, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

import llmtrace
from llmtrace import SpanType
from tests.tracing.conftest import only_trace, stored_traces

pytestmark = pytest.mark.usefixtures("traced")


def test_bare_decorator_captures_bound_arguments_and_return_value() -> None:
    @llmtrace.trace
    def add(a: int, b: int = 10, *, scale: int = 1) -> int:
        return (a + b) * scale

    assert add(1, b=2, scale=3) == 9
    trace = only_trace()
    root = trace.root
    assert root is not None
    assert root.name.endswith("add")
    assert root.span_type == "UNKNOWN"
    assert root.inputs == {"a": 1, "b": 2, "scale": 3}
    assert root.outputs == 9
    assert root.status == "OK"
    assert trace.info.status == "OK"
    assert trace.info.name == root.name


def test_decorator_with_arguments() -> None:
    @llmtrace.trace(name="lookup", span_type=SpanType.RETRIEVER, attributes={"index": "kb"})
    def search(query: str) -> list[str]:
        return ["d1", "d2"]

    @llmtrace.trace(span_type="tool", capture_inputs=False, capture_outputs=False)
    def secret(token: str) -> str:
        return token[::-1]

    search("q")
    secret("abc")
    by_name = {t.info.name: t for t in stored_traces()}
    span = by_name["lookup"].root
    assert span is not None
    assert span.span_type == "RETRIEVER"
    assert span.attributes["index"] == "kb"
    assert span.outputs == ["d1", "d2"]
    quiet = next(t for n, t in by_name.items() if n.endswith("secret")).root
    assert quiet is not None
    assert quiet.span_type == "TOOL"
    assert quiet.inputs is None and quiet.outputs is None


def test_methods_drop_self_and_cls() -> None:
    class Bot:
        greeting = "hi"

        @llmtrace.trace
        def reply(self, name: str) -> str:
            return f"{self.greeting} {name}"

        @llmtrace.trace
        @classmethod
        def make(cls, n: int) -> int:
            return n

        @llmtrace.trace
        @staticmethod
        def pure(x: int) -> int:
            return x + 1

    assert Bot().reply("ada") == "hi ada"
    assert Bot.make(3) == 3
    assert Bot.pure(1) == 2
    inputs = {t.info.name.rsplit(".", 1)[-1]: t.root.inputs for t in stored_traces()}  # type: ignore[union-attr]
    assert inputs == {"reply": {"name": "ada"}, "make": {"n": 3}, "pure": {"x": 1}}


def test_variadic_arguments_are_captured() -> None:
    @llmtrace.trace
    def many(first: int, *rest: int, **options: str) -> int:
        return first + sum(rest)

    many(1, 2, 3, mode="fast")
    root = only_trace().root
    assert root is not None
    assert root.inputs == {"first": 1, "rest": [2, 3], "options": {"mode": "fast"}}


def test_exception_is_recorded_and_reraised_unchanged() -> None:
    class Custom(Exception):
        pass

    error = Custom("bad input")

    @llmtrace.trace
    def fails() -> None:
        raise error

    with pytest.raises(Custom) as info:
        fails()
    assert info.value is error
    trace = only_trace()
    root = trace.root
    assert root is not None
    assert root.status == "ERROR"
    assert "bad input" in (root.status_message or "")
    assert trace.info.status == "ERROR"
    assert trace.info.error_count == 1
    events = [e for e in root.events if e["name"] == "exception"]
    assert events and events[0]["attributes"]["exception.message"] == "bad input"
    assert "Custom" in events[0]["attributes"]["exception.type"]


def test_nested_calls_form_a_tree() -> None:
    @llmtrace.trace
    def leaf(i: int) -> int:
        return i

    @llmtrace.trace
    def middle() -> int:
        return leaf(1) + leaf(2)

    @llmtrace.trace
    def top() -> int:
        return middle()

    top()
    trace = only_trace()
    shape = [(depth, span.name.rsplit(".", 1)[-1]) for depth, span in trace.walk()]
    assert shape == [(0, "top"), (1, "middle"), (2, "leaf"), (2, "leaf")]
    assert trace.info.span_count == 4


def test_async_function() -> None:
    @llmtrace.trace
    async def fetch(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * 2

    assert asyncio.run(fetch(21)) == 42
    root = only_trace().root
    assert root is not None
    assert root.outputs == 42
    assert root.duration_ms >= 9


def test_async_exception() -> None:
    @llmtrace.trace
    async def broken() -> None:
        raise RuntimeError("async boom")

    with pytest.raises(RuntimeError, match="async boom"):
        asyncio.run(broken())
    assert only_trace().info.status == "ERROR"


def test_generator_records_items_and_nests_body_spans() -> None:
    @llmtrace.trace
    def child(i: int) -> int:
        return i

    @llmtrace.trace
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            yield child(i)

    @llmtrace.trace
    def consumer_step(x: int) -> int:
        return x

    out = []
    for value in numbers(3):
        out.append(consumer_step(value))
    assert out == [0, 1, 2]
    traces = stored_traces()
    gen_trace = next(t for t in traces if t.info.name.endswith("numbers"))
    root = gen_trace.root
    assert root is not None
    assert root.outputs == [0, 1, 2]
    assert [c.name.rsplit(".", 1)[-1] for c in root.children] == ["child"] * 3
    # Code between items runs in the consumer's context, not inside the generator's span.
    assert sum(t.info.name.endswith("consumer_step") for t in traces) == 3


def test_generator_with_reducer_and_early_close() -> None:
    @llmtrace.trace(output_reducer="".join)
    def tokens() -> Iterator[str]:
        yield from ["Hel", "lo", "!"]

    assert "".join(tokens()) == "Hello!"
    gen = tokens()
    assert next(gen) == "Hel"
    gen.close()
    traces = stored_traces()
    outputs = sorted(str(t.root.outputs) for t in traces)  # type: ignore[union-attr]
    assert outputs == ["Hel", "Hello!"]
    closed = next(t for t in traces if t.root.outputs == "Hel")  # type: ignore[union-attr]
    assert closed.root.attributes["llmtrace.generator.closed"] is True  # type: ignore[union-attr]
    assert closed.info.status == "OK"


def test_generator_send_and_exception() -> None:
    @llmtrace.trace
    def echo() -> Iterator[int]:
        received = 0
        while True:
            received = yield received * 2
            if received < 0:
                raise ValueError("negative")

    gen = echo()
    assert next(gen) == 0
    assert gen.send(5) == 10
    with pytest.raises(ValueError, match="negative"):
        gen.send(-1)
    root = only_trace().root
    assert root is not None
    assert root.status == "ERROR"
    assert root.outputs == [0, 10]


def test_generator_throw_is_forwarded() -> None:
    @llmtrace.trace
    def guarded() -> Iterator[str]:
        try:
            yield "a"
        except KeyError:
            yield "recovered"

    gen = guarded()
    assert next(gen) == "a"
    assert gen.throw(KeyError("k")) == "recovered"
    gen.close()
    root = only_trace().root
    assert root is not None
    assert root.outputs == ["a", "recovered"]
    assert root.status == "OK"


def test_async_generator() -> None:
    @llmtrace.trace
    async def inner(x: int) -> int:
        return x

    @llmtrace.trace(span_type="CHAT_MODEL", output_reducer="".join)
    async def stream() -> AsyncIterator[str]:
        for part in ["a", "b", "c"]:
            await inner(1)
            yield part

    async def main() -> str:
        return "".join([p async for p in stream()])

    assert asyncio.run(main()) == "abc"
    trace = only_trace()
    root = trace.root
    assert root is not None
    assert root.outputs == "abc"
    assert root.span_type == "CHAT_MODEL"
    assert len(root.children) == 3
    assert root.duration_ms > 0


def test_async_generator_error() -> None:
    @llmtrace.trace
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("stream broke")

    async def main() -> list[int]:
        return [x async for x in failing()]

    with pytest.raises(RuntimeError, match="stream broke"):
        asyncio.run(main())
    root = only_trace().root
    assert root is not None
    assert root.status == "ERROR"
    assert root.outputs == [1]


def test_payload_edge_cases_never_break_the_call() -> None:
    @dataclass
    class Doc:
        id: str
        text: str

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    circular: list[object] = []
    circular.append(circular)

    @llmtrace.trace
    def handle(doc: Doc, weird: object, loop: list[object], blob: bytes, big: str) -> str:
        return "ok"

    assert handle(Doc("1", "hello"), Hostile(), circular, b"\x00\x01", "x" * 200_000) == "ok"
    root = only_trace().root
    assert root is not None
    text = str(root.inputs)
    assert "truncated" in text.lower()


def test_capture_respects_max_payload_bytes(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    configure_tracing(max_payload_bytes=1024)

    @llmtrace.trace
    def big(text: str) -> str:
        return text

    big("y" * 50_000)
    trace = only_trace()
    root = trace.root
    assert root is not None
    import json

    assert len(json.dumps(root.inputs)) < 2048
    assert len(json.dumps(root.outputs)) < 2048


def test_payloads_are_captured_as_they_were_at_call_time() -> None:
    from llmtrace.tracing import _deferred

    @llmtrace.trace
    def remember(items: list[int], label: str, pair: tuple[int, str]) -> list[int]:
        return items

    data = [1, 2]
    out = remember(data, "x", (1, "a"))
    data.append(3)  # mutated after the call: the stored payload must not see it
    out.append(4)
    root = only_trace().root
    assert root is not None
    assert root.inputs == {"items": [1, 2], "label": "x", "pair": [1, "a"]}
    assert root.outputs == [1, 2]
    assert _deferred.PENDING == {}


def test_immutable_payloads_deferred_to_the_exporter_are_redacted_and_released() -> None:
    from llmtrace.tracing import _deferred

    @llmtrace.trace
    def call(key: str, n: int) -> str:
        return "Bearer abcdefghijklmnopqrstuvwxyz0123456789"

    call("sk-proj-abcdefghijklmnopqrstuvwxyz123456", 3)
    assert _deferred.PENDING  # still waiting for the export thread
    root = only_trace().root
    assert root is not None
    assert root.inputs["n"] == 3
    assert "abcdefghijklmnopqrstuvwxyz123456" not in str(root.inputs)
    assert "abcdefghijklmnopqrstuvwxyz0123456789" not in str(root.outputs)
    assert _deferred.PENDING == {}


def test_explicit_set_inputs_and_outputs_win_over_automatic_capture() -> None:
    @llmtrace.trace
    def shaped(prompt: str) -> str:
        span = llmtrace.current_span()
        span.set_inputs({"messages": [{"role": "user", "content": prompt}]})
        span.set_outputs({"text": "hi"})
        return "raw provider response"

    @llmtrace.trace
    def shaped_mutable(items: list[int]) -> list[int]:
        llmtrace.current_span().set_outputs({"count": len(items)})
        return items

    shaped("hello")
    shaped_mutable([1, 2])
    by_name = {t.info.name.rsplit(".", 1)[-1]: t.root for t in stored_traces()}
    assert by_name["shaped"].inputs == {"messages": [{"role": "user", "content": "hello"}]}  # type: ignore[union-attr]
    assert by_name["shaped"].outputs == {"text": "hi"}  # type: ignore[union-attr]
    assert by_name["shaped_mutable"].inputs == {"items": [1, 2]}  # type: ignore[union-attr]
    assert by_name["shaped_mutable"].outputs == {"count": 2}  # type: ignore[union-attr]
