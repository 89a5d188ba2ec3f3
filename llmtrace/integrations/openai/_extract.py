"""What a span records about an OpenAI call: request attributes, inputs, and a summary of the
result (outputs, finish reasons, usage) built from a response object or from stream chunks.

Everything here reads objects through `get`, which accepts the SDK's pydantic models and plain
dicts alike (raw responses are read as JSON). Nothing here raises on unexpected shapes: missing
fields read as None; the callers still guard every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import openai

from llmtrace import semconv as sc
from llmtrace.pricing import Usage
from llmtrace.semconv import SpanType

CHAT = "chat"
COMPLETION = "completion"
EMBEDDING = "embedding"
RESPONSES = "responses"


@dataclass(frozen=True)
class Endpoint:
    """One patched API: its span name and type, and how to read its requests and results."""

    name: str
    kind: str  # CHAT, COMPLETION, EMBEDDING or RESPONSES
    span_type: SpanType


ENDPOINTS = {
    CHAT: Endpoint("openai.chat.completions", CHAT, SpanType.CHAT_MODEL),
    COMPLETION: Endpoint("openai.completions", COMPLETION, SpanType.LLM),
    EMBEDDING: Endpoint("openai.embeddings", EMBEDDING, SpanType.EMBEDDING),
    RESPONSES: Endpoint("openai.responses", RESPONSES, SpanType.CHAT_MODEL),
}

# Request arguments that are the payload (captured as inputs) or transport details (never
# recorded: headers may carry credentials); everything else is an invocation parameter.
_PAYLOAD_KEYS = {
    CHAT: ("messages", "tools", "functions"),
    COMPLETION: ("prompt", "suffix"),
    EMBEDDING: ("input",),
    RESPONSES: ("input", "instructions", "tools"),
}
_TRANSPORT_KEYS = frozenset({"extra_headers", "extra_query", "timeout"})

_NUMERIC_PARAMS = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "max_output_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "n": sc.GEN_AI_REQUEST_CHOICE_COUNT,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
}


_MISSING = object()


def get(obj: Any, name: str, default: Any = None) -> Any:
    """`obj.name` or `obj[name]`, whichever applies; `default` when missing."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    # Checked last: an ABC isinstance costs more than the attribute lookup it would skip.
    return obj.get(name, default) if isinstance(obj, Mapping) else default


def _sentinel_types() -> tuple[type, ...]:
    # `NotGiven` is in every 1.x SDK; `Omit` became public later.
    found = (getattr(openai, "NotGiven", None), getattr(openai, "Omit", None))
    return tuple(t for t in found if isinstance(t, type))


_SENTINELS = _sentinel_types()


def is_given(value: Any) -> bool:
    """False for the SDK's `omit` / `NOT_GIVEN` sentinels."""
    return not isinstance(value, _SENTINELS)


# --- the client: provider and server -----------------------------------------------------------

_PROVIDER_RUNTIME_NAMES = {"bedrock": "aws.bedrock", "vertex": "gcp.vertex_ai"}
_AZURE = (openai.AzureOpenAI, openai.AsyncAzureOpenAI)
_BEDROCK = tuple(
    cls
    for cls in (getattr(openai, "BedrockOpenAI", None), getattr(openai, "AsyncBedrockOpenAI", None))
    if isinstance(cls, type)
)


def provider_of(client: Any) -> str:
    """`gen_ai.provider.name` for a client: Azure, Bedrock and Vertex by their own names, any
    other endpoint (OpenAI, vLLM, Ollama...) as "openai" (its host is in `server.address`)."""
    if isinstance(client, _AZURE):
        return "azure.ai.openai"
    runtime = getattr(client, "_provider_runtime", None)  # SDK providers (recent SDKs only)
    name = getattr(runtime, "name", None)
    if isinstance(name, str):
        return _PROVIDER_RUNTIME_NAMES.get(name, name)
    if _BEDROCK and isinstance(client, _BEDROCK):
        return "aws.bedrock"
    return "openai"


def server_of(client: Any) -> tuple[str | None, int | None]:
    """Host and port of the client's base URL (the scheme's default port when implicit)."""
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if not isinstance(host, str) or not host:
        return None, None
    port = getattr(url, "port", None)
    if not isinstance(port, int):
        port = {"https": 443, "http": 80}.get(str(getattr(url, "scheme", "")))
    return host, port


# --- requests ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    # A pydantic class given as response_format / text_format: record its name, not the class.
    return f"<{value.__name__}>" if isinstance(value, type) else value


