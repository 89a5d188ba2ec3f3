"""Scorers: code checks (`ExactMatch`, `Regex`, `JsonValid`, `JsonSchema`, `Length`,
`Latency`, `Tokens`, `Cost`, `PII`) and `@scorer` for any function."""

from __future__ import annotations

from evaluators.scorers._code import (
    PII,
    Cost,
    ExactMatch,
    JsonSchema,
    JsonValid,
    Latency,
    Length,
    Regex,
    Tokens,
    find_pii,
)
from evaluators.scorers._function import FunctionScorer, scorer
from evaluators.scorers._toxicity_local import LocalToxicity

__all__ = [
    "PII",
    "Cost",
    "ExactMatch",
    "FunctionScorer",
    "JsonSchema",
    "JsonValid",
    "Latency",
    "Length",
    "LocalToxicity",
    "Regex",
    "Tokens",
    "find_pii",
    "scorer",
]
