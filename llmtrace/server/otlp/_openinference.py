"""OpenInference (Arize Phoenix's conventions) -> llmtrace keys.

Reads `openinference.span.kind`, `llm.model_name`, `llm.provider`/`llm.system`,
`llm.token_count.*`, `llm.input_messages.{i}.message.*` / `llm.output_messages.{i}.message.*`
(with `contents` parts and `tool_calls`), `llm.prompts`, `input.value`/`output.value` with their
mime types, `retrieval.documents.{i}.document.*`, `reranker.*` and `embedding.*`.
"""

from __future__ import annotations

from typing import Any

from llmtrace import semconv as sc
from llmtrace.server.otlp._shapes import (
    Message,
    content_of,
    document,
    dump,
    first,
    indexed,
    integer,
    outputs_of,
    payload_text,
    put,
    text,
    tool_call,
)

SPAN_KIND = "openinference.span.kind"
INPUT_VALUE = "input.value"
INPUT_MIME_TYPE = "input.mime_type"
OUTPUT_VALUE = "output.value"
OUTPUT_MIME_TYPE = "output.mime_type"
LLM_MODEL_NAME = "llm.model_name"
LLM_PROVIDER = "llm.provider"
LLM_SYSTEM = "llm.system"
LLM_INPUT_MESSAGES = "llm.input_messages."
LLM_OUTPUT_MESSAGES = "llm.output_messages."
LLM_PROMPTS = "llm.prompts."
TOKEN_PROMPT = "llm.token_count.prompt"
TOKEN_COMPLETION = "llm.token_count.completion"
TOKEN_TOTAL = "llm.token_count.total"
TOKEN_CACHE_READ = "llm.token_count.prompt_details.cache_read"
TOKEN_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
TOKEN_REASONING = "llm.token_count.completion_details.reasoning"
RETRIEVAL_DOCUMENTS = "retrieval.documents."
RERANKER_QUERY = "reranker.query"
RERANKER_MODEL = "reranker.model_name"
RERANKER_OUTPUT_DOCUMENTS = "reranker.output_documents."
EMBEDDING_MODEL = "embedding.model_name"
EMBEDDING_EMBEDDINGS = "embedding.embeddings."

_JSON_MIME = "application/json"
_USAGE = (
    (TOKEN_PROMPT, sc.USAGE_INPUT_TOKENS),
    (TOKEN_COMPLETION, sc.USAGE_OUTPUT_TOKENS),
    (TOKEN_TOTAL, sc.USAGE_TOTAL_TOKENS),
    (TOKEN_CACHE_READ, sc.USAGE_CACHED_INPUT_TOKENS),
    (TOKEN_CACHE_WRITE, sc.USAGE_CACHE_WRITE_TOKENS),
    (TOKEN_REASONING, sc.USAGE_REASONING_TOKENS),
)
_TYPES = {
    "LLM": sc.SpanType.LLM,
    "EMBEDDING": sc.SpanType.EMBEDDING,
    "RETRIEVER": sc.SpanType.RETRIEVER,
    "RERANKER": sc.SpanType.RERANKER,
    "TOOL": sc.SpanType.TOOL,
    "AGENT": sc.SpanType.AGENT,
    "CHAIN": sc.SpanType.CHAIN,
    "GUARDRAIL": sc.SpanType.GUARDRAIL,
    "EVALUATOR": sc.SpanType.EVALUATOR,
    "PROMPT": sc.SpanType.CHAIN,
}


def detect(attrs: dict[str, Any]) -> bool:
    """True when the span follows OpenInference."""
    return SPAN_KIND in attrs


