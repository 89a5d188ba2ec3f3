"""Live spans: the `span()` context manager, `current_span()` and trace-level updates."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

from llmtrace import semconv as sc
from llmtrace.pricing import Usage
from llmtrace.semconv import SpanType
from llmtrace.tracing._runtime import Runtime, get_runtime
from llmtrace.tracing._usage import set_cost_attributes, set_usage_attributes

logger = logging.getLogger("llmtrace")

_PRIMITIVES = (str, bool, int, float)


def attribute_value(value: Any) -> Any:
    """An OpenTelemetry-valid attribute value: primitives and lists of one primitive type pass
    through; anything else becomes JSON text."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, (list, tuple)) and value:
        first = type(value[0])
        if first in (str, bool, int, float) and all(type(v) is first for v in value):
            return list(value)
    from llmtrace.tracing._payload import to_json

    return to_json(value, 8192)


def static_attributes(
    span_type: SpanType | str, attributes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The attributes a span starts with: its type, GenAI operation name, user attributes."""
    kind = SpanType(span_type.upper() if isinstance(span_type, str) else span_type)
    attrs: dict[str, Any] = {sc.SPAN_TYPE: kind.value}
    operation = sc.GEN_AI_OPERATION_BY_TYPE.get(kind)
    if operation is not None:
        attrs[sc.GEN_AI_OPERATION_NAME] = operation
    if attributes:
        for key, value in attributes.items():
            attrs[str(key)] = attribute_value(value)
    return attrs


def fail_span(span: otel_trace.Span, exc: BaseException) -> None:
    """Record `exc` on `span` and mark it ERROR; never raises."""
    try:
        span.record_exception(exc, escaped=True)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:2000]))
    except Exception:
        logger.debug("llmtrace could not record an exception", exc_info=True)


class LiveSpan:
    """A span being recorded. Methods never raise; on a non-recording span they do nothing.

    Example:
        >>> with llmtrace.span("retrieve", span_type="RETRIEVER", inputs={"q": q}) as s:
        ...     docs = search(q)
        ...     s.set_outputs(docs)
    """

    __slots__ = ("_rt", "_span")

    def __init__(self, span: otel_trace.Span, runtime: Runtime) -> None:
        self._span = span
        self._rt = runtime

    @property
    def otel_span(self) -> otel_trace.Span:
        """The underlying OpenTelemetry span."""
        return self._span

    @property
    def span_id(self) -> str | None:
        """16-hex-digit span id, or None for a non-recording span."""
        ctx = self._span.get_span_context()
        return format(ctx.span_id, "016x") if ctx.is_valid else None

    @property
    def trace_id(self) -> str | None:
        """32-hex-digit trace id, or None for a non-recording span."""
        ctx = self._span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

    def is_recording(self) -> bool:
        """True while the span is recorded (False when sampled out or tracing is off)."""
        return self._span.is_recording()

    def set_inputs(self, inputs: Any) -> None:
        """Capture `inputs` (any object) as bounded, redacted JSON."""
        if self._span.is_recording() and self._rt.capture_inputs:
            text = self._rt.capture("inputs", inputs)
            if text is not None:
                self._span.set_attribute(sc.SPAN_INPUTS, text)

    def set_outputs(self, outputs: Any) -> None:
        """Capture `outputs` (any object) as bounded, redacted JSON."""
        if self._span.is_recording() and self._rt.capture_outputs:
            text = self._rt.capture("outputs", outputs)
            if text is not None:
                self._span.set_attribute(sc.SPAN_OUTPUTS, text)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; non-primitive values are stored as JSON text."""
        if self._span.is_recording():
            try:
                self._span.set_attribute(str(key), attribute_value(value))
            except Exception:
                logger.debug("llmtrace could not set attribute %r", key, exc_info=True)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        total_tokens: int | None = None,
        *,
        cached_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        """Token usage of a model call (llmtrace keys and GenAI `gen_ai.usage.*`).

        `input_tokens` includes cached tokens and `output_tokens` reasoning tokens. When the
        span's model is set (`set_model`, before or after) and has a price, the cost is
        computed too, unless `set_cost` gave one.
        """
        if not self._span.is_recording():
            return
        usage = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=total_tokens,
            cached_input_tokens=cached_input_tokens,
            reasoning_tokens=reasoning_tokens,
        )
        set_usage_attributes(self._span, usage)
        self._price()

    def _price(self) -> None:
        """Cost from the span's model and tokens when both are known and no cost was given."""
        attrs = getattr(self._span, "attributes", None)
        if not attrs or attrs.get(sc.COST_PRICE_KEY) == "user":  # set_cost() wins
            return
        model = attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs.get(sc.GEN_AI_REQUEST_MODEL)
        if not isinstance(model, str) or (
            attrs.get(sc.USAGE_INPUT_TOKENS) is None and attrs.get(sc.USAGE_OUTPUT_TOKENS) is None
        ):
            return

        def count(key: str) -> int | None:
            value = attrs.get(key)
            return value if isinstance(value, int) else None

        usage = Usage(
            input_tokens=count(sc.USAGE_INPUT_TOKENS),
            output_tokens=count(sc.USAGE_OUTPUT_TOKENS),
            cached_input_tokens=count(sc.USAGE_CACHED_INPUT_TOKENS),
            reasoning_tokens=count(sc.USAGE_REASONING_TOKENS),
        )
        try:
            set_cost_attributes(self._span, model, usage, getattr(self._span, "start_time", None))
        except Exception:
            logger.debug("llmtrace could not price a span", exc_info=True)

    def set_model(
        self, model: str, *, provider: str | None = None, response_model: str | None = None
    ) -> None:
        """The model called (`gen_ai.request.model`) and optionally its provider."""
        if not self._span.is_recording():
            return
        self._span.set_attribute(sc.SPAN_MODEL, response_model or model)
        self._span.set_attribute(sc.GEN_AI_REQUEST_MODEL, model)
        if response_model:
            self._span.set_attribute(sc.GEN_AI_RESPONSE_MODEL, response_model)
        if provider:
            self._span.set_attribute(sc.GEN_AI_PROVIDER_NAME, provider)
        self._price()

    def set_cost(self, total_usd: float) -> None:
        """The call's cost in US dollars, when known (wins over the price table)."""
        if self._span.is_recording():
            self._span.set_attribute(sc.COST_TOTAL, float(total_usd))
            self._span.set_attribute(sc.COST_PRICE_KEY, "user")

    def set_status(self, status: str, message: str | None = None) -> None:
        """ "OK" or "ERROR" (an exception leaving the span sets ERROR by itself)."""
        code = StatusCode[status.upper()]
        self._span.set_status(Status(code, message if code is StatusCode.ERROR else None))

    def record_exception(self, exc: BaseException) -> None:
        """Record a handled exception as an event, without changing the status."""
        try:
            self._span.record_exception(exc)
        except Exception:
            logger.debug("llmtrace could not record an exception", exc_info=True)

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None) -> None:
        """A timestamped event on the span."""
        attrs = {str(k): attribute_value(v) for k, v in (attributes or {}).items()}
        self._span.add_event(name, attrs)


