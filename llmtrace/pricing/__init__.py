"""Model prices and call costs: a versioned price table shipped as data, user-overridable.

Prices are USD per 1M tokens, per model, each with the date it took effect (`valid_from`), so
a call is costed at the price in force when it was made. A model without a price gives no cost
(None, never $0) and is listed by `unpriced_models()` and `llmtrace.stats()`.

User prices win over the shipped table: `set_price(...)` in code, or a JSON file shaped like
the shipped `prices.json` named by `LLMTRACE_PRICES` (read on first use) or `load_prices()`.

Example:
    >>> from llmtrace import pricing
    >>> pricing.set_price("llama3.1:8b", input=0, output=0)   # a local model: free
    >>> pricing.cost_of("gpt-4o-mini", pricing.Usage(input_tokens=1000, output_tokens=200)).total
    0.00027
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import date, datetime
from pathlib import Path

from llmtrace.pricing._table import (
    Cost,
    Price,
    PriceTable,
    Usage,
    compute_cost,
    load_price_file,
    make_price,
    shipped_prices,
)

logger = logging.getLogger("llmtrace")

PRICES_ENV = "LLMTRACE_PRICES"

_table: PriceTable | None = None
_lock = threading.Lock()


def price_table() -> PriceTable:
    """The process-wide table: shipped prices plus `$LLMTRACE_PRICES` plus `set_price` calls."""
    global _table
    table = _table
    if table is not None:
        return table
    with _lock:
        if _table is None:
            table = PriceTable(shipped_prices())
            _load_env_file(table)
            _table = table
        return _table


def _load_env_file(table: PriceTable) -> None:
    path = os.environ.get(PRICES_ENV)
    if not path:
        return
    try:
        for price in load_price_file(path):
            table.add(price)
    except Exception as exc:  # a bad price file must not break tracing: say why, go on
        logger.error("llmtrace ignored %s=%s: %s", PRICES_ENV, path, exc)


def set_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    cache_write: float | None = None,
    reasoning: float | None = None,
    valid_from: date | datetime | str | None = None,
) -> Price:
    """Set the price of `model` (USD per 1M tokens); it wins over the shipped table.

    Without `valid_from` the price applies to calls at any date. Several prices of one model
    with different `valid_from` dates form its history. Raises `ConfigError` on a negative or
    non-numeric price.

    Example:
        >>> llmtrace.pricing.set_price("my-azure-gpt4o", input=2.5, output=10, cached_input=1.25)
    """
    price = make_price(
        model,
        input=input,
        output=output,
        cached_input=cached_input,
        cache_write=cache_write,
        reasoning=reasoning,
        valid_from=valid_from,
    )
    price_table().add(price)
    return price


def load_prices(path: str | Path) -> list[Price]:
    """Add every price of a JSON file (the shipped `prices.json` format); returns them."""
    prices = load_price_file(path)
    table = price_table()
    for price in prices:
        table.add(price)
    return prices


def reset_prices() -> None:
    """Drop user prices (and the list of unpriced models); the shipped table stays."""
    global _table
    with _lock:
        _table = None


def get_price(model: str, at: date | datetime | None = None) -> Price | None:
    """The price of `model` in force at `at` (default today), or None if unknown."""
    return price_table().get(model, at)


def cost_of(model: str | None, usage: Usage, at: date | datetime | None = None) -> Cost | None:
    """The cost of `usage` on `model` at `at`, or None when the model has no price."""
    return price_table().cost(model, usage, at)


def unpriced_models() -> dict[str, int]:
    """Models called in this process that have no price, with their number of calls."""
    table = _table
    return {} if table is None else table.unpriced()


def list_prices() -> list[Price]:
    """Every price of the table (user prices replace the shipped ones of their model)."""
    return price_table().prices()


__all__ = [
    "Cost",
    "Price",
    "PriceTable",
    "Usage",
    "compute_cost",
    "cost_of",
    "get_price",
    "list_prices",
    "load_prices",
    "price_table",
    "reset_prices",
    "set_price",
    "unpriced_models",
]
