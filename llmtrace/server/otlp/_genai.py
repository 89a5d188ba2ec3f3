"""OpenTelemetry GenAI semantic conventions, both generations -> llmtrace keys.

Current: `gen_ai.operation.name`, `gen_ai.{request,response}.model`, `gen_ai.provider.name`,
`gen_ai.usage.input_tokens`/`output_tokens`, `gen_ai.input.messages`,
`gen_ai.output.messages` and `gen_ai.system_instructions` (JSON text or structured values),
`gen_ai.tool.call.arguments`/`result`, `gen_ai.retrieval.*`, and the
`gen_ai.client.inference.operation.details` event.

Older: `gen_ai.system`, `gen_ai.usage.prompt_tokens`/`completion_tokens`, flattened
`gen_ai.prompt.{i}.*`/`gen_ai.completion.{i}.*` (OpenLLMetry), the `gen_ai.prompt`/
`gen_ai.completion` JSON attributes, and span events `gen_ai.{system,user,assistant,tool}.message`
and `gen_ai.choice` (attributes, or a JSON body in `gen_ai.event.content`), and
`gen_ai.content.prompt`/`gen_ai.content.completion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmtrace import semconv as sc
from llmtrace.server.otlp._shapes import (
    Message,
    document,
    dump,
    first,
    genai_message,
    indexed,
    integer,
    maybe_json,
    openai_message,
    openai_parts,
    outputs_of,
    payload_text,
    put,
    system_message,
    text,
    tool_call,
)

PROMPT_PREFIX = "gen_ai.prompt."
COMPLETION_PREFIX = "gen_ai.completion."
PROMPT_JSON = "gen_ai.prompt"
COMPLETION_JSON = "gen_ai.completion"
USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
USAGE_TOTAL_TOKENS = "gen_ai.usage.total_tokens"
USAGE_CACHE_READ_OLD = "gen_ai.usage.cache_read_input_tokens"
USAGE_CACHE_CREATION_OLD = "gen_ai.usage.cache_creation_input_tokens"
USAGE_REASONING = "gen_ai.usage.reasoning_tokens"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
RETRIEVAL_QUERY = "gen_ai.retrieval.query.text"
RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"
EVENT_CONTENT = "gen_ai.event.content"
EVENT_DETAILS = "gen_ai.client.inference.operation.details"
EVENT_CHOICE = "gen_ai.choice"
EVENT_PROMPT = "gen_ai.content.prompt"
EVENT_COMPLETION = "gen_ai.content.completion"
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_TYPES = {
    "chat": sc.SpanType.CHAT_MODEL,
    "generate_content": sc.SpanType.CHAT_MODEL,
    "text_completion": sc.SpanType.LLM,
    "embeddings": sc.SpanType.EMBEDDING,
    "execute_tool": sc.SpanType.TOOL,
    "invoke_agent": sc.SpanType.AGENT,
    "create_agent": sc.SpanType.AGENT,
    "invoke_workflow": sc.SpanType.CHAIN,
    "retrieval": sc.SpanType.RETRIEVER,
}


def detect(attrs: Mapping[str, Any], events: list[dict[str, Any]]) -> bool:
    """True when the span carries any `gen_ai.*` attribute or event."""
    for key in attrs:
        if key.startswith("gen_ai."):
            return True
    return any(str(e.get("name", "")).startswith("gen_ai.") for e in events)


def extract(attrs: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Add llmtrace keys for a GenAI span (keys already set are kept)."""
    model = text(first(attrs, sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL))
    put(attrs, sc.SPAN_MODEL, model)
    put(attrs, sc.SPAN_PROVIDER, text(first(attrs, sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_SYSTEM)))
    _usage(attrs)
    inputs = _input_messages(attrs, events)
    outputs = _output_messages(attrs, events)
    operation = attrs.get(sc.GEN_AI_OPERATION_NAME)
    span_type = _TYPES.get(operation) if isinstance(operation, str) else None
    if span_type is None and model is not None:
        span_type = sc.SpanType.CHAT_MODEL if inputs or outputs else sc.SpanType.LLM
    if span_type is not None:
        put(attrs, sc.SPAN_TYPE, span_type.value)
    if inputs:
        put(attrs, sc.SPAN_INPUTS, dump({"messages": inputs}))
    if outputs:
        put(attrs, sc.SPAN_OUTPUTS, dump(outputs_of(outputs)))
    arguments = attrs.get(TOOL_CALL_ARGUMENTS)
    put(attrs, sc.SPAN_INPUTS, payload_text(arguments, is_json=True))
    put(attrs, sc.SPAN_OUTPUTS, payload_text(attrs.get(TOOL_CALL_RESULT), is_json=True))
    _retrieval(attrs)
    conversation = attrs.get(sc.GEN_AI_CONVERSATION_ID)
    if conversation is not None and sc.SESSION_ID not in attrs:
        put(attrs, sc.TRACE_SESSION_ID, str(conversation))


# (source, target) in order of preference: the first source present sets the target.
_USAGE = (
    (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.USAGE_INPUT_TOKENS),
    (USAGE_PROMPT_TOKENS, sc.USAGE_INPUT_TOKENS),
    (sc.GEN_AI_USAGE_OUTPUT_TOKENS, sc.USAGE_OUTPUT_TOKENS),
    (USAGE_COMPLETION_TOKENS, sc.USAGE_OUTPUT_TOKENS),
    (USAGE_TOTAL_TOKENS, sc.USAGE_TOTAL_TOKENS),
    (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, sc.USAGE_CACHED_INPUT_TOKENS),
    (USAGE_CACHE_READ_OLD, sc.USAGE_CACHED_INPUT_TOKENS),
    (sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, sc.USAGE_CACHE_WRITE_TOKENS),
    (USAGE_CACHE_CREATION_OLD, sc.USAGE_CACHE_WRITE_TOKENS),
    (USAGE_REASONING, sc.USAGE_REASONING_TOKENS),
)


