"""Aggregates of one score over the rows: mean, pass rate, percentile bootstrap CI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Percentile bootstrap confidence interval of the mean; None for no values.

    Deterministic: a fixed seed, so the same values give the same interval.

    Example:
        >>> bootstrap_ci([1.0, 0.0, 1.0, 1.0])
        (0.25, 1.0)
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return None
    if data.size == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Aggregate:
    """One score's summary: `mean` of numeric values, `pass_rate` over rows with a verdict
    (errors count as failures), the bootstrap CI of the mean, and counts."""

    mean: float | None
    pass_rate: float | None
    ci_low: float | None
    ci_high: float | None
    count: int
    errors: int

    def metrics(self, name: str) -> dict[str, float]:
        """As run metrics `<name>/mean`, `<name>/pass_rate`, ... (absent values left out)."""
        values = {
            "mean": self.mean,
            "pass_rate": self.pass_rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "count": float(self.count),
            "errors": float(self.errors),
        }
        return {f"{name}/{k}": v for k, v in values.items() if v is not None}


def aggregate(
    numbers: Sequence[float | None], verdicts: Sequence[bool | None], errors: int
) -> Aggregate:
    """Summarise one score: `numbers` (None for labels and errors) and `verdicts` (None when
    no pass/fail call was made) per row, `errors` the rows that failed to score."""
    scored = [n for n in numbers if n is not None]
    calls = [v for v in verdicts if v is not None]
    ci = bootstrap_ci(scored)
    return Aggregate(
        mean=float(np.mean(scored)) if scored else None,
        pass_rate=sum(calls) / len(calls) if calls else None,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
        count=len(numbers),
        errors=errors,
    )


__all__ = ["Aggregate", "aggregate", "bootstrap_ci"]
