"""One traced OpenAI call: its span, opened before the request and completed from the result,
the error, or (for streams) the accumulated chunks.

Attributes are gathered into one dict per phase: the request's go into the span at creation,
the result's in one `set_attributes` call. That keeps the per-call cost low (a model call's
span carries some thirty attributes) while the values stay exactly what `LiveSpan.set_model`
and friends would write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from llmtrace import semconv as sc
from llmtrace.integrations._common import SpanHandle, start_span
from llmtrace.integrations.openai import _extract as ex
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
        summary: ex.Summary | None,
        *,
        error: BaseException | None = None,
        end_time_ns: int | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Record `summary` (may be None), then end the span (ERROR with `error`)."""
        try:
            attrs: dict[str, Any] = {sc.LLM_ATTEMPTS: self.retries + 1}
            if attributes:
                attrs.update(attributes)
            if summary is not None:
                self._record(summary, attrs)
            else:
                self.handle.otel_span.set_attributes(attrs)
        except Exception:
            logger.debug("llmtrace could not record an OpenAI result", exc_info=True)
        self.handle.end(error, end_time_ns=end_time_ns)

    def _record(self, summary: ex.Summary, attrs: dict[str, Any]) -> None:
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
        self.handle.otel_span.set_attributes(attrs)
        if summary.outputs is not None:
            # The summary is built from the response by llmtrace: nobody changes it later.
            self.handle.capture(sc.SPAN_OUTPUTS, "outputs", summary.outputs, owned=True)
            if summary.output_messages:
                self.handle.capture(
                    sc.GEN_AI_OUTPUT_MESSAGES, "outputs", summary.output_messages, owned=True
                )
        if summary.usage is not None:
            self.handle.record_usage(summary.usage)
        if summary.error:
            self.handle.live.set_status("ERROR", summary.error)

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
        payloads: list[tuple[str, str, Any]] = []
        try:
            server = _request_attributes(
                endpoint.kind, client, kwargs, request_model, attrs, payloads
            )
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
        # Snapshots of the caller's objects, serialized on the export thread when possible:
        # a message list appended to after the call is stored as it was sent.
        inputs = ex.request_inputs(endpoint.kind, kwargs)
        if inputs:
            handle.capture(sc.SPAN_INPUTS, "inputs", inputs)
        for key, kind, value in payloads:
            handle.capture(key, kind, value)
    except Exception:
        logger.debug("llmtrace could not capture OpenAI inputs", exc_info=True)
    return call


def _request_attributes(
    kind: str,
    client: Any,
    kwargs: Mapping[str, Any],
    request_model: str | None,
    attrs: dict[str, Any],
    payloads: list[tuple[str, str, Any]],
) -> tuple[str | None, int | None]:
    """Fill `attrs` with what the request says and `payloads` with (key, kind, value) of its
    JSON attributes; returns the server's host and port."""
    attrs[sc.GEN_AI_PROVIDER_NAME] = ex.provider_of(client)
    if request_model:
        attrs[sc.SPAN_MODEL] = request_model
        attrs[sc.GEN_AI_REQUEST_MODEL] = request_model
    host, port = ex.server_of(client)
    if host:
        attrs[sc.SERVER_ADDRESS] = host
    if port is not None:
        attrs[sc.SERVER_PORT] = port
    params = ex.invocation_parameters(kind, kwargs)
    attrs.update(ex.request_attributes(kind, params))
    if params.get("stream") is True:
        attrs[sc.LLM_STREAMING] = True
    params.pop("model", None)
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
    return host, port


__all__ = ["Call", "begin"]
