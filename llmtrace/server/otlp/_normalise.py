"""One stored form for every convention: span type, model, tokens, inputs, outputs, documents.

`normalise(attrs, events, start_ns)` adds llmtrace's own keys (`llmtrace.span.type`,
`llmtrace.span.model`, `llmtrace.usage.*`, `llmtrace.span.inputs`/`outputs` as JSON text,
`llmtrace.retrieval.documents`, `llmtrace.cost.*`) to a span's attributes, which the store turns
into columns. The raw attributes stay as they came. Conventions are recognised by their keys and
applied in order: OpenInference, Traceloop, then GenAI (both generations); a key set by the span
itself or by an earlier mapper is never overwritten. Spans made by llmtrace (they carry
`llmtrace.span.type`) are left alone.

Foreign spans with a model and token counts but no cost are priced with `llmtrace.pricing`, at
the price in force on the span's start day, so cost rollups work for any OpenTelemetry app.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from llmtrace import pricing
from llmtrace import semconv as sc
from llmtrace.server.otlp import _genai, _openinference, _traceloop
from llmtrace.server.otlp._shapes import integer

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NS_PER_DAY = 86_400 * 1_000_000_000


def normalise(attrs: dict[str, Any], events: list[dict[str, Any]], start_ns: int) -> None:
    """Add llmtrace keys to `attrs` in place (see the module docstring).

    Example:
        >>> attrs = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
        ...          "llm.token_count.prompt": 10, "llm.token_count.completion": 2}
        >>> normalise(attrs, [], 1_700_000_000_000_000_000)
        >>> attrs["llmtrace.usage.input_tokens"], attrs["llmtrace.span.model"]
        (10, 'gpt-4o-mini')
    """
    if sc.SPAN_TYPE in attrs:
        return
    if _openinference.detect(attrs):
        _openinference.extract(attrs)
    if _traceloop.detect(attrs):
        _traceloop.extract(attrs)
    if _genai.detect(attrs, events):
        _genai.extract(attrs, events)
    if sc.COST_TOTAL not in attrs:
        price(attrs, start_ns)


def price(attrs: dict[str, Any], start_ns: int) -> None:
    """Set `llmtrace.cost.*` from the model and token counts, when the model has a price."""
    model = attrs.get(sc.SPAN_MODEL)
    if not isinstance(model, str):
        return
    get = attrs.get
    usage = pricing.Usage(
        input_tokens=_count(get(sc.USAGE_INPUT_TOKENS)),
        output_tokens=_count(get(sc.USAGE_OUTPUT_TOKENS)),
        total_tokens=_count(get(sc.USAGE_TOTAL_TOKENS)),
        cached_input_tokens=_count(get(sc.USAGE_CACHED_INPUT_TOKENS)),
        cache_write_tokens=_count(get(sc.USAGE_CACHE_WRITE_TOKENS)),
        reasoning_tokens=_count(get(sc.USAGE_REASONING_TOKENS)),
    )
    if usage.is_empty:
        return
    day = date.fromordinal(_EPOCH_ORDINAL + start_ns // _NS_PER_DAY)
    cost = pricing.cost_of(model, usage, day)
    if cost is None:
        return
    attrs[sc.COST_TOTAL] = cost.total
    attrs[sc.COST_INPUT] = cost.input
    attrs[sc.COST_OUTPUT] = cost.output
    attrs[sc.COST_PRICE_KEY] = cost.price.key


def _count(value: Any) -> int | None:
    # Mapped counts are ints already; the span's own llmtrace keys may be anything.
    if value is None or type(value) is int:
        return value
    return integer(value)


__all__ = ["normalise", "price"]
