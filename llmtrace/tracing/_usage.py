"""Token usage and cost on spans, and the guard that keeps trace totals from counting a model
call twice.

A framework span around a provider call (a LangChain chat model calling the instrumented
OpenAI client) reports the same tokens as the provider span inside it. Model spans therefore
carry a `UsageCell` in their OpenTelemetry context: a nested model span that records usage
marks the enclosing cell, and the enclosing span then stores its own counts with
`llmtrace.usage.aggregate = false`, which the store's trace rollup skips.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from llmtrace import pricing
from llmtrace import semconv as sc
from llmtrace.pricing import Usage

logger = logging.getLogger("llmtrace")

_CELL_KEY = otel_context.create_key("llmtrace-usage-cell")


class UsageCell:
    """Shared between a model span and the spans nested in it while it is open."""

    __slots__ = ("counted", "counted_below")

    def __init__(self) -> None:
        self.counted = False  # this span recorded usage
        self.counted_below = False  # a nested model span's usage is in the trace total


def enclosing_cell(ctx: otel_context.Context | None = None) -> UsageCell | None:
    """The cell of the innermost open model span in `ctx` (default: the current context)."""
    value = otel_context.get_value(_CELL_KEY, ctx)
    return value if isinstance(value, UsageCell) else None


def with_cell(ctx: otel_context.Context, cell: UsageCell) -> otel_context.Context:
    """`ctx` with `cell` as the innermost model span's cell."""
    return otel_context.set_value(_CELL_KEY, cell, ctx)


def usage_attributes(usage: Usage) -> dict[str, int]:
    """llmtrace and GenAI token attributes of `usage` (unknown counts are left out)."""
    attrs: dict[str, int] = {}
    for value, keys in (
        (usage.input_tokens, (sc.USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_INPUT_TOKENS)),
        (usage.output_tokens, (sc.USAGE_OUTPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS)),
        (
            usage.cached_input_tokens,
            (sc.USAGE_CACHED_INPUT_TOKENS, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
        ),
        (
            usage.cache_write_tokens,
            (sc.USAGE_CACHE_WRITE_TOKENS, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        ),
        (usage.reasoning_tokens, (sc.USAGE_REASONING_TOKENS,)),
    ):
        if value is not None:
            for key in keys:
                attrs[key] = int(value)
    total = usage.total_tokens
    if total is None and usage.input_tokens is not None and usage.output_tokens is not None:
        total = usage.input_tokens + usage.output_tokens
    if total is not None:
        attrs[sc.USAGE_TOTAL_TOKENS] = int(total)
    return attrs


def set_usage_attributes(span: otel_trace.Span, usage: Usage) -> None:
    """Set the token attributes of `usage` on `span`."""
    span.set_attributes(usage_attributes(usage))


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NS_PER_DAY = 86_400 * 10**9


def day_of(start_time_ns: int) -> date:
    """The UTC day of a span start (nanoseconds since the epoch)."""
    return date.fromordinal(_EPOCH_ORDINAL + start_time_ns // _NS_PER_DAY)


def cost_attributes(cost: pricing.Cost) -> dict[str, Any]:
    """`llmtrace.cost.*` attributes of a cost."""
    return {
        sc.COST_TOTAL: cost.total,
        sc.COST_INPUT: cost.input,
        sc.COST_OUTPUT: cost.output,
        sc.COST_PRICE_KEY: cost.price.key,
    }


def set_cost_attributes(
    span: otel_trace.Span, model: str | None, usage: Usage, start_time_ns: int | None
) -> pricing.Cost | None:
    """Price `usage` on `model` on the (UTC) day of the span's start and set `llmtrace.cost.*`;
    None (no attributes) when the model has no price."""
    cost = pricing.cost_of(model, usage, day_of(start_time_ns) if start_time_ns else None)
    if cost is not None:
        span.set_attributes(cost_attributes(cost))
    return cost


def settle(
    span: otel_trace.Span, own_cell: UsageCell | None, parent_cell: UsageCell | None
) -> None:
    """At the end of a model span: exclude its usage from trace totals when a nested span's
    usage is already counted, and tell the enclosing model span that usage was counted."""
    if own_cell is None:
        return
    try:
        if own_cell.counted and own_cell.counted_below and span.is_recording():
            span.set_attribute(sc.USAGE_AGGREGATE, False)
        if parent_cell is not None and (own_cell.counted or own_cell.counted_below):
            parent_cell.counted_below = True
    except Exception:
        logger.debug("llmtrace could not settle usage", exc_info=True)


__all__ = [
    "UsageCell",
    "cost_attributes",
    "day_of",
    "enclosing_cell",
    "set_cost_attributes",
    "set_usage_attributes",
    "settle",
    "usage_attributes",
    "with_cell",
]
