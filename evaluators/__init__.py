"""llmtrace's evaluation engine: score datasets and pipelines, store results as runs.

Example:
    >>> from evaluators import evaluate
    >>> from evaluators.scorers import ExactMatch
    >>> result = evaluate(rows, predict=answer, scorers=[ExactMatch()], experiment="qa")
    >>> result.metrics, result.passed, result.run_id
"""

from __future__ import annotations

from evaluators._aggregate import Aggregate, bootstrap_ci
from evaluators._compare import Comparison, MetricComparison, compare, compare_frames
from evaluators._data import DataError
from evaluators._evaluate import aevaluate, evaluate
from evaluators._results import EvaluationResult, RowResult, load_results, load_table
from evaluators._runner import EvaluationContext
from evaluators._types import Row, Score, Scorer, ScoreValue, as_text
from evaluators.scorers import scorer

__all__ = [
    "Aggregate",
    "Comparison",
    "DataError",
    "EvaluationContext",
    "EvaluationResult",
    "MetricComparison",
    "Row",
    "RowResult",
    "Score",
    "ScoreValue",
    "Scorer",
    "aevaluate",
    "as_text",
    "bootstrap_ci",
    "compare",
    "compare_frames",
    "evaluate",
    "load_results",
    "load_table",
    "scorer",
]
