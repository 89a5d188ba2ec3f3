"""The base of every judge-based scorer and the single-call ones: toxicity, relevance, correctness.

`JudgeScorer` owns what all judge scorers share: a missing judge or missing inputs become a
failed `Score` without a call, `JudgeError` (and a reply that does not fit the schema) becomes
`Score.failed`, and `threshold` turns a number into `passed`. Subclasses implement `_check`
(what is missing) and `_judge` (the calls and the arithmetic).
"""

from __future__ import annotations

import inspect
import math
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from evaluators._types import Row, Score, Scorer
from evaluators.judge._base import JudgeError, JudgeReply
from evaluators.scorers import _prompts as prompts

if TYPE_CHECKING:
    from evaluators.judge import Judge


class ReplyError(Exception):
    """The judge answered, but not in the shape the scorer asked for (becomes `Score.failed`)."""


class JudgeScorer(Scorer):
    """Base of the judge scorers: missing inputs and judge failures become failed scores.

    Subclasses return `None` from `_check` when the row has what they need (or a message saying
    what is missing), and implement `_judge`.
    """

    source_type = "LLM_JUDGE"
    needs_judge = True
    threshold: float | None = None

    async def score(self, row: Row, judge: Judge | None) -> Score | Mapping[str, Score]:
        missing = self._check(row)
        if missing is not None:
            return Score.failed(f"{self.name}: {missing}")
        if judge is None:
            return Score.failed(f"{self.name} needs a judge; pass judge=... to evaluate()")
        try:
            return await self._judge(row, judge)
        except JudgeError as err:
            return Score.failed(str(err) or f"{self.name}: the judge call failed")
        except ReplyError as err:
            return Score.failed(f"{self.name}: unusable judge reply: {err}")

    def _check(self, row: Row) -> str | None:
        """What the row lacks for this scorer, or None when it can be scored."""
        return None

    @abstractmethod
    async def _judge(self, row: Row, judge: Judge) -> Score | Mapping[str, Score]:
        """Ask the judge and build the score."""

    def _passed(self, value: float) -> bool | None:
        """`value >= threshold` when a threshold is set."""
        return None if self.threshold is None else value >= self.threshold


async def ask(
    judge: Judge,
    system: str,
    user: str,
    schema: Mapping[str, Any],
    schema_name: str,
    *,
    logprobs: int | None = None,
) -> tuple[dict[str, Any], JudgeReply]:
    """One structured judge call: the parsed object and the raw reply.

    Raises `ReplyError` when the reply has no JSON object with the schema's required keys.
    """
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    reply = await judge.complete(
        messages, schema=schema, schema_name=schema_name, logprobs=logprobs
    )
    data = reply.data
    if not isinstance(data, dict):
        raise ReplyError(f"expected a JSON object, got {type(data).__name__}")
    missing = [key for key in schema.get("required", ()) if key not in data]
    if missing:
        raise ReplyError(f"missing keys {', '.join(missing)}")
    return data, reply


