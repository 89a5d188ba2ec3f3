"""Traceloop / OpenLLMetry -> llmtrace keys.

Workflow, task, agent and tool spans carry `traceloop.span.kind`, `traceloop.entity.input` and
`traceloop.entity.output` (JSON text); model spans carry `llm.request.type`,
`llm.usage.total_tokens` and the older GenAI keys (`gen_ai.prompt.{i}.*`, ...), which the GenAI
mapper reads. `traceloop.association.properties.session_id`/`user_id` name the trace's session
and user.
"""

from __future__ import annotations

from typing import Any

from llmtrace import semconv as sc
from llmtrace.server.otlp._shapes import integer, payload_text, put

SPAN_KIND = "traceloop.span.kind"
ENTITY_INPUT = "traceloop.entity.input"
ENTITY_OUTPUT = "traceloop.entity.output"
REQUEST_TYPE = "llm.request.type"
TOTAL_TOKENS = "llm.usage.total_tokens"
ASSOCIATION_PREFIX = "traceloop.association.properties."

_KIND_TYPES = {
    "workflow": sc.SpanType.CHAIN,
    "task": sc.SpanType.CHAIN,
    "agent": sc.SpanType.AGENT,
    "tool": sc.SpanType.TOOL,
}
_REQUEST_TYPES = {
    "chat": sc.SpanType.CHAT_MODEL,
    "completion": sc.SpanType.LLM,
    "embedding": sc.SpanType.EMBEDDING,
    "rerank": sc.SpanType.RERANKER,
}


def detect(attrs: dict[str, Any]) -> bool:
    """True when the span has Traceloop keys."""
    return (
        SPAN_KIND in attrs
        or REQUEST_TYPE in attrs
        or ENTITY_INPUT in attrs
        or ENTITY_OUTPUT in attrs
        or TOTAL_TOKENS in attrs
    )


def extract(attrs: dict[str, Any]) -> None:
    """Add llmtrace keys for a Traceloop span (keys already set are kept)."""
    kind = attrs.get(SPAN_KIND)
    request = attrs.get(REQUEST_TYPE)
    span_type = _KIND_TYPES.get(kind) if isinstance(kind, str) else None
    if span_type is None and isinstance(request, str):
        span_type = _REQUEST_TYPES.get(request)
    if span_type is not None:
        put(attrs, sc.SPAN_TYPE, span_type.value)
    put(attrs, sc.USAGE_TOTAL_TOKENS, integer(attrs.get(TOTAL_TOKENS)))
    put(attrs, sc.SPAN_INPUTS, payload_text(attrs.get(ENTITY_INPUT), is_json=True))
    put(attrs, sc.SPAN_OUTPUTS, payload_text(attrs.get(ENTITY_OUTPUT), is_json=True))
    for name, key in (("session_id", sc.TRACE_SESSION_ID), ("user_id", sc.TRACE_USER_ID)):
        value = attrs.get(ASSOCIATION_PREFIX + name)
        if value is not None:
            put(attrs, key, str(value))


__all__ = ["detect", "extract"]
