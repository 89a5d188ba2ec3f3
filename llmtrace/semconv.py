"""Attribute keys and span types: llmtrace's own keys and the OpenTelemetry GenAI ones.

This module is a leaf: it imports only the standard library, so every layer (tracing, store,
server, integrations) can agree on names without importing each other.
"""

from __future__ import annotations

from enum import Enum


class SpanType(str, Enum):
    """What a span represents. Stored on every span as ``llmtrace.span.type``."""

    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    EMBEDDING = "EMBEDDING"
    RETRIEVER = "RETRIEVER"
    RERANKER = "RERANKER"
    TOOL = "TOOL"
    AGENT = "AGENT"
    CHAIN = "CHAIN"
    PARSER = "PARSER"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


class SpanStatus(str, Enum):
    """Span and trace status, as stored."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"

    def __str__(self) -> str:
        return self.value


# Span types that model calls use; they get GenAI attributes.
MODEL_SPAN_TYPES = frozenset({SpanType.LLM, SpanType.CHAT_MODEL, SpanType.EMBEDDING})

# --- llmtrace keys -------------------------------------------------------------------------
SPAN_TYPE = "llmtrace.span.type"
SPAN_INPUTS = "llmtrace.span.inputs"  # JSON text
SPAN_OUTPUTS = "llmtrace.span.outputs"  # JSON text
SPAN_MODEL = "llmtrace.span.model"
SPAN_PROVIDER = "llmtrace.span.provider"
USAGE_INPUT_TOKENS = "llmtrace.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "llmtrace.usage.output_tokens"
USAGE_TOTAL_TOKENS = "llmtrace.usage.total_tokens"
# False on a span whose usage is already counted by a nested span (e.g. a framework span around
# a provider call): the trace rollup then skips it so tokens and cost are not counted twice.
USAGE_AGGREGATE = "llmtrace.usage.aggregate"
# True on a span whose parent belongs to another tracer provider (not stored by llmtrace): the
# span is then the root of what the store sees.
SPAN_FOREIGN_PARENT = "llmtrace.span.foreign_parent"
COST_TOTAL = "llmtrace.cost.total"  # USD, float
COST_INPUT = "llmtrace.cost.input"
COST_OUTPUT = "llmtrace.cost.output"

TRACE_PROJECT = "llmtrace.project"
TRACE_SESSION_ID = "llmtrace.trace.session_id"
TRACE_USER_ID = "llmtrace.trace.user_id"
TRACE_RUN_ID = "llmtrace.trace.run_id"
# Tags and metadata travel as one attribute per key so they survive OTLP unchanged.
TRACE_TAG_PREFIX = "llmtrace.trace.tag."
TRACE_METADATA_PREFIX = "llmtrace.trace.metadata."

# Resource attribute naming the project when spans arrive from elsewhere.
RESOURCE_PROJECT = "llmtrace.project"

# --- OpenTelemetry GenAI semantic conventions --------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"  # older name of the provider key, still widely sent
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"

# GenAI operation names by span type (gen_ai.operation.name well-known values).
GEN_AI_OPERATION_BY_TYPE = {
    SpanType.LLM: "text_completion",
    SpanType.CHAT_MODEL: "chat",
    SpanType.EMBEDDING: "embeddings",
    SpanType.TOOL: "execute_tool",
    SpanType.AGENT: "invoke_agent",
}

# Other well-known attributes.
SESSION_ID = "session.id"
USER_ID = "user.id"

__all__ = [name for name in dir() if name.isupper()] + ["SpanStatus", "SpanType"]
