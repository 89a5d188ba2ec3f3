"""What model spans record: the request (model, provider, parameters, messages) at the start,
the result (outputs, finish reasons, response model, usage and cost) at the end; and the
payload attributes of other spans (retrieval query and documents)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llmtrace import semconv as sc
from llmtrace.integrations._common import SpanHandle
from llmtrace.integrations.langchain import _extract as ex
from llmtrace.integrations.langchain._runs import Run
from llmtrace.tracing._runtime import get_runtime


def captured(kind: str, value: Any) -> str | None:
    """`value` as bounded, redacted JSON when that kind of payload is captured, else None."""
    rt = get_runtime()
    if not (rt.capture_inputs if kind == "inputs" else rt.capture_outputs):
        return None
    return rt.capture(kind, value)


def set_payload(handle: SpanHandle, key: str, kind: str, value: Any) -> None:
    """A payload attribute (messages, documents), captured like inputs or outputs."""
    if not handle.live.is_recording():
        return
    text = captured(kind, value)
    if text is not None:
        handle.live.set_attribute(key, text)


def set_query(handle: SpanHandle, query: Any) -> None:
    """`llmtrace.retrieval.query`: the query text, redacted and bounded, when inputs are
    captured."""
    if not isinstance(query, str) or not handle.live.is_recording():
        return
    text = captured("inputs", query)
    value = json.loads(text) if text is not None else None
    if isinstance(value, str):
        handle.live.set_attribute(sc.RETRIEVAL_QUERY, value)


def describe_request(
    run: Run,
    serialized: Any,
    metadata: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    input_messages: list[dict[str, Any]],
) -> None:
    """Model, provider, invocation parameters and `gen_ai.input.messages` of a model run."""
    live = run.handle.live
    if not live.is_recording():
        return
    run.model = ex.request_model(serialized, metadata, params)
    run.provider = ex.provider_of(metadata)
    if run.model:
        live.set_model(run.model, provider=run.provider)
    elif run.provider:
        live.set_attribute(sc.GEN_AI_PROVIDER_NAME, run.provider)
    kept = ex.invocation_parameters(params)
    if kept:
        # Not a payload, but redacted all the same: parameters may carry anything.
        text = get_runtime().capture("inputs", kept)
        if text is not None:
            live.set_attribute(sc.LLM_INVOCATION_PARAMETERS, text)
    if input_messages:
        set_payload(run.handle, sc.GEN_AI_INPUT_MESSAGES, "inputs", input_messages)


def record_result(run: Run, response: Any) -> None:
    """Outputs, finish reasons, response id and model, usage and cost of a model run."""
    handle, live = run.handle, run.handle.live
    if not live.is_recording():
        return
    result = ex.model_result(response)
    if result.outputs is not None:
        live.set_outputs(result.outputs)
    if result.output_messages:
        set_payload(handle, sc.GEN_AI_OUTPUT_MESSAGES, "outputs", result.output_messages)
    if result.finish_reasons:
        live.set_attribute(sc.GEN_AI_RESPONSE_FINISH_REASONS, result.finish_reasons)
    if result.response_id:
        live.set_attribute(sc.GEN_AI_RESPONSE_ID, result.response_id)
    model = result.response_model or run.model
    if model:
        live.set_model(
            run.model or model, provider=run.provider, response_model=result.response_model
        )
    if result.usage is not None:
        handle.record_usage(result.usage, model=model)


__all__ = ["captured", "describe_request", "record_result", "set_payload", "set_query"]
