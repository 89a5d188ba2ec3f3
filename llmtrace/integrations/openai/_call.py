"""One traced OpenAI call: its span, opened before the request and completed from the result,
the error, or (for streams) the accumulated chunks.

The calling thread does only what must happen there: start the span with the few attributes
known at once, snapshot the request's containers, and end the span. Reading the request and the
result into some thirty attributes and serializing the payloads run on the export thread when
the runtime defers payloads (spans go only to the SQL store); otherwise they run at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from llmtrace import semconv as sc
from llmtrace.integrations._common import SpanHandle, start_span
from llmtrace.integrations.openai import _extract as ex
from llmtrace.tracing import _deferred
from llmtrace.tracing._runtime import get_runtime

logger = logging.getLogger("llmtrace")

INTEGRATION = "openai"


class Call:
    """The span of one call and what completing it needs. Methods never raise."""

    __slots__ = (
        "endpoint",
        "handle",
        "injected",
        "request_model",
        "retries",
        "server",
        "streaming",
        "t0",
    )

    def __init__(self, endpoint: ex.Endpoint, handle: SpanHandle, request_model: str | None):
        self.endpoint = endpoint
        self.handle = handle
        self.request_model = request_model
        self.t0 = time.perf_counter_ns()
        self.retries = 0  # counted by the patched retry sleep of the SDK
        self.injected = False  # stream_options.include_usage added by llmtrace
        self.server: tuple[str | None, int | None] = (None, None)  # host and port
        self.streaming = False  # stream=True was asked for

    @property
    def kind(self) -> str:
        """The endpoint kind (`_extract.CHAT`, ...)."""
        return self.endpoint.kind

    def on_retry(self, status_code: int | None) -> None:
        """The SDK is about to retry this call (after `status_code`, or a network error)."""
        self.retries += 1
        try:
            attrs: dict[str, Any] = {"attempt": self.retries}
            if status_code is not None:
                attrs[sc.HTTP_RESPONSE_STATUS_CODE] = status_code
            self.handle.live.add_event("retry", attrs)
        except Exception:
            logger.debug("llmtrace could not record an OpenAI retry", exc_info=True)

    def complete(
        self,
        summary: ex.Summary | Callable[[], ex.Summary | None] | None,
        *,
        error: BaseException | None = None,
        end_time_ns: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        has_usage: bool = False,
    ) -> None:
        """Record the result, then end the span (ERROR with `error`).

        `summary` may be a function building it: it then runs on the export thread when the
        runtime allows (`has_usage` says whether the result carries usage, which the
        double-count guard needs before the span ends). Never raises.
        """
        handle = self.handle
        try:
            attrs: dict[str, Any] = {sc.LLM_ATTEMPTS: self.retries + 1}
            if attributes:
                attrs.update(attributes)
            handle.set_attributes(attrs)
            if callable(summary) and handle.defers:
                if has_usage:
                    handle.note_usage()
                build = summary
                handle.defer(lambda: self._result_attributes(build()))
            else:
                done = summary() if callable(summary) else summary
                if done is not None:
                    handle.set_attributes(self._result_attributes(done))
                    if done.usage is not None:
                        handle.note_usage()
                    if done.error:
                        handle.live.set_status("ERROR", done.error)
        except Exception:
            logger.debug("llmtrace could not record an OpenAI result", exc_info=True)
        handle.end(error, end_time_ns=end_time_ns)

    def _result_attributes(self, summary: ex.Summary | None) -> dict[str, Any]:
        """Every attribute a result adds: response fields, payloads, tokens and cost."""
        attrs: dict[str, Any] = {}
        if summary is None:
            return attrs
        handle = self.handle
        response_model = summary.response_model if isinstance(summary.response_model, str) else None
        if response_model:
            attrs[sc.SPAN_MODEL] = response_model
            attrs[sc.GEN_AI_RESPONSE_MODEL] = response_model
            if not self.request_model:
                attrs[sc.GEN_AI_REQUEST_MODEL] = response_model
        if isinstance(summary.response_id, str):
            attrs[sc.GEN_AI_RESPONSE_ID] = summary.response_id
        if summary.finish_reasons:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = summary.finish_reasons
        attrs.update(summary.attributes)
        if summary.outputs is not None:
            text = handle.payload("outputs", summary.outputs)
            if text is not None:
                attrs[sc.SPAN_OUTPUTS] = text
            if summary.output_messages:
                text = handle.payload("outputs", summary.output_messages)
                if text is not None:
                    attrs[sc.GEN_AI_OUTPUT_MESSAGES] = text
        if summary.usage is not None:
            model = response_model or self.request_model
            attrs.update(handle.usage_attributes(summary.usage, model=model))
        return attrs

    def fail(self, exc: BaseException) -> None:
        """The call raised `exc` (re-raised by the caller): end the span as ERROR."""
        self.complete(None, error=exc)


def begin(endpoint: ex.Endpoint, client: Any, kwargs: Mapping[str, Any]) -> Call | None:
    """Open the span of a call under the current context; None when it is not recorded (the
    caller then just calls through). Never raises."""
    try:
        rt = get_runtime()
        if not rt.enabled:
            return None
        model = kwargs.get("model")
        request_model = model if isinstance(model, str) else None
        attrs: dict[str, Any] = {}
        try:
            server = _identity_attributes(client, kwargs, request_model, attrs)
        except Exception:
            logger.debug("llmtrace could not describe an OpenAI request", exc_info=True)
            server = (None, None)
        handle = start_span(
            endpoint.name,
            endpoint.span_type,
            attributes=attrs,
            integration=INTEGRATION,
            model_span=True,
        )
    except Exception:
        logger.debug("llmtrace could not start an OpenAI span", exc_info=True)
        return None
    if not handle.live.is_recording():
        handle.end()
        return None
    call = Call(endpoint, handle, request_model)
    call.server = server
    call.streaming = kwargs.get("stream") is True
    try:
        # The request's details are read from a snapshot of its containers, on the export
        # thread when possible: a message list appended to after the call is stored as sent.
        request = _deferred.snapshot(dict(kwargs)) if handle.defers else kwargs
        kind = endpoint.kind
        handle.defer(lambda: _request_attributes(handle, kind, request))
    except Exception:
        logger.debug("llmtrace could not capture an OpenAI request", exc_info=True)
    return call


def _identity_attributes(
    client: Any, kwargs: Mapping[str, Any], request_model: str | None, attrs: dict[str, Any]
) -> tuple[str | None, int | None]:
    """The few attributes known at once (provider, model, server); returns host and port."""
    attrs[sc.GEN_AI_PROVIDER_NAME] = ex.provider_of(client)
    if request_model:
        attrs[sc.SPAN_MODEL] = request_model
        attrs[sc.GEN_AI_REQUEST_MODEL] = request_model
    host, port = ex.server_of(client)
    if host:
        attrs[sc.SERVER_ADDRESS] = host
    if port is not None:
        attrs[sc.SERVER_PORT] = port
    if kwargs.get("stream") is True:
        attrs[sc.LLM_STREAMING] = True
    return host, port


def _request_attributes(handle: SpanHandle, kind: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters (`gen_ai.request.*`, invocation parameters), inputs and the GenAI payload
    attributes of a request."""
    attrs: dict[str, Any] = {}
    params = ex.invocation_parameters(kind, kwargs)
    attrs.update(ex.request_attributes(kind, params))
    params.pop("model", None)
    payloads: list[tuple[str, str, Any]] = []
    inputs = ex.request_inputs(kind, kwargs)
    if inputs:
        payloads.append((sc.SPAN_INPUTS, "inputs", inputs))
    if params:  # redacted like payloads: extra_body may hold anything
        payloads.append((sc.LLM_INVOCATION_PARAMETERS, "parameters", params))
    messages = ex.input_messages(kind, kwargs)
    if messages:
        payloads.append((sc.GEN_AI_INPUT_MESSAGES, "inputs", messages))
    instructions = kwargs.get("instructions") if kind == ex.RESPONSES else None
    if isinstance(instructions, str):
        system = [{"type": "text", "content": instructions}]
        payloads.append((sc.GEN_AI_SYSTEM_INSTRUCTIONS, "inputs", system))
    tools = kwargs.get("tools")
    if isinstance(tools, (list, tuple)) and tools:
        payloads.append((sc.GEN_AI_TOOL_DEFINITIONS, "inputs", list(tools)))
    for key, payload_kind, value in payloads:
        text = handle.payload(payload_kind, value)
        if text is not None:
            attrs[key] = text
    return attrs


__all__ = ["Call", "begin"]