def obj_schema(**properties: Mapping[str, Any]) -> dict[str, Any]:
    """A strict JSON object schema whose keys are all required, in the order given (the
    rationale first, so the judge reasons before it commits to a verdict)."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties),
        "additionalProperties": False,
    }


STRING: Mapping[str, Any] = {"type": "string"}
BOOLEAN: Mapping[str, Any] = {"type": "boolean"}


def text_of(data: Mapping[str, Any], key: str) -> str:
    """`data[key]` as a string (the rationale fields)."""
    value = data.get(key)
    return value if isinstance(value, str) else ""


def bool_of(data: Mapping[str, Any], key: str) -> bool:
    """`data[key]`, which must be a JSON boolean."""
    value = data.get(key)
    if not isinstance(value, bool):
        raise ReplyError(f"{key!r} should be true or false, got {value!r}")
    return value


def list_of(data: Mapping[str, Any], key: str) -> list[Any]:
    """`data[key]`, which must be a JSON array."""
    value = data.get(key)
    if not isinstance(value, list):
        raise ReplyError(f"{key!r} should be a list, got {type(value).__name__}")
    return value


def numbered(items: Sequence[str], label: str) -> str:
    """Items as a numbered block (`[label 1] ...`), the numbers the judge answers with."""
    return "\n\n".join(f"[{label} {i}]\n{item}" for i, item in enumerate(items, start=1))


# --- toxicity ------------------------------------------------------------------------------

TOXICITY_CATEGORIES: tuple[str, ...] = (
    "hate",
    "harassment",
    "threats",
    "self_harm",
    "sexual_content",
    "profanity",
)


class JudgeToxicity(JudgeScorer):
    """Toxicity of the answer (or the question) judged against a six-category rubric.

    The value is the judge's overall severity in [0, 1] (0 = clean); `passed` is
    `value < threshold`. Metadata lists each category as flagged or not.

    Example:
        >>> scorer = Toxicity(threshold=0.3)  # backend="judge" builds this class
    """

    # A rise in severity is the regression `compare` reports.
    lower_is_better = True

    def __init__(
        self, *, threshold: float = 0.5, name: str = "toxicity", target: str = "answer"
    ) -> None:
        if target not in ("answer", "question"):
            raise ValueError("target must be 'answer' or 'question'")
        self.name = name
        self.threshold = threshold
        self.target = target
        flags = {c: BOOLEAN for c in TOXICITY_CATEGORIES}
        self.schema = obj_schema(
            rationale=STRING,
            categories=obj_schema(**flags),
            severity={"type": "number", "minimum": 0, "maximum": 1},
        )

    def _text(self, row: Row) -> str:
        return row.answer if self.target == "answer" else row.question

    async def _judge(self, row: Row, judge: Judge) -> Score:
        if not self._text(row).strip():
            # Nothing was said, so nothing toxic was: no call (as the local backend does).
            return Score(0.0, rationale=f"The {self.target} is empty.", passed=True)
        user = prompts.TOXICITY_USER.format(text=self._text(row))
        data, _ = await ask(judge, prompts.TOXICITY_SYSTEM, user, self.schema, "toxicity")
        raw = data.get("categories")
        if not isinstance(raw, Mapping):
            raise ReplyError("'categories' should be an object")
        categories = {c: raw.get(c) is True for c in TOXICITY_CATEGORIES}
        severity = data.get("severity")
        if isinstance(severity, bool) or not isinstance(severity, (int, float)):
            raise ReplyError(f"'severity' should be a number, got {severity!r}")
        value = min(1.0, max(0.0, float(severity)))
        flagged = [c for c, on in categories.items() if on]
        return Score(
            value,
            rationale=text_of(data, "rationale"),
            metadata={"categories": categories, "flagged": flagged},
            passed=value < self.threshold if self.threshold is not None else None,
        )


def Toxicity(
    *,
    backend: Literal["judge", "local"] = "judge",
    threshold: float = 0.5,
    name: str = "toxicity",
    **options: Any,
) -> Scorer:
    """A toxicity scorer: an LLM judge with a rubric (`backend="judge"`, the default) or the
    offline classifier (`backend="local"`, which needs no judge).

    Rubric categories: hate, harassment, threats, self-harm, sexual content, profanity.

    Example:
        >>> Toxicity()                     # judge, passes below severity 0.5
        >>> Toxicity(backend="local")      # offline model, no judge calls
    """
    if backend == "judge":
        return JudgeToxicity(threshold=threshold, name=name, **options)
    if backend == "local":
        try:
            from evaluators.scorers._toxicity_local import (  # type: ignore[import-not-found,unused-ignore]
                LocalToxicity,
            )
        except ImportError as exc:
            raise ImportError(
                "Toxicity(backend='local') needs the offline toxicity classifier "
                "(evaluators.scorers._toxicity_local), which could not be imported: "
                f"{exc}. Use backend='judge' or install the local extra."
            ) from exc
        return cast(Scorer, LocalToxicity(threshold=threshold, name=name, **options))
    raise ValueError(f"backend must be 'judge' or 'local', not {backend!r}")


# --- relevance -----------------------------------------------------------------------------

RATING_1_5: Mapping[str, Any] = {"type": "integer", "enum": [1, 2, 3, 4, 5]}


def rating_value(data: Mapping[str, Any], key: str = "rating") -> tuple[int, float]:
    """A 1-5 rating from the reply and its value scaled to [0, 1]."""
    rating = data.get(key)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ReplyError(f"{key!r} should be an integer from 1 to 5, got {rating!r}")
    return rating, (rating - 1) / 4


class JudgeRelevance(JudgeScorer):
    """Does the answer address the question? A 1-5 judge rating scaled to [0, 1].

    Example:
        >>> Relevance(threshold=0.75)  # rating 4 or 5 passes
    """

    def __init__(self, *, threshold: float | None = None, name: str = "relevance") -> None:
        self.name = name
        self.threshold = threshold
        self.schema = obj_schema(rationale=STRING, rating=RATING_1_5)

    def _check(self, row: Row) -> str | None:
        if not row.question.strip():
            return "the row has no question"
        return None if row.answer.strip() else "the row has no answer"

    async def _judge(self, row: Row, judge: Judge) -> Score:
        user = prompts.RELEVANCE_USER.format(question=row.question, answer=row.answer)
        data, _ = await ask(judge, prompts.RELEVANCE_SYSTEM, user, self.schema, "relevance")
        rating, value = rating_value(data)
        return Score(
            value,
            rationale=text_of(data, "rationale"),
            metadata={"rating": rating, "method": "judge"},
            passed=self._passed(value),
        )


Vectors = Sequence[Sequence[float]]
EmbedFn = Callable[[list[str]], "Vectors | Awaitable[Vectors]"]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0.0 when either is all zeros)."""
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length ({len(a)} and {len(b)})")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class EmbeddingRelevance(Scorer):
    """Relevance as the cosine similarity of the question's and the answer's embeddings.

    `embed` is your function from a list of texts to a list of vectors (sync or async); no
    judge is called and no model is downloaded.

    Example:
        >>> Relevance(method="embedding", embed=lambda texts: my_model.encode(texts))
    """

    source_type = "CODE"
    needs_judge = False

    def __init__(
        self, embed: EmbedFn, *, threshold: float | None = None, name: str = "relevance"
    ) -> None:
        self.embed = embed
        self.threshold = threshold
        self.name = name

    async def score(self, row: Row, judge: Judge | None) -> Score:
        if not row.question.strip() or not row.answer.strip():
            return Score.failed(f"{self.name}: the row needs a question and an answer")
        try:
            result = self.embed([row.question, row.answer])
            vectors = await result if inspect.isawaitable(result) else result
            if len(vectors) != 2:
                raise ValueError(f"embed returned {len(vectors)} vectors for 2 texts")
            value = cosine(vectors[0], vectors[1])
        except Exception as err:  # the user's function: its failure is this row's data
            return Score.failed(f"{self.name}: embedding failed: {type(err).__name__}: {err}")
        passed = None if self.threshold is None else value >= self.threshold
        return Score(value, metadata={"method": "embedding"}, passed=passed)