def _usage(attrs: dict[str, Any]) -> None:
    for source, target in _USAGE:
        value = attrs.get(source)
        if value is not None and target not in attrs:
            put(attrs, target, integer(value))


def _details(events: list[dict[str, Any]]) -> dict[str, Any]:
    for event in events:
        if event.get("name") == EVENT_DETAILS:
            found: dict[str, Any] = event.get("attributes") or {}
            return found
    return {}


def _input_messages(attrs: Mapping[str, Any], events: list[dict[str, Any]]) -> list[Message]:
    source = attrs if sc.GEN_AI_INPUT_MESSAGES in attrs else _details(events)
    current = maybe_json(source.get(sc.GEN_AI_INPUT_MESSAGES))
    system = system_message(maybe_json(source.get(sc.GEN_AI_SYSTEM_INSTRUCTIONS)))
    if isinstance(current, list):
        messages = [genai_message(m) for m in current if isinstance(m, dict)]
        return [system, *messages] if system else messages
    messages = [_flat_message(g) for g in indexed(attrs, PROMPT_PREFIX)]
    if not messages:
        old = maybe_json(attrs.get(PROMPT_JSON))
        if isinstance(old, list):
            messages = [openai_message(m) for m in old if isinstance(m, dict)]
    if not messages:
        messages = _event_inputs(events)
    return [system, *messages] if system and messages else messages


def _output_messages(attrs: Mapping[str, Any], events: list[dict[str, Any]]) -> list[Message]:
    source = attrs if sc.GEN_AI_OUTPUT_MESSAGES in attrs else _details(events)
    current = maybe_json(source.get(sc.GEN_AI_OUTPUT_MESSAGES))
    if isinstance(current, list):
        return [genai_message(m) for m in current if isinstance(m, dict)]
    messages = [_flat_message(g) for g in indexed(attrs, COMPLETION_PREFIX)]
    if not messages:
        old = maybe_json(attrs.get(COMPLETION_JSON))
        if isinstance(old, list):
            messages = [openai_message(m, "assistant") for m in old if isinstance(m, dict)]
    return messages or _event_outputs(events)


def _flat_message(group: dict[str, Any]) -> Message:
    """One `gen_ai.prompt.{i}.*` / `gen_ai.completion.{i}.*` group (OpenLLMetry's shape)."""
    content = group.get("content")
    if isinstance(content, str) and content.startswith("[{"):
        decoded = maybe_json(content)  # multimodal content is sent as JSON text
        content = openai_parts(decoded) if isinstance(decoded, list) else content
    out: Message = {"role": group.get("role"), "content": content}
    calls = [
        tool_call(c.get("id"), c.get("name"), c.get("arguments"))
        for c in indexed(group, "tool_calls.")
    ]
    if not calls and group.get("function_call.name") is not None:
        calls = [
            tool_call(None, group.get("function_call.name"), group.get("function_call.arguments"))
        ]
    if calls:
        out["tool_calls"] = calls
    if group.get("tool_call_id") is not None:
        out["tool_call_id"] = group["tool_call_id"]
    return out


def _event_body(event: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = event.get("attributes") or {}
    body = maybe_json(attrs.get(EVENT_CONTENT))
    return body if isinstance(body, dict) else attrs


def _event_inputs(events: list[dict[str, Any]]) -> list[Message]:
    messages: list[Message] = []
    for event in events:
        name = event.get("name")
        role = _MESSAGE_EVENTS.get(name) if isinstance(name, str) else None
        if role is not None:
            messages.append(openai_message(_event_body(event), role))
        elif name == EVENT_PROMPT:
            prompt = maybe_json((event.get("attributes") or {}).get(PROMPT_JSON))
            if isinstance(prompt, list):
                messages.extend(openai_message(m) for m in prompt if isinstance(m, dict))
    return messages


def _event_outputs(events: list[dict[str, Any]]) -> list[Message]:
    messages: list[Message] = []
    for event in events:
        name = event.get("name")
        if name == EVENT_CHOICE:
            body = _event_body(event)
            message = maybe_json(body.get("message"))
            if not isinstance(message, dict):
                message = {"content": body.get("content"), "tool_calls": body.get("tool_calls")}
            messages.append(openai_message(message, "assistant"))
        elif name == EVENT_COMPLETION:
            completion = maybe_json((event.get("attributes") or {}).get(COMPLETION_JSON))
            if isinstance(completion, list):
                messages.extend(
                    openai_message(m, "assistant") for m in completion if isinstance(m, dict)
                )
    return messages


def _retrieval(attrs: dict[str, Any]) -> None:
    query = text(attrs.get(RETRIEVAL_QUERY))
    if query is not None:
        put(attrs, sc.RETRIEVAL_QUERY, query)
        put(attrs, sc.SPAN_INPUTS, dump({"query": query}))
    docs = maybe_json(attrs.get(RETRIEVAL_DOCUMENTS))
    if isinstance(docs, list) and docs:
        stored = [
            document(d.get("id"), d.get("score"), d.get("content"), d.get("metadata"))
            for d in docs
            if isinstance(d, dict)
        ]
        dumped = dump(stored)
        put(attrs, sc.RETRIEVAL_DOCUMENTS, dumped)
        put(attrs, sc.SPAN_OUTPUTS, dumped)


__all__ = ["detect", "extract"]
