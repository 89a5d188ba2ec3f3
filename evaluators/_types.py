"""The evaluation data model every part of the engine shares: `Row`, `Score`, `Scorer`.

A scorer gets one `Row` (what went in, what came out, what was expected, the retrieved context)
and returns a `Score` (or several, keyed by name). Failures are data: a scorer that cannot score
a row returns (or the engine records) a `Score` with `error` set, and the run goes on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from evaluators.judge import Judge

ScoreValue = float | int | bool | str | None


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one row.

    `value` is a number, a bool or a label; `passed` is the scorer's pass/fail call when it makes
    one (a bool value, or a number against the scorer's threshold); `error` is set, and `value`
    None, when the row could not be scored.

    Example:
        >>> Score(0.75, rationale="3 of 4 claims supported", passed=True)
    """

    value: ScoreValue
    rationale: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    passed: bool | None = None

    @classmethod
    def failed(cls, error: str, **metadata: Any) -> Score:
        """A score recording that the row could not be scored."""
        return cls(None, error=error, metadata=metadata)

    @property
    def ok(self) -> bool:
        """True when the row was scored (no error)."""
        return self.error is None

    def as_float(self) -> float | None:
        """The value as a number for aggregation: bools as 1.0/0.0, labels and errors as None."""
        value = self.value
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        return None


@dataclass
class Row:
    """One example under evaluation.

    - `inputs`: what the pipeline receives (a question string or a dict of arguments).
    - `outputs`: what it answered (filled by `predict`, the data, or the row's trace).
    - `expectations`: ground truth, e.g. `{"expected_response": "...", "expected_facts": [...]}`.
    - `context`: retrieved documents (strings) for RAG scorers.
    - `trace_id`, `latency_ms`, `input_tokens`, `output_tokens`, `cost`: from the row's trace.
    - `error`: why `predict` failed on this row (scorers are then skipped), else None.
    """

    index: int
    inputs: Any
    outputs: Any = None
    expectations: Mapping[str, Any] = field(default_factory=dict)
    context: list[str] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None

    @property
    def question(self) -> str:
        """`inputs` as text: the string itself, or a dict's question/query/input/prompt."""
        return as_text(self.inputs, keys=("question", "query", "input", "prompt", "messages"))

    @property
    def answer(self) -> str:
        """`outputs` as text: the string itself, or a dict's answer/response/output/text."""
        return as_text(self.outputs, keys=("answer", "response", "output", "text", "content"))

    @property
    def expected(self) -> str | None:
        """The expected answer, if the row has one."""
        for key in ("expected_response", "expected_answer", "expected", "answer"):
            value = self.expectations.get(key)
            if value is not None:
                return as_text(value)
        return None


def as_text(value: Any, keys: tuple[str, ...] = ()) -> str:
    """A value as text for prompts: strings as they are, a dict's first present key of `keys`,
    anything else as compact JSON."""
    import json

    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in keys:
            if key in value and value[key] is not None:
                return as_text(value[key])
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


class Scorer(ABC):
    """Base of every scorer. Subclasses set `name` and implement `score`.

    `source_type` is how the score is stored as an assessment ("CODE", "LLM_JUDGE", "HUMAN").
    `needs_judge` scorers get the evaluation's `Judge` (None otherwise). `threshold`, when set,
    makes a numeric value pass when it is `>= threshold` (unless the `Score` says `passed`).
    `lower_is_better` tells comparisons that a drop is an improvement (latency, cost).
    `score` may return one `Score` (stored under `name`) or a mapping of several (stored as
    `name/<key>`).
    """

    name: str = "scorer"
    threshold: float | None = None
    lower_is_better: ClassVar[bool] = False
    source_type: ClassVar[str] = "CODE"
    needs_judge: ClassVar[bool] = False

    @abstractmethod
    async def score(self, row: Row, judge: Judge | None) -> Score | Mapping[str, Score]:
        """Score one row. Raise or return `Score.failed(...)` when it cannot be scored."""

    def verdict(self, score: Score) -> bool | None:
        """Whether `score` passes: its own `passed`, else a number against `threshold`, else a
        bool value; None when the scorer makes no pass/fail call (labels, no threshold)."""
        if score.error is not None:
            return False
        if score.passed is not None:
            return score.passed
        if isinstance(score.value, bool):
            return score.value
        number = score.as_float()
        if self.threshold is not None and number is not None:
            return number >= self.threshold
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


__all__ = ["Row", "Score", "ScoreValue", "Scorer", "as_text"]
