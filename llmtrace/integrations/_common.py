"""What every integration needs: spans started and ended by separate callbacks, attached to
the caller's context on demand, with usage, cost and errors recorded the same way.

Callback-style frameworks (LangChain, LlamaIndex) report a step's start and end as two calls,
possibly from different threads or contexts, so a `with` block cannot hold the span. A
`SpanHandle` keeps it instead; the framework's own run ids say who is whose parent.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from llmtrace import pricing
from llmtrace import semconv as sc
from llmtrace.pricing import Usage
from llmtrace.semconv import SpanType
from llmtrace.tracing import _deferred
from llmtrace.tracing._runtime import Runtime, get_runtime
from llmtrace.tracing._span import LiveSpan, fail_span, static_attributes
from llmtrace.tracing._usage import (
    UsageCell,
    cost_attributes,
    day_of,
    enclosing_cell,
    settle,
    usage_attributes,
    with_cell,
)

logger = logging.getLogger("llmtrace")


class _NoInputs:
    def __repr__(self) -> str:
        return "NO_INPUTS"


NO_INPUTS: Any = _NoInputs()


def error_type(exc: BaseException) -> str:
    """`error.type` of an exception: its qualified class name (`openai.RateLimitError`)."""
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    # A public re-export reads better than a private module: openai._exceptions -> openai.
    top = module.split(".")[0]
    if getattr(sys.modules.get(top), cls.__name__, None) is cls:
        return f"{top}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"


class SpanHandle:
    """A span whose start and end are separate calls. Methods never raise."""

    __slots__ = (
        "_cell",
        "_ended",
        "_entry",
        "_lock",
        "_otel",
        "_parent_cell",
        "_rt",
        "_token",
        "context",
        "live",
    )

    def __init__(
        self,
        otel: otel_trace.Span,
        live: LiveSpan,
        context: otel_context.Context,
        cell: UsageCell | None,
        parent_cell: UsageCell | None,
        rt: Runtime | None = None,
    ) -> None:
        self._otel = otel
        self._rt = rt
        # The span's deferred payloads (see `capture`), when the runtime defers them.
        self._entry: list[Any] | None = None
        if rt is not None and rt.defer_payloads and otel.is_recording():
            self._entry = [_deferred.MISSING, _deferred.MISSING, None, [], []]
            _deferred.PENDING[otel.get_span_context().span_id] = self._entry
        self.live = live
        self.context = context
        self._cell = cell
        self._parent_cell = parent_cell
        self._token: object = None
        self._ended = False
        self._lock = threading.Lock()

    @property
    def span_id(self) -> str | None:
        """16-hex-digit span id (None when not recording)."""
        return self.live.span_id

    @property
    def ended(self) -> bool:
        """True once `end()` ran."""
        return self._ended

    @property
    def otel_span(self) -> otel_trace.Span:
        """The underlying OpenTelemetry span."""
        return self._otel

    def capture(self, key: str, kind: str, value: Any, *, owned: bool = False) -> None:
        """Record `value` as the JSON payload attribute `key` (`llmtrace.span.inputs`,
        `gen_ai.input.messages`, ...), captured like inputs (`kind="inputs"`) or outputs
        (`"outputs"`): skipped when that capture is off, redacted and bounded. Other kinds
        (`"parameters"`) are always captured, redacted and bounded.

        When the runtime allows it, the JSON is built on the export thread, from a snapshot of
        `value`'s containers (`owned=True`: `value` was built by llmtrace and is never changed
        by anyone, no snapshot needed); the caller's thread only pays for the copy.
        """
        rt = self._rt
        if rt is None or not self._otel.is_recording():
            return
        if (kind == "inputs" and not rt.capture_inputs) or (
            kind == "outputs" and not rt.capture_outputs
        ):
            return
        try:
            entry = self._entry
            if entry is not None:
                entry[_deferred.LATE].append(
                    (key, kind, value if owned else _deferred.snapshot(value))
                )
                return
            text = rt.capture(kind, value)
            if text is not None:
                self._otel.set_attribute(key, text)
        except Exception:
            logger.debug("llmtrace could not capture %s", key, exc_info=True)

    def attach(self) -> None:
        """Make this span current in the calling context until `detach()`/`end()`."""
        if self._token is not None or self._ended or not self._otel.is_recording():
            return
        try:
            self._token = otel_context.attach(self.context)
        except Exception:
            logger.debug("llmtrace could not attach a span", exc_info=True)

    def detach(self) -> None:
        """Undo `attach()`. Called twice it does nothing; called from a context other than the
        attaching one it does nothing either, and a later call from the attaching context
        still works (frameworks may end a step on another thread)."""
        token, self._token = self._token, None
        if token is None:
            return
        try:
            if isinstance(token, contextvars.Token):
                # Reset the variable directly: a token from another context raises ValueError
                # (OpenTelemetry's detach would log that as an error).
                token.var.reset(token)
            else:
                otel_context.detach(token)  # type: ignore[arg-type]
        except ValueError:
            self._token = token  # not this context: keep it for the attaching one
            logger.debug("llmtrace span detach skipped in another context")
        except Exception:
            logger.debug("llmtrace could not detach a span", exc_info=True)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set OpenTelemetry-valid attributes (primitives, lists of one primitive type).

        When the runtime defers payloads, they travel beside the span and join its attributes
        on the export thread, which skips the SDK's per-attribute checks on the caller's
        thread; attributes set directly on the span win over them.
        """
        if not self._otel.is_recording():
            return
        try:
            entry = self._entry
            if entry is not None:
                static = entry[_deferred.STATIC]
                if static is None:
                    entry[_deferred.STATIC] = static = {}
                static.update(attributes)
            else:
                self._otel.set_attributes(attributes)
        except Exception:
            logger.debug("llmtrace could not set attributes", exc_info=True)

    def attribute(self, key: str) -> Any:
        """The current value of attribute `key`, wherever it is kept (None if unset)."""
        value = (getattr(self._otel, "attributes", None) or {}).get(key)
        if value is None and self._entry is not None and self._entry[_deferred.STATIC]:
            value = self._entry[_deferred.STATIC].get(key)
        return value

    @property
    def defers(self) -> bool:
        """True when `defer()`red work runs on the export thread (else at once)."""
        return self._entry is not None

    def defer(self, produce: Callable[[], Mapping[str, Any]]) -> None:
        """Have `produce()` compute attributes of this span later, on the export thread, when
        the runtime allows it (otherwise now). `produce` runs after the span ended and must
        only read objects nobody changes any more (the call's result, snapshots); its
        exceptions are logged, never raised. Attributes set on the span itself win.
        """
        if not self._otel.is_recording():
            return
        entry = self._entry
        if entry is not None:
            entry[_deferred.CALLS].append(produce)
            return
        try:
            self.set_attributes(produce())
        except Exception:
            logger.debug("llmtrace could not read a call's result", exc_info=True)

    def payload(self, kind: str, value: Any) -> str | None:
        """Bounded, redacted JSON of `value` captured as `kind` ("inputs", "outputs" or
        another kind, always captured); None when that capture is off or failed."""
        rt = self._rt
        if rt is None or (kind == "inputs" and not rt.capture_inputs):
            return None
        if kind == "outputs" and not rt.capture_outputs:
            return None
        return rt.capture(kind, value)

    def note_usage(self) -> None:
        """Tell the double-count guard that this model span's usage is known, without
        recording it yet (`usage_attributes` may then run in a deferred reader)."""
        if self._cell is not None:
            self._cell.counted = True

    def usage_attributes(self, usage: Usage, *, model: str | None = None) -> dict[str, Any]:
        """Token and cost attributes of `usage` (see `record_usage`), without setting them."""
        attrs: dict[str, Any] = usage_attributes(usage)
        if model is None:
            found = (
                self.attribute(sc.GEN_AI_RESPONSE_MODEL)
                or self.attribute(sc.SPAN_MODEL)
                or self.attribute(sc.GEN_AI_REQUEST_MODEL)
            )
            model = found if isinstance(found, str) else None
        start = getattr(self._otel, "start_time", None)
        cost = pricing.cost_of(model, usage, day_of(start) if start else None)
        if cost is not None:
            attrs.update(cost_attributes(cost))
        return attrs

    def record_usage(
        self, usage: Usage, *, model: str | None = None, provider: str | None = None
    ) -> None:
        """Tokens (llmtrace and GenAI keys) and the cost of the call at the span's start
        time; `model` defaults to the span's model attribute. Unknown models get no cost."""
        if not self._otel.is_recording():
            return
        try:
            attrs = self.usage_attributes(usage, model=model)
            if model is not None and self.attribute(sc.SPAN_MODEL) is None:
                attrs[sc.SPAN_MODEL] = model
                attrs[sc.GEN_AI_REQUEST_MODEL] = model
            if provider:
                attrs[sc.GEN_AI_PROVIDER_NAME] = provider
            self.set_attributes(attrs)
            if not usage.is_empty:
                self.note_usage()
        except Exception:
            logger.debug("llmtrace could not record usage", exc_info=True)

    def end(self, error: BaseException | None = None, *, end_time_ns: int | None = None) -> None:
        """End the span (once); with `error`, record it and mark the span ERROR."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        self.detach()
        otel = self._otel
        if not otel.is_recording():
            return
        try:
            if error is not None:
                fail_span(otel, error)
                otel.set_attribute(sc.ERROR_TYPE, error_type(error))
                status = getattr(error, "status_code", None)
                if isinstance(status, int) and not isinstance(status, bool):
                    otel.set_attribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
            settle(otel, self._cell, self._parent_cell)
        except Exception:
            logger.debug("llmtrace could not finish a span", exc_info=True)
        try:
            otel.end(end_time=end_time_ns)
        except Exception:
            logger.debug("llmtrace could not end a span", exc_info=True)


def start_span(
    name: str,
    span_type: SpanType | str,
    *,
    parent: otel_context.Context | SpanHandle | None = None,
    inputs: Any = NO_INPUTS,
    attributes: Mapping[str, Any] | None = None,
    start_time_ns: int | None = None,
    integration: str | None = None,
    model_span: bool = False,
) -> SpanHandle:
    """Start a span under `parent` (a context, a handle, or None for the current context).

    `model_span=True` for model calls (LLM, chat, embedding): their usage takes part in the
    double-count guard (see `llmtrace.tracing._usage`). Never raises; when tracing is off or
    the span cannot start, the handle is non-recording and every method does nothing.

    Example:
        >>> handle = start_span("retrieve", "RETRIEVER", parent=parent_handle, inputs=query)
        >>> handle.live.set_outputs(documents)
        >>> handle.end()
    """
    rt = get_runtime()
    if isinstance(parent, SpanHandle):
        ctx = parent.context
    elif parent is None:
        ctx = otel_context.get_current()
    else:
        ctx = parent
    if not rt.enabled:
        return _invalid(rt, ctx)
    try:
        attrs = static_attributes(span_type, attributes)
        if integration:
            attrs[sc.SPAN_INTEGRATION] = integration
        # With deferred payloads the attributes travel beside the span (see `set_attributes`).
        otel = rt.tracer.start_span(
            name,
            context=ctx,
            attributes=None if rt.defer_payloads else attrs,
            start_time=start_time_ns,
        )
    except Exception:
        logger.warning("llmtrace could not start span %r", name, exc_info=True)
        return _invalid(rt, ctx)
    cell = UsageCell() if model_span else None
    child_ctx = otel_trace.set_span_in_context(otel, ctx)
    if cell is not None:
        child_ctx = with_cell(child_ctx, cell)
    handle = SpanHandle(otel, LiveSpan(otel, rt), child_ctx, cell, enclosing_cell(ctx), rt)
    if rt.defer_payloads:
        handle.set_attributes(attrs)
    if inputs is not NO_INPUTS:
        handle.live.set_inputs(inputs)
    return handle


def _invalid(rt: Runtime, ctx: otel_context.Context) -> SpanHandle:
    span = otel_trace.INVALID_SPAN
    return SpanHandle(span, LiveSpan(span, rt), ctx, None, None)


__all__ = ["NO_INPUTS", "SpanHandle", "error_type", "start_span"]
