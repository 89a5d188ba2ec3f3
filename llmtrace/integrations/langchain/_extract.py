"""What a span records about a LangChain run: names, span types, request attributes, messages,
generations, token usage and documents.

Pure functions over LangChain's callback arguments, read by duck typing (`getattr`), so that a
field missing in some langchain-core version degrades to "not recorded" instead of an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmtrace import semconv as sc
from llmtrace.pricing import Usage
from llmtrace.semconv import SpanType

# Invocation parameters that name the model, in order of preference.
_MODEL_KEYS = ("model", "model_name", "model_id", "deployment_name", "azure_deployment")
# Spellings of "maximum output tokens" across providers.
_MAX_TOKENS_KEYS = (
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "max_new_tokens",
    "max_tokens_to_sample",
    "num_predict",
)
_FLOAT_PARAMS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY),
)
_INT_PARAMS = (
    ("top_k", sc.GEN_AI_REQUEST_TOP_K),
    ("seed", sc.GEN_AI_REQUEST_SEED),
    ("n", sc.GEN_AI_REQUEST_CHOICE_COUNT),
)
# Metadata keys LangChain adds for its own tracer; they feed the model attributes instead of
# being stored as metadata.
_INTERNAL_METADATA_PREFIXES = ("ls_", "lc_")
# Metadata keys naming a conversation (LangGraph's `thread_id`, the common `session_id`).
_SESSION_KEYS = ("session_id", "thread_id", "conversation_id")
_SCORE_KEYS = ("score", "relevance_score", "similarity_score")
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# --- names and types ---------------------------------------------------------------------------


def run_name(serialized: Any, kwargs: Mapping[str, Any], default: str) -> str:
    """The run's name: the `run_name`/`name` LangChain passes, else the serialized class."""
    name = _str(kwargs.get("name"))
    if name:
        return name
    ser = _mapping(serialized)
    name = _str(ser.get("name"))
    if name:
        return name
    ids = ser.get("id")
    if isinstance(ids, list) and ids and isinstance(ids[-1], str):
        return ids[-1]
    return default


def chain_span_type(name: str, serialized: Any, run_type: Any) -> SpanType:
    """PARSER for output parsers, AGENT for agents, CHAIN for everything else (sequences,
    parallels, lambdas, prompts, graphs)."""
    if run_type == "parser" or name.endswith("OutputParser"):
        return SpanType.PARSER
    ids = _mapping(serialized).get("id")
    path = ".".join(i for i in ids if isinstance(i, str)) if isinstance(ids, list) else ""
    if "agent" in name.lower() or "AgentExecutor" in path:
        return SpanType.AGENT
    return SpanType.CHAIN


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run config's metadata without the keys LangChain adds for its own tracer."""
    return {
        str(k): v
        for k, v in (metadata or {}).items()
        if not str(k).startswith(_INTERNAL_METADATA_PREFIXES)
    }