def invocation_parameters(kind: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Every given request argument except the payload and transport ones."""
    skip = _PAYLOAD_KEYS[kind]
    return {
        k: _plain(v)
        for k, v in kwargs.items()
        if k not in skip and k not in _TRANSPORT_KEYS and is_given(v)
    }


def request_attributes(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """GenAI `gen_ai.request.*` attributes (and `gen_ai.output.type`) of the parameters."""
    attrs: dict[str, Any] = {}
    for key, attr in _NUMERIC_PARAMS.items():
        value = params.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[attr] = value
    stop = params.get("stop")
    if isinstance(stop, str):
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    fmt = params.get("encoding_format")
    if isinstance(fmt, str):
        attrs[sc.GEN_AI_REQUEST_ENCODING_FORMATS] = [fmt]
    output_type = _output_type(params)
    if output_type:
        attrs[sc.GEN_AI_OUTPUT_TYPE] = output_type
    return attrs


def _output_type(params: Mapping[str, Any]) -> str | None:
    fmt = params.get("response_format")
    if fmt is None:
        fmt = get(params.get("text"), "format")
    if isinstance(fmt, str) and fmt.startswith("<"):  # a class given to parse()
        return "json"
    if params.get("text_format") is not None:
        return "json"
    kind = get(fmt, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    if kind == "text":
        return "text"
    return None


def request_inputs(kind: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The payload arguments, as the span's inputs."""
    return {k: kwargs[k] for k in _PAYLOAD_KEYS[kind] if k in kwargs and is_given(kwargs[k])}


def _text_part(text: Any) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_part(content)]
    if not isinstance(content, (list, tuple)):
        return []
    parts = []
    for part in content:
        ptype = get(part, "type")
        if ptype in ("text", "input_text", "output_text"):
            parts.append(_text_part(get(part, "text")))
        elif isinstance(ptype, str):
            parts.append({"type": ptype})  # images, audio, files: the kind, not the data
    return parts


def _tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def _chat_message(message: Any) -> dict[str, Any]:
    role = get(message, "role")
    if role == "tool":
        response = {
            "type": "tool_call_response",
            "id": get(message, "tool_call_id"),
            "response": get(message, "content"),
        }
        return {"role": "tool", "parts": [response]}
    parts = _content_parts(get(message, "content"))
    for call in get(message, "tool_calls") or ():
        function = get(call, "function")
        parts.append(
            _tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments"))
        )
    out: dict[str, Any] = {"role": role, "parts": parts}
    name = get(message, "name")
    if isinstance(name, str):
        out["name"] = name
    return out


def _responses_item(item: Any) -> dict[str, Any] | None:
    itype = get(item, "type")
    if itype == "function_call_output":
        response = {
            "type": "tool_call_response",
            "id": get(item, "call_id"),
            "response": get(item, "output"),
        }
        return {"role": "tool", "parts": [response]}
    if itype == "function_call":
        call = _tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments"))
        return {"role": "assistant", "parts": [call]}
    role = get(item, "role")
    if role is None:
        return None
    return {"role": role, "parts": _content_parts(get(item, "content"))}


