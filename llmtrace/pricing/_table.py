"""The versioned price table: entries per model with `valid_from` dates, lookups and cost."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from llmtrace.exceptions import ConfigError

_PER_TOKEN = 1e-6  # prices are per 1M tokens
_UNRESOLVED: Any = object()

# Suffixes that name a snapshot or deployment of a model rather than a different model:
# dates (-2024-08-06, -20241022, @20240229), short OpenAI snapshots (-0613), "-latest" and
# Bedrock version tags (-v1:0). A lookup that misses retries without them.
_SNAPSHOT_SUFFIX = re.compile(
    r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-\d{4}|-latest|-v\d+(?::\d+)?)$", re.IGNORECASE
)


_VENDOR_PREFIXES = frozenset(
    {"anthropic", "meta", "mistral", "amazon", "cohere", "ai21", "us", "eu", "apac", "global"}
)


@dataclass(frozen=True)
class Usage:
    """Token counts of one model call.

    `input_tokens` includes cached and cache-write tokens, `output_tokens` includes reasoning
    tokens (OpenAI's and LangChain's convention). Unknown counts are None.

    Example:
        >>> Usage(input_tokens=1200, output_tokens=300, cached_input_tokens=1000)
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when no count is known."""
        return (
            self.input_tokens is None and self.output_tokens is None and (self.total_tokens is None)
        )


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens from `valid_from` on. Missing sub-prices fall back: cached input and
    cache writes to `input`, reasoning to `output`."""

    model: str
    valid_from: date
    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    provider: str | None = None

    @property
    def key(self) -> str:
        """`model@valid_from`, recorded on priced spans."""
        return f"{self.model}@{self.valid_from.isoformat()}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the shape of one `prices.json` entry, flattened)."""
        return {
            "model": self.model,
            "provider": self.provider,
            "valid_from": self.valid_from.isoformat(),
            "input": self.input,
            "output": self.output,
            "cached_input": self.cached_input,
            "cache_write": self.cache_write,
            "reasoning": self.reasoning,
        }


@dataclass(frozen=True)
class Cost:
    """The cost of one call in USD, split into input and output, with the price used."""

    total: float
    input: float
    output: float
    price: Price


def compute_cost(price: Price, usage: Usage) -> Cost:
    """Apply `price` to `usage`; counts clamp at zero so inconsistent usage never goes negative."""
    inp = max(usage.input_tokens or 0, 0)
    out = max(usage.output_tokens or 0, 0)
    if usage.input_tokens is None and usage.output_tokens is None and usage.total_tokens:
        inp = usage.total_tokens  # embeddings often report only a total
    cached = min(max(usage.cached_input_tokens or 0, 0), inp)
    written = min(max(usage.cache_write_tokens or 0, 0), inp - cached)
    reasoning = min(max(usage.reasoning_tokens or 0, 0), out)
    input_cost = (
        (inp - cached - written) * price.input
        + cached * (price.cached_input if price.cached_input is not None else price.input)
        + written * (price.cache_write if price.cache_write is not None else price.input)
    ) * _PER_TOKEN
    output_cost = (
        (out - reasoning) * price.output
        + reasoning * (price.reasoning if price.reasoning is not None else price.output)
    ) * _PER_TOKEN
    # Rounded to 1e-12 USD so that sums of list prices print as the numbers people expect.
    return Cost(
        round(input_cost + output_cost, 12), round(input_cost, 12), round(output_cost, 12), price
    )


def _as_date(value: date | datetime | str | None) -> date:
    if value is None:
        return date.min
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ConfigError(f"valid_from must be an ISO date (YYYY-MM-DD), got {value!r}") from exc


def _price_number(model: str, field: str, value: Any, required: bool) -> float | None:
    if value is None:
        if required:
            raise ConfigError(f"price of {model!r} needs {field!r} (USD per 1M tokens)")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"price {field!r} of {model!r} must be a number, got {value!r}")
    if value < 0:
        raise ConfigError(f"price {field!r} of {model!r} must not be negative, got {value!r}")
    return float(value)


def make_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    cache_write: float | None = None,
    reasoning: float | None = None,
    valid_from: date | datetime | str | None = None,
    provider: str | None = None,
) -> Price:
    """A validated `Price` (ConfigError on a missing, negative or non-numeric price)."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"a price needs a model name, got {model!r}")
    return Price(
        model=model.strip(),
        valid_from=_as_date(valid_from),
        input=_price_number(model, "input", input, True) or 0.0,
        output=_price_number(model, "output", output, True) or 0.0,
        cached_input=_price_number(model, "cached_input", cached_input, False),
        cache_write=_price_number(model, "cache_write", cache_write, False),
        reasoning=_price_number(model, "reasoning", reasoning, False),
        provider=provider,
    )


def parse_price_document(doc: Any, source: str) -> list[Price]:
    """Prices of a document shaped like the shipped `prices.json`."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("models"), list):
        raise ConfigError(f"{source}: expected an object with a 'models' list")
    prices: list[Price] = []
    for i, entry in enumerate(doc["models"]):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("prices"), list):
            raise ConfigError(f"{source}: models[{i}] needs 'model' and a 'prices' list")
        for j, item in enumerate(entry["prices"]):
            if not isinstance(item, Mapping):
                raise ConfigError(f"{source}: models[{i}].prices[{j}] must be an object")
            unknown = set(item) - {
                "valid_from", "input", "output", "cached_input", "cache_write", "reasoning"
            }  # fmt: skip
            if unknown:
                raise ConfigError(
                    f"{source}: models[{i}].prices[{j}] has unknown keys {sorted(unknown)}"
                )
            prices.append(
                make_price(
                    str(entry.get("model", "")),
                    provider=entry.get("provider"),
                    input=item.get("input"),  # type: ignore[arg-type]  # validated inside
                    output=item.get("output"),  # type: ignore[arg-type]
                    cached_input=item.get("cached_input"),
                    cache_write=item.get("cache_write"),
                    reasoning=item.get("reasoning"),
                    valid_from=item.get("valid_from"),
                )
            )
    return prices