class span:
    """Open a span for a block of code (sync `with` or `async with`).

    Example:
        >>> with llmtrace.span("rerank", span_type="RERANKER", inputs={"n": 20}) as s:
        ...     s.set_outputs(best)
    """

    __slots__ = ("_attrs", "_inputs", "_live", "_name", "_otel", "_token")

    def __init__(
        self,
        name: str,
        *,
        span_type: SpanType | str = SpanType.UNKNOWN,
        inputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._name = name
        self._attrs = static_attributes(span_type, attributes)
        self._inputs = inputs
        self._otel: otel_trace.Span | None = None
        self._token: object = None
        self._live: LiveSpan | None = None

    def __enter__(self) -> LiveSpan:
        rt = get_runtime()
        if not rt.enabled:
            self._live = LiveSpan(otel_trace.INVALID_SPAN, rt)
            return self._live
        try:
            self._otel = rt.tracer.start_span(self._name, attributes=self._attrs)
            self._token = otel_context.attach(otel_trace.set_span_in_context(self._otel))
        except Exception:
            logger.warning("llmtrace could not start span %r", self._name, exc_info=True)
            self._otel = None
            self._live = LiveSpan(otel_trace.INVALID_SPAN, rt)
            return self._live
        self._live = LiveSpan(self._otel, rt)
        if self._inputs is not None:
            self._live.set_inputs(self._inputs)
        return self._live

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        otel = self._otel
        if otel is None:
            return
        if exc is not None and not isinstance(exc, GeneratorExit):
            fail_span(otel, exc)
        try:
            otel_context.detach(self._token)  # type: ignore[arg-type]
        finally:
            otel.end()

    async def __aenter__(self) -> LiveSpan:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def current_span() -> LiveSpan:
    """The active span (a non-recording one when there is none)."""
    return LiveSpan(otel_trace.get_current_span(), get_runtime())


def current_trace_id() -> str | None:
    """Hex id of the active trace, or None outside any span."""
    ctx = otel_trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


_warned_no_span = False


def update_current_trace(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    tags: Mapping[str, str] | Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Attach session, user, tags and metadata to the active trace.

    `tags` is a mapping, or a list of bare tags (stored with the value "true"). Values set here
    land on the trace row and are searchable (`session_id = 's1'`, `tag.env = 'prod'`,
    `metadata.customer = 'acme'`).

    Example:
        >>> llmtrace.update_current_trace(session_id="chat-7", tags={"env": "prod"})
    """
    global _warned_no_span
    current = otel_trace.get_current_span()
    if not current.is_recording():
        if not _warned_no_span:
            _warned_no_span = True
            logger.warning("llmtrace.update_current_trace() called outside a traced span")
        return
    attrs: dict[str, Any] = {}
    if session_id is not None:
        attrs[sc.TRACE_SESSION_ID] = str(session_id)
    if user_id is not None:
        attrs[sc.TRACE_USER_ID] = str(user_id)
    if tags:
        items = tags.items() if isinstance(tags, Mapping) else ((t, "true") for t in tags)
        for key, value in items:
            attrs[sc.TRACE_TAG_PREFIX + str(key)] = str(value)
    for key, value in (metadata or {}).items():
        attrs[sc.TRACE_METADATA_PREFIX + str(key)] = (
            value if isinstance(value, str) else str(attribute_value(value))
        )
    current.set_attributes(attrs)


__all__ = [
    "LiveSpan",
    "current_span",
    "current_trace_id",
    "fail_span",
    "span",
    "static_attributes",
    "update_current_trace",
]
