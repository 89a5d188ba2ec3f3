"""Scorers: judge scorers (`Toxicity`, `Relevance`, `Correctness`, `Faithfulness`, context
relevance/precision/recall, `LLMJudge`, `PairwiseJudge`), code checks (`ExactMatch`, `Regex`,
`JsonValid`, `JsonSchema`, `Length`, `Latency`, `Tokens`, `Cost`, `PII`), `LocalToxicity`
and `@scorer` for any function."""

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
from evaluators.scorers._judged import (
    TOXICITY_CATEGORIES,
    Correctness,
    EmbeddingRelevance,
    JudgeRelevance,
    JudgeScorer,
    JudgeToxicity,
    Relevance,
    Toxicity,
)
from evaluators.scorers._llm_judge import LLMJudge, PairwiseJudge
from evaluators.scorers._rag import (
    ContextPrecision,
    ContextRecall,
    ContextRelevance,
    Faithfulness,
    average_precision,
)
from evaluators.scorers._toxicity_local import LocalToxicity

__all__ = [
    "PII",
    "TOXICITY_CATEGORIES",
    "ContextPrecision",
    "ContextRecall",
    "ContextRelevance",
    "Correctness",
    "Cost",
    "EmbeddingRelevance",
    "ExactMatch",
    "Faithfulness",
    "FunctionScorer",
    "JsonSchema",
    "JsonValid",
    "JudgeRelevance",
    "JudgeScorer",
    "JudgeToxicity",
    "LLMJudge",
    "Latency",
    "Length",
    "LocalToxicity",
    "PairwiseJudge",
    "Regex",
    "Relevance",
    "Tokens",
    "Toxicity",
    "average_precision",
    "find_pii",
    "scorer",
]