class PriceTable:
    """Prices by model, each a list sorted by `valid_from`; user overrides win over the
    shipped table for the models they name. Thread-safe."""

    def __init__(self, shipped: Iterable[Price] = ()) -> None:
        self._lock = threading.Lock()
        self._shipped = self._index(shipped)
        self._overrides: dict[str, list[Price]] = {}
        self._cache: dict[str, list[Price] | None] = {}
        self._unpriced: Counter[str] = Counter()

    @staticmethod
    def _index(prices: Iterable[Price]) -> dict[str, list[Price]]:
        table: dict[str, list[Price]] = {}
        for price in prices:
            table.setdefault(price.model.lower(), []).append(price)
        for entries in table.values():
            entries.sort(key=lambda p: p.valid_from)
        return table

    def add(self, price: Price) -> None:
        """Add a user price (replacing one of the same model and `valid_from`)."""
        with self._lock:
            entries = self._overrides.setdefault(price.model.lower(), [])
            entries[:] = [p for p in entries if p.valid_from != price.valid_from]
            entries.append(price)
            entries.sort(key=lambda p: p.valid_from)
            self._cache.clear()
            self._unpriced.pop(price.model, None)

    def reset_overrides(self) -> None:
        """Forget user prices and the record of unpriced models."""
        with self._lock:
            self._overrides.clear()
            self._cache.clear()
            self._unpriced.clear()

    def _entries(self, model: str) -> list[Price] | None:
        name = model.strip().lower()
        if name in self._cache:
            return self._cache[name]
        found = None
        if not name.startswith("ft:"):  # fine-tuned models have their own prices
            for candidate in _candidates(name):
                found = self._overrides.get(candidate) or self._shipped.get(candidate)
                if found:
                    break
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[name] = found
        return found

    def get(self, model: str, at: date | datetime | None = None) -> Price | None:
        """The price of `model` in force at `at` (default: today), or None if unknown.

        Before the first `valid_from` the earliest price applies (clock skew, early access).
        """
        entries: list[Price] | None = self._cache.get(model.strip().lower(), _UNRESOLVED)
        if entries is _UNRESOLVED:  # not resolved yet: resolve under the lock
            with self._lock:
                entries = self._entries(model)
        if not entries:
            return None
        day = _as_date(at) if at is not None else datetime.now(timezone.utc).date()
        chosen: Price = entries[0]
        for price in entries:
            if price.valid_from <= day:
                chosen = price
        return chosen

    def cost(
        self, model: str | None, usage: Usage, at: date | datetime | None = None
    ) -> Cost | None:
        """Cost of `usage` on `model`; None (and the model noted as unpriced) if no price."""
        if not model or usage.is_empty:
            return None
        price = self.get(model, at)
        if price is None:
            with self._lock:
                self._unpriced[model] += 1
            return None
        return compute_cost(price, usage)

    def unpriced(self) -> dict[str, int]:
        """Models seen without a price in this process, with how many calls each."""
        with self._lock:
            return dict(self._unpriced.most_common())

    def prices(self) -> list[Price]:
        """Every price in force in the table (overrides replace shipped models), by model."""
        with self._lock:
            merged = {**self._shipped, **self._overrides}
        return [p for key in sorted(merged) for p in merged[key]]


def _candidates(name: str) -> Iterable[str]:
    """`name`, then without a provider prefix, then without snapshot suffixes."""
    seen: list[str] = []
    forms = [name]
    if "/" in name:
        forms.append(name.rsplit("/", 1)[1])
    head, _, tail = forms[-1].partition(".")
    if tail and head in _VENDOR_PREFIXES:  # Bedrock ids: "anthropic.claude-...", "us.meta..."
        head2, _, tail2 = tail.partition(".")
        forms.append(tail2 if tail2 and head2 in _VENDOR_PREFIXES else tail)
    for form in forms:
        current = form
        while current and current not in seen:
            seen.append(current)
            yield current
            stripped = _SNAPSHOT_SUFFIX.sub("", current)
            if stripped == current:
                break
            current = stripped


def load_price_file(path: str | Path) -> list[Price]:
    """Prices from a JSON file shaped like the shipped table."""
    file = Path(path).expanduser()
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"price file not found: {file}") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read price file {file}: {exc}") from exc
    return parse_price_document(doc, str(file))


def shipped_prices() -> list[Price]:
    """The table shipped with llmtrace (`llmtrace/pricing/prices.json`)."""
    text = resources.files("llmtrace.pricing").joinpath("prices.json").read_text("utf-8")
    return parse_price_document(json.loads(text), "llmtrace/pricing/prices.json")


__all__ = [
    "Cost",
    "Price",
    "PriceTable",
    "Usage",
    "compute_cost",
    "load_price_file",
    "make_price",
    "parse_price_document",
    "shipped_prices",
]