def input_messages(kind: str, kwargs: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """`gen_ai.input.messages` (GenAI JSON shape), or None. Only lists are read: an iterator
    argument must not be consumed."""
    if kind == CHAT:
        messages = kwargs.get("messages")
        if isinstance(messages, (list, tuple)):
            return [_chat_message(m) for m in messages]
    elif kind == RESPONSES:
        value = kwargs.get("input")
        if isinstance(value, str):
            return [{"role": "user", "parts": [_text_part(value)]}]
        if isinstance(value, (list, tuple)):
            items = (_responses_item(i) for i in value)
            return [i for i in items if i is not None]
    elif kind == COMPLETION:
        prompt = kwargs.get("prompt")
        if isinstance(prompt, str):
            return [{"role": "user", "parts": [_text_part(prompt)]}]
    return None


# --- results -----------------------------------------------------------------------------------


@dataclass
class Summary:
    """What a finished call produced."""

    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    outputs: Any = None
    output_messages: list[dict[str, Any]] | None = None
    usage: Usage | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # a failed or errored Responses stream


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_of(kind: str, usage: Any) -> Usage | None:
    """llmtrace `Usage` of a chat/completions/embeddings `usage` or a Responses one."""
    if usage is None:
        return None
    if kind == RESPONSES:
        inp, out = get(usage, "input_tokens"), get(usage, "output_tokens")
        in_details, out_details = (
            get(usage, "input_tokens_details"),
            get(usage, "output_tokens_details"),
        )
    else:
        inp, out = get(usage, "prompt_tokens"), get(usage, "completion_tokens")
        in_details, out_details = (
            get(usage, "prompt_tokens_details"),
            get(usage, "completion_tokens_details"),
        )
    result = Usage(
        input_tokens=_int(inp),
        output_tokens=_int(out) if kind != EMBEDDING else None,
        total_tokens=_int(get(usage, "total_tokens")),
        cached_input_tokens=_int(get(in_details, "cached_tokens")),
        cache_write_tokens=_int(get(in_details, "cache_write_tokens")),
        reasoning_tokens=_int(get(out_details, "reasoning_tokens")),
    )
    return None if result.is_empty else result


def chat_output(
    content: Any, tool_calls: list[dict[str, Any]], refusal: Any = None
) -> dict[str, Any]:
    """One assistant message as llmtrace records it (tool calls as {"id", "name", "arguments"})."""
    out: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal:
        out["refusal"] = refusal
    if tool_calls:
        out["tool_calls"] = tool_calls
    return out


def output_message(message: Mapping[str, Any], finish_reason: Any) -> dict[str, Any]:
    """`gen_ai.output.messages` entry of a `chat_output` message."""
    parts = _content_parts(message.get("content"))
    for call in message.get("tool_calls") or ():
        parts.append(_tool_call_part(call.get("id"), call.get("name"), call.get("arguments")))
    return {"role": "assistant", "parts": parts, "finish_reason": finish_reason}


def finish_choices(summary: Summary, messages: list[dict[str, Any]], reasons: list[Any]) -> None:
    """Fill outputs, output messages and finish reasons from per-choice messages."""
    summary.finish_reasons = [str(r) for r in reasons if r is not None]
    summary.outputs = messages[0] if len(messages) == 1 else messages
    summary.output_messages = [output_message(m, r) for m, r in zip(messages, reasons, strict=True)]


def _tool_calls_of(message: Any) -> list[dict[str, Any]]:
    calls = []
    for call in get(message, "tool_calls") or ():
        function = get(call, "function")
        calls.append(
            {
                "id": get(call, "id"),
                "name": get(function, "name"),
                "arguments": get(function, "arguments"),
            }
        )
    return calls


def summarize(kind: str, result: Any) -> Summary:
    """A `Summary` of a non-streamed result (an SDK object or its JSON)."""
    summary = Summary(response_id=get(result, "id"), response_model=get(result, "model"))
    if kind == RESPONSES:
        summarize_response(summary, result)
        return summary
    summary.usage = usage_of(kind, get(result, "usage"))
    if kind == EMBEDDING:
        data = get(result, "data") or ()
        first = get(data[0], "embedding") if data else None
        dims = len(first) if isinstance(first, list) else None
        summary.outputs = {"embeddings": len(data), "dimensions": dims}
        if dims is not None:
            summary.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dims
        return summary
    choices = sorted(get(result, "choices") or (), key=lambda c: get(c, "index") or 0)
    reasons = [get(c, "finish_reason") for c in choices]
    if kind == COMPLETION:
        texts = [get(c, "text") for c in choices]
        summary.finish_reasons = [str(r) for r in reasons if r is not None]
        summary.outputs = texts[0] if len(texts) == 1 else texts
        summary.output_messages = [
            {"role": "assistant", "parts": _content_parts(t), "finish_reason": r}
            for t, r in zip(texts, reasons, strict=True)
        ]
        return summary
    messages = []
    for choice in choices:
        message = get(choice, "message")
        messages.append(
            chat_output(get(message, "content"), _tool_calls_of(message), get(message, "refusal"))
        )
    finish_choices(summary, messages, reasons)
    return summary


def summarize_response(summary: Summary, response: Any) -> None:
    """Fill `summary` from a Responses API `response` object."""
    summary.response_id = get(response, "id") or summary.response_id
    summary.response_model = get(response, "model") or summary.response_model
    summary.usage = usage_of(RESPONSES, get(response, "usage"))
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in get(response, "output") or ():
        itype = get(item, "type")
        if itype == "message":
            for part in get(item, "content") or ():
                if get(part, "type") == "output_text":
                    texts.append(str(get(part, "text") or ""))
                elif get(part, "type") == "refusal":
                    texts.append(str(get(part, "refusal") or ""))
        elif itype == "function_call":
            calls.append(
                {
                    "id": get(item, "call_id"),
                    "name": get(item, "name"),
                    "arguments": get(item, "arguments"),
                }
            )
    status = get(response, "status")
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason") or "incomplete"
    elif status == "failed":
        reason = "error"
        error = get(response, "error")
        summary.error = str(get(error, "message") or get(error, "code") or "response failed")
    elif calls:
        reason = "tool_calls"
    else:
        reason = "stop" if status in (None, "completed") else str(status)
    message = chat_output("".join(texts) if texts else None, calls)
    finish_choices(summary, [message], [reason])


__all__ = [
    "CHAT",
    "COMPLETION",
    "EMBEDDING",
    "ENDPOINTS",
    "RESPONSES",
    "Endpoint",
    "Summary",
    "chat_output",
    "finish_choices",
    "get",
    "input_messages",
    "invocation_parameters",
    "is_given",
    "provider_of",
    "request_attributes",
    "request_inputs",
    "server_of",
    "summarize",
    "summarize_response",
    "usage_of",
]