def extract(attrs: dict[str, Any]) -> None:
    """Add llmtrace keys for an OpenInference span (keys already set are kept)."""
    kind = str(attrs.get(SPAN_KIND, "")).upper()
    inputs = _messages(attrs, LLM_INPUT_MESSAGES)
    outputs = _messages(attrs, LLM_OUTPUT_MESSAGES)
    span_type = _TYPES.get(kind, sc.SpanType.UNKNOWN)
    if span_type is sc.SpanType.LLM and (inputs or outputs):
        span_type = sc.SpanType.CHAT_MODEL
    put(attrs, sc.SPAN_TYPE, span_type.value)
    model = text(first(attrs, LLM_MODEL_NAME, EMBEDDING_MODEL, RERANKER_MODEL))
    put(attrs, sc.SPAN_MODEL, model)
    put(attrs, sc.SPAN_PROVIDER, text(first(attrs, LLM_PROVIDER, LLM_SYSTEM)))
    _usage(attrs)
    if inputs:
        put(attrs, sc.SPAN_INPUTS, dump({"messages": inputs}))
    else:
        prompts = [p.get("prompt.text") for p in indexed(attrs, LLM_PROMPTS)]
        if prompts:
            put(attrs, sc.SPAN_INPUTS, dump({"prompt": outputs_of(prompts)}))
    if outputs:
        put(attrs, sc.SPAN_OUTPUTS, dump(outputs_of(outputs)))
    if span_type is sc.SpanType.RETRIEVER:
        _documents(attrs, RETRIEVAL_DOCUMENTS)
    elif span_type is sc.SpanType.RERANKER:
        query = text(attrs.get(RERANKER_QUERY))
        if query is not None:
            put(attrs, sc.SPAN_INPUTS, dump({"query": query}))
        _documents(attrs, RERANKER_OUTPUT_DOCUMENTS)
    elif span_type is sc.SpanType.EMBEDDING:
        _embeddings(attrs)
    is_json = attrs.get(INPUT_MIME_TYPE) == _JSON_MIME
    put(attrs, sc.SPAN_INPUTS, payload_text(attrs.get(INPUT_VALUE), is_json=is_json))
    is_json = attrs.get(OUTPUT_MIME_TYPE) == _JSON_MIME
    put(attrs, sc.SPAN_OUTPUTS, payload_text(attrs.get(OUTPUT_VALUE), is_json=is_json))


def _usage(attrs: dict[str, Any]) -> None:
    for source, target in _USAGE:
        value = attrs.get(source)
        if value is not None:
            put(attrs, target, integer(value))


def _messages(attrs: dict[str, Any], prefix: str) -> list[Message]:
    return [_message(group) for group in indexed(attrs, prefix)]


def _message(group: dict[str, Any]) -> Message:
    out: Message = {"role": group.get("message.role"), "content": group.get("message.content")}
    if out["content"] is None:
        parts = []
        for part in indexed(group, "message.contents."):
            kind = part.get("message_content.type")
            if kind == "image":
                parts.append({"type": "image", "url": part.get("message_content.image.image.url")})
            else:
                parts.append({"type": kind or "text", "text": part.get("message_content.text")})
        out["content"] = content_of(parts)
    calls = [
        tool_call(
            c.get("tool_call.id"),
            c.get("tool_call.function.name"),
            c.get("tool_call.function.arguments"),
        )
        for c in indexed(group, "message.tool_calls.")
    ]
    if calls:
        out["tool_calls"] = calls
    call_id = group.get("message.tool_call_id")
    if call_id is not None:
        out["tool_call_id"] = call_id
    name = group.get("message.name")
    if isinstance(name, str):
        out["name"] = name
    return out


def _documents(attrs: dict[str, Any], prefix: str) -> None:
    docs = [
        document(
            g.get("document.id"),
            g.get("document.score"),
            g.get("document.content"),
            g.get("document.metadata"),
        )
        for g in indexed(attrs, prefix)
    ]
    if docs:
        dumped = dump(docs)
        put(attrs, sc.RETRIEVAL_DOCUMENTS, dumped)
        put(attrs, sc.SPAN_OUTPUTS, dumped)
    query = text(attrs.get(INPUT_VALUE))
    if query is not None and attrs.get(INPUT_MIME_TYPE) != _JSON_MIME:
        put(attrs, sc.RETRIEVAL_QUERY, query)


def _embeddings(attrs: dict[str, Any]) -> None:
    items = indexed(attrs, EMBEDDING_EMBEDDINGS)
    if not items:
        return
    texts = [i.get("embedding.text") for i in items if i.get("embedding.text") is not None]
    if texts:
        put(attrs, sc.SPAN_INPUTS, dump({"input": outputs_of(texts)}))
    vector = items[0].get("embedding.vector")
    dims = len(vector) if isinstance(vector, list) else None
    put(attrs, sc.SPAN_OUTPUTS, dump({"embeddings": len(items), "dimensions": dims}))


__all__ = ["detect", "extract"]
