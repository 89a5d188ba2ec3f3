"""`@trace`: one decorator for sync, async, generator and async-generator functions.

The wrapper does only what must happen on the caller's thread: start the span, capture inputs
and outputs as bounded JSON, end the span. Telemetry failures are logged, never raised; the
user's exceptions are recorded on the span and re-raised unchanged.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, TypeVar, cast, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from llmtrace import semconv as sc
from llmtrace.semconv import SpanType
from llmtrace.tracing import _deferred, _runtime
from llmtrace.tracing._span import fail_span, static_attributes

logger = logging.getLogger("llmtrace")

F = TypeVar("F", bound=Callable[..., Any])

# Generators keep at most this many yielded items for their captured output.
MAX_GENERATOR_ITEMS = 10_000
_SKIPPED_FIRST = ("self", "cls")


class _Binder:
    """Maps call arguments to parameter names, dropping `self`/`cls`.

    `inspect.Signature.bind` costs several microseconds; plain positional/keyword calls (the
    common case) are mapped with a zip instead.
    """

    __slots__ = ("names", "signature", "simple", "skip")

    def __init__(self, func: Callable[..., Any]) -> None:
        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self.signature = None
        params = list(self.signature.parameters.values()) if self.signature else []
        self.skip = 1 if params and params[0].name in _SKIPPED_FIRST else 0
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.names = tuple(p.name for p in params if p.kind in positional)
        self.simple = all(
            p.kind in positional or p.kind is inspect.Parameter.KEYWORD_ONLY for p in params
        )

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.simple and len(args) <= len(self.names):
            bound = dict(zip(self.names[self.skip :], args[self.skip :], strict=False))
            if kwargs:
                bound.update(kwargs)
            return bound
        if self.signature is not None:
            try:
                ba = self.signature.bind_partial(*args, **kwargs)
                bound = dict(ba.arguments)
                if self.skip:
                    bound.pop(next(iter(self.signature.parameters)), None)
                return bound
            except TypeError:
                pass  # the call itself will raise the real error
        return {"args": list(args[self.skip :]), **kwargs}


@overload
def trace(func: F) -> F: ...


@overload
def trace(
    func: None = None,
    *,
    name: str | None = None,
    span_type: SpanType | str = SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_outputs: bool | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: F | None = None,
    *,
    name: str | None = None,
    span_type: SpanType | str = SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_outputs: bool | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
) -> F | Callable[[F], F]:
    """Trace every call of a function as a span; bare (`@trace`) or with arguments.

    Inputs are the bound arguments (without `self`/`cls`), the output the return value; for
    generators, the list of yielded items, or `output_reducer(items)` (e.g. `"".join`).
    `capture_inputs`/`capture_outputs` override the global settings for this function.

    Example:
        >>> @llmtrace.trace(span_type="RETRIEVER")
        ... def retrieve(query: str) -> list[str]:
        ...     return ["doc-1", "doc-2"]
    """

    def decorate(fn: F) -> F:
        return cast(
            F,
            _wrap(
                fn,
                name=name,
                span_type=span_type,
                attributes=attributes,
                capture_inputs=capture_inputs,
                capture_outputs=capture_outputs,
                output_reducer=output_reducer,
            ),
        )

    return decorate(func) if func is not None else decorate


def _wrap(
    fn: Any,
    *,
    name: str | None,
    span_type: SpanType | str,
    attributes: Mapping[str, Any] | None,
    capture_inputs: bool | None,
    capture_outputs: bool | None,
    output_reducer: Callable[[list[Any]], Any] | None,
) -> Any:
    if isinstance(fn, (classmethod, staticmethod)):
        inner = _wrap(
            fn.__func__,
            name=name,
            span_type=span_type,
            attributes=attributes,
            capture_inputs=capture_inputs,
            capture_outputs=capture_outputs,
            output_reducer=output_reducer,
        )
        return type(fn)(inner)
    span_name = str(name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "call"))
    attrs = static_attributes(span_type, attributes)
    binder = _Binder(fn)
    get_runtime = _runtime.get_runtime
    attach = otel_context.attach
    detach = otel_context.detach
    in_context = otel_trace.set_span_in_context

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        """(runtime, span, context token, deferred entry); span None when tracing is off."""
        rt = _runtime._runtime or get_runtime()
        if not rt.enabled:
            return rt, None, None, None
        try:
            entry = None
            if rt.defer_payloads:
                # The static attributes travel with the deferred payloads: building the SDK's
                # attribute container for them is a large part of a span's cost.
                span = rt.tracer.start_span(span_name)
                if span.is_recording():
                    entry = [_deferred.MISSING, _deferred.MISSING, attrs]
                    _deferred.PENDING[span.get_span_context().span_id] = entry
            else:
                span = rt.tracer.start_span(span_name, attributes=attrs)
            if span.is_recording() and (
                rt.capture_inputs if capture_inputs is None else capture_inputs
            ):
                bound = binder(args, kwargs)
                if entry is not None and _deferred.immutable_arguments(bound, rt.max_payload_bytes):
                    entry[_deferred.INPUTS] = bound
                else:
                    text = rt.capture("inputs", bound)
                    if text is not None:
                        span.set_attribute(sc.SPAN_INPUTS, text)
            return rt, span, attach(in_context(span)), entry
        except Exception:
            logger.warning("llmtrace could not start span %r", span_name, exc_info=True)
            return rt, None, None, None

    def finish(rt: Any, span: Any, token: Any, entry: Any, output: Any, has_output: bool) -> None:
        try:
            if (
                has_output
                and span.is_recording()
                and (rt.capture_outputs if capture_outputs is None else capture_outputs)
                # An explicit set_outputs() inside the function wins over the return value.
                and sc.SPAN_OUTPUTS not in span.attributes
            ):
                if entry is not None and _deferred.immutable(output, rt.max_payload_bytes):
                    entry[_deferred.OUTPUTS] = output
                else:
                    text = rt.capture("outputs", output)
                    if text is not None:
                        span.set_attribute(sc.SPAN_OUTPUTS, text)
        finally:
            try:
                detach(token)
            finally:
                span.end()

    def reduce(items: list[Any]) -> Any:
        if output_reducer is None:
            return items
        try:
            return output_reducer(items)
        except Exception:
            logger.warning("llmtrace output_reducer of %r failed", span_name, exc_info=True)
            return items

    reduce.capture_outputs = capture_outputs  # type: ignore[attr-defined]

    if inspect.isasyncgenfunction(fn):
        return functools.wraps(fn)(_async_gen_wrapper(fn, start, reduce, attach, detach))
    if inspect.isgeneratorfunction(fn):
        return functools.wraps(fn)(_gen_wrapper(fn, start, reduce, attach, detach))
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            rt, span, token, entry = start(args, kwargs)
            if span is None:
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                fail_span(span, exc)
                finish(rt, span, token, entry, None, False)
                raise
            finish(rt, span, token, entry, result, True)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt, span, token, entry = start(args, kwargs)
        if span is None:
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            fail_span(span, exc)
            finish(rt, span, token, entry, None, False)
            raise
        finish(rt, span, token, entry, result, True)
        return result

    return wrapper


def _end_generator_span(
    rt: Any, span: Any, items: list[Any], extra: int, reduce: Callable[[list[Any]], Any]
) -> None:
    try:
        wanted = getattr(reduce, "capture_outputs", None)
        if span.is_recording() and (rt.capture_outputs if wanted is None else wanted):
            text = rt.capture("outputs", reduce(items))
            if text is not None:
                span.set_attribute(sc.SPAN_OUTPUTS, text)
            span.set_attribute("llmtrace.generator.items", len(items) + extra)
    finally:
        span.end()


def _gen_wrapper(fn: Any, start: Any, reduce: Any, attach: Any, detach: Any) -> Any:
    def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        rt, span, token, _ = start(args, kwargs)
        if span is None:
            return (yield from fn(*args, **kwargs))
        # The span is current only while the generator body runs, never across a yield, so
        # the consumer's code between items does not nest under it.
        detach(token)
        ctx = otel_trace.set_span_in_context(span)
        items: list[Any] = []
        extra = 0
        try:
            token = attach(ctx)
            try:
                gen = fn(*args, **kwargs)
            finally:
                detach(token)
            to_send: Any = None
            to_throw: BaseException | None = None
            while True:
                token = attach(ctx)
                try:
                    item = gen.throw(to_throw) if to_throw is not None else gen.send(to_send)
                except StopIteration as stop:
                    return stop.value
                finally:
                    detach(token)
                to_throw = None
                if len(items) < MAX_GENERATOR_ITEMS:
                    items.append(item)
                else:
                    extra += 1
                try:
                    to_send = yield item
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            span.set_attribute("llmtrace.generator.closed", True)
            raise
        except BaseException as exc:
            fail_span(span, exc)
            raise
        finally:
            _end_generator_span(rt, span, items, extra, reduce)

    return gen_wrapper


def _async_gen_wrapper(fn: Any, start: Any, reduce: Any, attach: Any, detach: Any) -> Any:
    async def async_gen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        rt, span, token, _ = start(args, kwargs)
        if span is None:
            async for item in fn(*args, **kwargs):
                yield item
            return
        detach(token)
        ctx = otel_trace.set_span_in_context(span)
        items: list[Any] = []
        extra = 0
        try:
            agen = fn(*args, **kwargs)
            to_send: Any = None
            to_throw: BaseException | None = None
            while True:
                token = attach(ctx)
                try:
                    if to_throw is not None:
                        item = await agen.athrow(to_throw)
                    else:
                        item = await agen.asend(to_send)
                except StopAsyncIteration:
                    return
                finally:
                    detach(token)
                to_throw = None
                if len(items) < MAX_GENERATOR_ITEMS:
                    items.append(item)
                else:
                    extra += 1
                try:
                    to_send = yield item
                except GeneratorExit:
                    await agen.aclose()
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            span.set_attribute("llmtrace.generator.closed", True)
            raise
        except BaseException as exc:
            fail_span(span, exc)
            raise
        finally:
            _end_generator_span(rt, span, items, extra, reduce)

    return async_gen_wrapper


__all__ = ["trace"]