def run_attributes(
    run_id: Any,
    run_type: str | None,
    tags: Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """LangChain's run id and type, and the run config's tags and metadata."""
    attrs: dict[str, Any] = {sc.LANGCHAIN_RUN_ID: str(run_id)}
    if run_type:
        attrs[sc.LANGCHAIN_RUN_TYPE] = run_type
    clean_tags = [t for t in tags or () if isinstance(t, str)]
    if clean_tags:
        attrs[sc.LANGCHAIN_TAGS] = clean_tags
    meta = user_metadata(metadata)
    if meta:
        attrs[sc.LANGCHAIN_METADATA] = meta
    return attrs


def session_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The conversation a run belongs to: `session_id`, `thread_id` or `conversation_id`."""
    for key in _SESSION_KEYS:
        value = (metadata or {}).get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


# --- model requests ----------------------------------------------------------------------------


def request_model(
    serialized: Any, metadata: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> str | None:
    """The requested model: invocation parameters, then `ls_model_name`, then the serialized
    constructor arguments."""
    for key in _MODEL_KEYS:
        found = _str(params.get(key))
        if found:
            return found
    found = _str((metadata or {}).get("ls_model_name"))
    if found:
        return found
    kwargs = _mapping(_mapping(serialized).get("kwargs"))
    for key in _MODEL_KEYS:
        found = _str(kwargs.get(key))
        if found:
            return found
    return None


def provider_of(metadata: Mapping[str, Any] | None) -> str | None:
    """`ls_provider` of the model's LangSmith parameters ("openai", "anthropic", ...)."""
    return _str((metadata or {}).get("ls_provider"))


def request_attributes(
    params: Mapping[str, Any], metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    """`gen_ai.request.*` from the invocation parameters (LangSmith's `ls_*` as fallback)."""
    meta = metadata or {}
    attrs: dict[str, Any] = {}
    for key, attr in _FLOAT_PARAMS:
        value = _number(params.get(key))
        if value is None and key == "temperature":
            value = _number(meta.get("ls_temperature"))
        if value is not None:
            attrs[attr] = value
    for key, attr in _INT_PARAMS:
        number = _int(params.get(key))
        if number is not None:
            attrs[attr] = number
    for key in (*_MAX_TOKENS_KEYS, "ls_max_tokens"):
        number = _int(params.get(key) if key != "ls_max_tokens" else meta.get(key))
        if number is not None:
            attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = number
            break
    stop = params.get("stop") or params.get("stop_sequences") or meta.get("ls_stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    return attrs


def invocation_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The invocation parameters worth keeping (LangChain's `_type` marker dropped)."""
    return {str(k): v for k, v in params.items() if k != "_type" and v is not None}


# --- messages ----------------------------------------------------------------------------------


def _role(message: Any) -> str:
    kind = getattr(message, "type", None)
    if not isinstance(kind, str) or not kind:
        return "user"
    if kind.endswith("MessageChunk"):  # AIMessageChunk -> ai, HumanMessageChunk -> human
        kind = kind[: -len("MessageChunk")].lower()
    if kind == "chat":
        return str(getattr(message, "role", None) or "user")
    return _ROLES.get(kind, kind)


def _tool_calls(message: Any) -> list[dict[str, Any]]:
    calls = []
    for call in getattr(message, "tool_calls", None) or ():
        call_map = _mapping(call)
        calls.append(
            {
                "id": call_map.get("id"),
                "name": call_map.get("name"),
                "arguments": call_map.get("args"),
            }
        )
    return calls


def message_dict(message: Any) -> dict[str, Any]:
    """A LangChain message as llmtrace records it: role, content, tool calls, tool call id."""
    if isinstance(message, str):
        return {"role": "user", "content": message}
    out: dict[str, Any] = {"role": _role(message), "content": getattr(message, "content", None)}
    name = _str(getattr(message, "name", None))
    if name:
        out["name"] = name
    calls = _tool_calls(message)
    if calls:
        out["tool_calls"] = calls
    call_id = _str(getattr(message, "tool_call_id", None))
    if call_id:
        out["tool_call_id"] = call_id
    return out


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, list) else ():
        if isinstance(block, str):
            parts.append({"type": "text", "content": block})
        elif isinstance(block, Mapping):
            kind = block.get("type")
            if kind == "text":
                parts.append({"type": "text", "content": block.get("text")})
            elif isinstance(kind, str) and kind not in ("tool_use", "tool_call", "function_call"):
                parts.append({"type": kind})  # images, audio, files: the kind, not the data
    return parts


def genai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """`gen_ai.input.messages`/`gen_ai.output.messages` entry of a `message_dict`."""
    role = message.get("role")
    if role == "tool":
        response = {
            "type": "tool_call_response",
            "id": message.get("tool_call_id"),
            "response": message.get("content"),
        }
        return {"role": "tool", "parts": [response]}
    parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or ():
        parts.append({"type": "tool_call", **call})
    out: dict[str, Any] = {"role": role, "parts": parts}
    if "finish_reason" in message:
        out["finish_reason"] = message["finish_reason"]
    return out


# --- results -----------------------------------------------------------------------------------


@dataclass
class Result:
    """What a finished model run produced."""

    outputs: Any = None
    output_messages: list[dict[str, Any]] | None = None
    finish_reasons: list[str] = field(default_factory=list)
    response_model: str | None = None
    response_id: str | None = None
    usage: Usage | None = None


def usage_from_metadata(usage: Any) -> Usage | None:
    """`Usage` of an `AIMessage.usage_metadata` (input includes cache tokens, output includes
    reasoning tokens: LangChain's convention is llmtrace's)."""
    um = _mapping(usage)
    if not um:
        return None
    in_details = _mapping(um.get("input_token_details"))
    out_details = _mapping(um.get("output_token_details"))
    result = Usage(
        input_tokens=_int(um.get("input_tokens")),
        output_tokens=_int(um.get("output_tokens")),
        total_tokens=_int(um.get("total_tokens")),
        cached_input_tokens=_int(in_details.get("cache_read")),
        cache_write_tokens=_int(in_details.get("cache_creation")),
        reasoning_tokens=_int(out_details.get("reasoning")),
    )
    return None if result.is_empty else result


def usage_from_llm_output(llm_output: Any) -> Usage | None:
    """`Usage` of `LLMResult.llm_output["token_usage"]` or `["usage"]` (OpenAI or Anthropic
    shaped), for models that do not fill `usage_metadata`."""
    out = _mapping(llm_output)
    raw = _mapping(out.get("token_usage")) or _mapping(out.get("usage"))
    if not raw:
        return None
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        in_details = _mapping(raw.get("prompt_tokens_details"))
        out_details = _mapping(raw.get("completion_tokens_details"))
        result = Usage(
            input_tokens=_int(raw.get("prompt_tokens")),
            output_tokens=_int(raw.get("completion_tokens")),
            total_tokens=_int(raw.get("total_tokens")),
            cached_input_tokens=_int(in_details.get("cached_tokens")),
            reasoning_tokens=_int(out_details.get("reasoning_tokens")),
        )
    else:
        # Anthropic's raw usage counts cache reads and writes apart from input_tokens.
        cache_read = _int(raw.get("cache_read_input_tokens"))
        cache_write = _int(raw.get("cache_creation_input_tokens"))
        inp = _int(raw.get("input_tokens"))
        if inp is not None:
            inp += (cache_read or 0) + (cache_write or 0)
        result = Usage(
            input_tokens=inp,
            output_tokens=_int(raw.get("output_tokens")),
            total_tokens=_int(raw.get("total_tokens")),
            cached_input_tokens=cache_read,
            cache_write_tokens=cache_write,
        )
    return None if result.is_empty else result


def _sum(usages: list[Usage]) -> Usage:
    def add(name: str) -> int | None:
        values = [getattr(u, name) for u in usages if getattr(u, name) is not None]
        return sum(values) if values else None

    return Usage(
        input_tokens=add("input_tokens"),
        output_tokens=add("output_tokens"),
        total_tokens=add("total_tokens"),
        cached_input_tokens=add("cached_input_tokens"),
        cache_write_tokens=add("cache_write_tokens"),
        reasoning_tokens=add("reasoning_tokens"),
    )


def _finish_reason(generation: Any, message: Any) -> str | None:
    info = _mapping(getattr(generation, "generation_info", None))
    meta = _mapping(getattr(message, "response_metadata", None))
    for value in (
        info.get("finish_reason"),
        meta.get("finish_reason"),
        meta.get("stop_reason"),
        info.get("stop_reason"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def model_result(response: Any) -> Result:
    """Outputs, finish reasons, response model and usage of a run's `LLMResult`.

    One run is one model call. Usage is read from each generation's `usage_metadata`;
    providers that return several candidates (`n > 1`) repeat the call's usage on every one,
    so identical usages are counted once and different ones are summed.
    """
    result = Result()
    messages: list[dict[str, Any]] = []
    usages: list[Usage] = []
    for batch in getattr(response, "generations", None) or ():
        for generation in batch or ():
            message = getattr(generation, "message", None)
            reason = _finish_reason(generation, message)
            if reason:
                result.finish_reasons.append(reason)
            if message is None:
                messages.append({"content": getattr(generation, "text", None)})
                continue
            out = message_dict(message)
            out["role"] = "assistant"
            if reason:
                out["finish_reason"] = reason
            messages.append(out)
            usage = usage_from_metadata(getattr(message, "usage_metadata", None))
            if usage is not None:
                usages.append(usage)
            meta = _mapping(getattr(message, "response_metadata", None))
            result.response_model = result.response_model or _str(
                meta.get("model_name") or meta.get("model")
            )
            result.response_id = result.response_id or _str(meta.get("id"))
    llm_output = _mapping(getattr(response, "llm_output", None))
    result.response_model = result.response_model or _str(
        llm_output.get("model_name") or llm_output.get("model")
    )
    if usages:
        distinct = list(dict.fromkeys(usages))
        result.usage = distinct[0] if len(distinct) == 1 else _sum(usages)
    else:
        result.usage = usage_from_llm_output(llm_output)
    chat = any("role" in m for m in messages)
    if chat:
        result.output_messages = [genai_message(m) for m in messages]
        result.outputs = messages[0] if len(messages) == 1 else messages
    else:
        texts = [m.get("content") for m in messages]
        result.outputs = texts[0] if len(texts) == 1 else texts
    return result


# --- tools and retrievers ----------------------------------------------------------------------


def tool_output(output: Any) -> Any:
    """A tool's output: a `ToolMessage`'s content (with its artifact, if any), else as is."""
    if getattr(output, "type", None) == "tool" and hasattr(output, "content"):
        artifact = getattr(output, "artifact", None)
        if artifact is not None:
            return {"content": output.content, "artifact": artifact}
        return output.content
    return output


def documents(docs: Any) -> list[dict[str, Any]]:
    """Retrieved documents as `{"id", "score", "content", "metadata"}` (score from the
    metadata's `score`, `relevance_score` or `similarity_score`)."""
    out = []
    for doc in docs or ():
        metadata = dict(_mapping(getattr(doc, "metadata", None)))
        score = next(
            (metadata[k] for k in _SCORE_KEYS if _number(metadata.get(k)) is not None), None
        )
        out.append(
            {
                "id": getattr(doc, "id", None),
                "score": score,
                "content": getattr(doc, "page_content", None),
                "metadata": metadata,
            }
        )
    return out


__all__ = [
    "Result",
    "chain_span_type",
    "documents",
    "genai_message",
    "invocation_parameters",
    "message_dict",
    "model_result",
    "provider_of",
    "request_attributes",
    "request_model",
    "run_attributes",
    "run_name",
    "session_of",
    "tool_output",
    "usage_from_llm_output",
    "usage_from_metadata",
    "user_metadata",
]
