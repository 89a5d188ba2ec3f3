"""LlamaIndex objects turned into small, JSON-friendly payloads and llmtrace attributes.

Every function here is pure and tolerant: an unexpected shape gives `None` or a plain fallback,
never an exception the handlers would have to deal with. Vectors are never captured.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
)
from llama_index.core.base.response.schema import (
    AsyncStreamingResponse,
    PydanticResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle
from llama_index.core.tools.types import BaseTool, ToolOutput

from llmtrace import semconv as sc
from llmtrace.pricing import Usage

# Model parameters worth recording; a model's full payload may hold secrets (keys, headers).
_PARAMETER_KEYS = (
    "temperature",
    "max_tokens",
    "max_new_tokens",
    "top_p",
    "top_k",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
)
_GENAI_PARAMETER_KEYS = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "max_new_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "top_k": sc.GEN_AI_REQUEST_TOP_K,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
}
# Placeholder model names LlamaIndex uses when it does not know the model.
_NO_MODEL = {"", "unknown", "none"}
_MAX_DEPTH = 4
# Workflow machinery passed to steps and runs: not data anyone wants to read.
_PLUMBING = ("workflows.context", "workflows.runtime")


# --- documents, messages, responses ---------------------------------------------------------


def document(node: NodeWithScore | BaseNode) -> dict[str, Any]:
    """`{"id", "score", "content", "metadata"}` of a retrieved node (never its embedding)."""
    score = node.score if isinstance(node, NodeWithScore) else None
    base = node.node if isinstance(node, NodeWithScore) else node
    try:
        content: Any = base.get_content()
    except Exception:
        content = None
    return {
        "id": base.node_id,
        "score": score,
        "content": content,
        "metadata": dict(base.metadata or {}),
    }


def documents(nodes: Sequence[Any]) -> list[dict[str, Any]]:
    """`document()` of every node in `nodes`."""
    return [document(n) for n in nodes if isinstance(n, (NodeWithScore, BaseNode))]


def query_text(query: Any) -> Any:
    """The query string of a `QueryBundle` (other values unchanged)."""
    if isinstance(query, QueryBundle):
        return query.query_str
    return query


def tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    """Tool calls requested in an assistant message (blocks, or OpenAI-style kwargs)."""
    calls: list[dict[str, Any]] = []
    for block in message.blocks:
        # ToolCallBlock (llama-index-core 0.14+), read by shape so older versions still import.
        if getattr(block, "block_type", None) == "tool_call":
            calls.append(
                {
                    "id": getattr(block, "tool_call_id", None),
                    "name": getattr(block, "tool_name", None),
                    "arguments": getattr(block, "tool_kwargs", None),
                }
            )
    if calls:
        return calls
    raw_calls = message.additional_kwargs.get("tool_calls")
    if isinstance(raw_calls, Sequence) and not isinstance(raw_calls, str):
        for call in raw_calls:
            function = _get(call, "function")
            calls.append(
                {
                    "id": _get(call, "id"),
                    "name": _get(function, "name"),
                    "arguments": _get(function, "arguments"),
                }
            )
    return calls


def message(msg: ChatMessage) -> dict[str, Any]:
    """`{"role", "content"}` of a chat message, plus its tool calls when it has any."""
    role = getattr(msg.role, "value", msg.role)
    try:
        content = msg.content
    except Exception:
        content = None
    out: dict[str, Any] = {"role": str(role), "content": content}
    calls = tool_calls(msg)
    if calls:
        out["tool_calls"] = calls
    return out


def response_output(response: ChatResponse | CompletionResponse | None) -> Any:
    """What an LLM call returned: the assistant message, or the completion text."""
    if isinstance(response, ChatResponse):
        return message(response.message)
    if isinstance(response, CompletionResponse):
        return response.text
    return None


def payload(value: Any, depth: int = 0) -> Any:
    """A JSON-friendly view of LlamaIndex values (queries, nodes, messages, responses);
    anything else is left to llmtrace's own payload capture."""
    if depth > _MAX_DEPTH or value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, QueryBundle):
        return value.query_str
    if isinstance(value, (NodeWithScore, BaseNode)):
        return document(value)
    if isinstance(value, ChatMessage):
        return message(value)
    if isinstance(value, (ChatResponse, CompletionResponse)):
        return response_output(value)
    if isinstance(value, (Response, PydanticResponse)):
        return str(value)
    if isinstance(value, (StreamingResponse, AsyncStreamingResponse)):
        return value.response_txt
    if isinstance(value, ToolOutput):
        return value.content
    if isinstance(value, Mapping):
        return {str(k): payload(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [payload(v, depth + 1) for v in value]
    return value


def bound_inputs(bound_args: inspect.BoundArguments) -> dict[str, Any]:
    """The call's arguments without `self`, `**kwargs` spread out, LlamaIndex values simplified,
    workflow plumbing (the step `Context`, the run's internal state) left out."""
    inputs: dict[str, Any] = {}
    for name, value in bound_args.arguments.items():
        if name in ("self", "cls", "_self") or type(value).__module__.startswith(_PLUMBING):
            continue
        kind = bound_args.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD and isinstance(value, Mapping):
            for key, item in value.items():
                inputs[str(key)] = payload(item)
        else:
            inputs[name] = payload(value)
    return inputs


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    """Name and description of the tools offered to a model (LlamaIndex tools or dicts)."""
    if not isinstance(tools, Sequence) or isinstance(tools, str) or not tools:
        return None
    definitions: list[dict[str, Any]] = []
    for tool in tools:
        if isinstance(tool, BaseTool):
            definitions.append(
                {"name": tool.metadata.name, "description": tool.metadata.description}
            )
        elif isinstance(tool, Mapping):
            definitions.append(dict(tool))
    return definitions or None


def embedding_shape(value: Any) -> dict[str, int] | None:
    """`{"count", "dimensions"}` of one vector or a list of vectors (the vectors are dropped)."""
    if isinstance(value, list) and value:
        first = value[0]
        if isinstance(first, (int, float)):
            return {"count": 1, "dimensions": len(value)}
        if isinstance(first, list):
            return {"count": len(value), "dimensions": len(first)}
        if isinstance(first, dict):  # sparse vectors: token id -> weight
            return {"count": len(value)}
    return None


# --- models ---------------------------------------------------------------------------------


def model_name(model_dict: Mapping[str, Any]) -> str | None:
    """The model named in a LlamaIndex model payload (`to_payload()`), if it names one."""
    for key in ("model", "model_name", "deployment_name", "engine"):
        value = model_dict.get(key)
        if isinstance(value, str) and value.strip().lower() not in _NO_MODEL:
            return value
    return None


def instance_model(instance: Any) -> str | None:
    """The model an LLM or embedding object is configured with, if it says."""
    for key in ("model", "model_name"):
        try:
            value = getattr(instance, key, None)
        except Exception:
            continue
        if isinstance(value, str) and value.strip().lower() not in _NO_MODEL:
            return value
    return None


def provider(instance: Any) -> str | None:
    """The provider of an integration class, from its package: `llama_index.llms.openai` ->
    "openai". None for LlamaIndex's own classes (mocks) and user classes."""
    parts = type(instance).__module__.split(".")
    if len(parts) >= 3 and parts[0] == "llama_index" and parts[1] != "core":
        return parts[2]
    return None


def model_parameters(model_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling parameters in a model payload (temperature, max tokens, ...)."""
    params: dict[str, Any] = {}
    for key in _PARAMETER_KEYS:
        value = model_dict.get(key)
        if value is not None and isinstance(value, (str, int, float, bool, list)):
            params[key] = value
    return params


def instance_parameters(instance: Any) -> dict[str, Any]:
    """The sampling parameters an LLM object is configured with (OpenAI's `temperature`...)."""
    params: dict[str, Any] = {}
    for key in _PARAMETER_KEYS:
        try:
            value = getattr(instance, key, None)
        except Exception:
            continue
        if value is not None and isinstance(value, (str, int, float, bool, list)):
            params[key] = value
    return params


def parameter_attributes(params: Mapping[str, Any]) -> dict[str, Any]:
    """GenAI request attributes and `llmtrace.llm.invocation_parameters` of `params`."""
    attrs: dict[str, Any] = {}
    for key, value in params.items():
        genai = _GENAI_PARAMETER_KEYS.get(key)
        if genai is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[genai] = value
    stop = params.get("stop")
    if isinstance(stop, str):
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    if params:
        attrs[sc.LLM_INVOCATION_PARAMETERS] = json.dumps(params, sort_keys=True, default=str)
    return attrs


def response_model(response: ChatResponse | CompletionResponse) -> str | None:
    """The model the provider says answered (`raw.model`), if any."""
    value = _get(response.raw, "model")
    return value if isinstance(value, str) and value else None


def finish_reasons(response: ChatResponse | CompletionResponse) -> list[str]:
    """Finish/stop reasons reported in the raw provider response."""
    raw = response.raw
    reasons: list[str] = []
    choices = _get(raw, "choices")
    if isinstance(choices, Sequence) and not isinstance(choices, str):
        for choice in choices:
            reason = _get(choice, "finish_reason")
            if isinstance(reason, str):
                reasons.append(reason)
    for key in ("stop_reason", "finish_reason"):
        reason = _get(raw, key)
        if isinstance(reason, str) and not reasons:
            reasons.append(reason)
    return reasons


# --- usage ----------------------------------------------------------------------------------


def usage(response: ChatResponse | CompletionResponse) -> Usage | None:
    """Token usage of an LLM response: `raw.usage` (OpenAI, Anthropic and Gemini shapes), else
    `additional_kwargs` token counts (what llama-index-llms-openai fills). None if absent."""
    raw = response.raw
    found = _usage_from(_get(raw, "usage")) or _usage_from(_get(raw, "usage_metadata"))
    if found is None:
        found = _usage_from(response.additional_kwargs)
    if found is None and isinstance(response, ChatResponse):
        found = _usage_from(response.message.additional_kwargs)
    return found


def _usage_from(data: Any) -> Usage | None:
    if data is None:
        return None
    prompt = _int(data, "prompt_tokens")
    completion = _int(data, "completion_tokens")
    if prompt is not None or completion is not None:  # OpenAI chat completions
        return _nonempty(
            Usage(
                input_tokens=prompt,
                output_tokens=completion,
                total_tokens=_int(data, "total_tokens"),
                cached_input_tokens=_int(_get(data, "prompt_tokens_details"), "cached_tokens"),
                reasoning_tokens=_int(_get(data, "completion_tokens_details"), "reasoning_tokens"),
            )
        )
    gemini_in = _int(data, "prompt_token_count")
    if gemini_in is not None:  # Gemini: candidates exclude thoughts
        thoughts = _int(data, "thoughts_token_count")
        candidates = _int(data, "candidates_token_count")
        output = None if candidates is None else candidates + (thoughts or 0)
        return _nonempty(
            Usage(
                input_tokens=gemini_in,
                output_tokens=output,
                total_tokens=_int(data, "total_token_count"),
                cached_input_tokens=_int(data, "cached_content_token_count"),
                reasoning_tokens=thoughts,
            )
        )
    input_tokens = _int(data, "input_tokens")
    output_tokens = _int(data, "output_tokens")
    if input_tokens is None and output_tokens is None:
        return None
    cache_read = _int(data, "cache_read_input_tokens")
    cache_write = _int(data, "cache_creation_input_tokens")
    if cache_read is not None or cache_write is not None:
        # Anthropic counts cache reads and writes apart from input_tokens; llmtrace's input
        # includes them.
        input_tokens = (input_tokens or 0) + (cache_read or 0) + (cache_write or 0)
        return _nonempty(
            Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cached_input_tokens=cache_read,
                cache_write_tokens=cache_write,
            )
        )
    return _nonempty(  # OpenAI Responses API and similar: input includes cached tokens
        Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=_int(data, "total_tokens"),
            cached_input_tokens=_int(_get(data, "input_tokens_details"), "cached_tokens"),
            reasoning_tokens=_int(_get(data, "output_tokens_details"), "reasoning_tokens"),
        )
    )


def _nonempty(value: Usage) -> Usage | None:
    return None if value.is_empty else value


def _get(obj: Any, key: str) -> Any:
    """`obj[key]` for mappings, `obj.key` otherwise; None when absent or unreadable."""
    if obj is None:
        return None
    try:
        if isinstance(obj, Mapping):
            return obj.get(key)
        return getattr(obj, key, None)
    except Exception:
        return None


def _int(obj: Any, key: str) -> int | None:
    value = _get(obj, key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


__all__ = [
    "bound_inputs",
    "document",
    "documents",
    "embedding_shape",
    "finish_reasons",
    "instance_model",
    "instance_parameters",
    "message",
    "model_name",
    "model_parameters",
    "parameter_attributes",
    "payload",
    "provider",
    "query_text",
    "response_model",
    "response_output",
    "tool_calls",
    "tool_definitions",
    "usage",
]
