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
# Subsets of the input/output counts (the OpenAI convention: input includes cached tokens,
# output includes reasoning tokens).
USAGE_CACHED_INPUT_TOKENS = "llmtrace.usage.cached_input_tokens"
USAGE_CACHE_WRITE_TOKENS = "llmtrace.usage.cache_write_tokens"
USAGE_REASONING_TOKENS = "llmtrace.usage.reasoning_tokens"
# False on a span whose usage is already counted by a nested span (e.g. a framework span around
# a provider call): the trace rollup then skips it so tokens and cost are not counted twice.
USAGE_AGGREGATE = "llmtrace.usage.aggregate"
# True on a span whose parent belongs to another tracer provider (not stored by llmtrace): the
# span is then the root of what the store sees.
SPAN_FOREIGN_PARENT = "llmtrace.span.foreign_parent"
COST_TOTAL = "llmtrace.cost.total"  # USD, float
COST_INPUT = "llmtrace.cost.input"
COST_OUTPUT = "llmtrace.cost.output"
# The price-table entry used (model key and its valid_from date), for auditing a cost.
COST_PRICE_KEY = "llmtrace.cost.price"

# Model-call details that have no GenAI key.
LLM_STREAMING = "llmtrace.llm.streaming"  # bool
LLM_TIME_TO_FIRST_TOKEN_MS = "llmtrace.llm.time_to_first_token_ms"  # float
LLM_INVOCATION_PARAMETERS = "llmtrace.llm.invocation_parameters"  # JSON text
# HTTP attempts behind one model call: 1 + the client's own retries (OpenAI integration).
LLM_ATTEMPTS = "llmtrace.llm.attempts"  # int
# How a streamed call ended: "completed" (read to the end), "closed" (closed before the end),
# "abandoned" (garbage-collected unfinished; the span ends at the last chunk seen) or "error".
LLM_STREAM_END = "llmtrace.llm.stream.end"
# Retrieved documents: JSON list of {"id", "score", "content", "metadata"}.
RETRIEVAL_DOCUMENTS = "llmtrace.retrieval.documents"
RETRIEVAL_QUERY = "llmtrace.retrieval.query"
# Which integration made the span ("openai", "langchain", "llama_index").
SPAN_INTEGRATION = "llmtrace.span.integration"
# LangChain run details (llmtrace.integrations.langchain): LangChain's run id and run type,
# the run config's tags (list of strings) and metadata (JSON text).
LANGCHAIN_RUN_ID = "llmtrace.langchain.run_id"
LANGCHAIN_RUN_TYPE = "llmtrace.langchain.run_type"
LANGCHAIN_TAGS = "llmtrace.langchain.tags"
LANGCHAIN_METADATA = "llmtrace.langchain.metadata"

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
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"  # JSON text
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"  # JSON text
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"  # JSON text
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"  # JSON text
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
GEN_AI_DATA_SOURCE_ID = "gen_ai.data_source.id"

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
ERROR_TYPE = "error.type"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"

__all__ = [name for name in dir() if name.isupper()] + ["SpanStatus", "SpanType"]