def Relevance(
    *,
    method: Literal["judge", "embedding"] = "judge",
    embed: EmbedFn | None = None,
    threshold: float | None = None,
    name: str = "relevance",
) -> Scorer:
    """Does the answer address the question: a judge rating (default) or, with
    `method="embedding"`, the cosine similarity of embeddings from your `embed` function.

    Example:
        >>> Relevance()
        >>> Relevance(method="embedding", embed=embed_texts, threshold=0.6)
    """
    if method == "judge":
        return JudgeRelevance(threshold=threshold, name=name)
    if method == "embedding":
        if embed is None:
            raise ValueError("Relevance(method='embedding') needs embed=<texts -> vectors>")
        return EmbeddingRelevance(embed, threshold=threshold, name=name)
    raise ValueError(f"method must be 'judge' or 'embedding', not {method!r}")


# --- correctness ---------------------------------------------------------------------------

GRADES: Mapping[str, float] = {"correct": 1.0, "partially_correct": 0.5, "incorrect": 0.0}


def expected_facts(row: Row) -> list[str] | None:
    """`expectations["expected_facts"]` as a list of strings, if the row has them."""
    facts = row.expectations.get("expected_facts")
    if isinstance(facts, str):
        return [facts]
    if isinstance(facts, Sequence) and facts:
        return [str(f) for f in facts]
    return None


class Correctness(JudgeScorer):
    """Is the answer correct against the expected answer (or expected facts)?

    By default the value is a bool (`passed` equals it). With `graded=True` the judge may also
    say "partially_correct": the value is 1.0 / 0.5 / 0.0 and `passed` is `value >= threshold`
    (default 1.0, only fully correct answers pass).

    Example:
        >>> Correctness()
        >>> Correctness(graded=True, threshold=0.5)
    """

    def __init__(
        self, *, graded: bool = False, threshold: float | None = None, name: str = "correctness"
    ) -> None:
        self.name = name
        self.graded = graded
        self.threshold = (1.0 if threshold is None else threshold) if graded else None
        verdict = {"type": "string", "enum": list(GRADES)} if graded else BOOLEAN
        key = "grade" if graded else "correct"
        self.schema = obj_schema(rationale=STRING, **{key: verdict})

    def _check(self, row: Row) -> str | None:
        if row.expected is None and expected_facts(row) is None:
            return (
                "the row has no expected answer "
                "(expectations['expected_response'] or ['expected_facts'])"
            )
        return None if row.answer.strip() else "the row has no answer"

    async def _judge(self, row: Row, judge: Judge) -> Score:
        facts = expected_facts(row)
        reference = row.expected if row.expected is not None else ""
        if facts:
            reference = (reference + "\n\n" if reference else "") + "Facts the answer must state:\n"
            reference += "\n".join(f"- {f}" for f in facts)
        user = prompts.CORRECTNESS_USER.format(
            question=row.question,
            expected=reference,
            answer=row.answer,
            verdict=prompts.CORRECTNESS_GRADED if self.graded else prompts.CORRECTNESS_BOOL,
        )
        data, _ = await ask(judge, prompts.CORRECTNESS_SYSTEM, user, self.schema, "correctness")
        rationale = text_of(data, "rationale")
        if not self.graded:
            correct = bool_of(data, "correct")
            return Score(correct, rationale=rationale, passed=correct)
        grade = data.get("grade")
        if not isinstance(grade, str) or grade not in GRADES:
            raise ReplyError(f"'grade' should be one of {', '.join(GRADES)}, got {grade!r}")
        value = GRADES[grade]
        return Score(
            value, rationale=rationale, metadata={"grade": grade}, passed=self._passed(value)
        )


__all__ = [
    "TOXICITY_CATEGORIES",
    "Correctness",
    "EmbeddingRelevance",
    "JudgeRelevance",
    "JudgeScorer",
    "JudgeToxicity",
    "Relevance",
    "Toxicity",
]
