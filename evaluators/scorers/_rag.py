"""RAG scorers: faithfulness of the answer to the context, and the quality of the retrieval
(context relevance, context precision, context recall).

Each works on `Row.context` (the retrieved documents, in rank order); a row without context
fails without a judge call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evaluators._types import Row, Score
from evaluators.scorers import _prompts as prompts
from evaluators.scorers._judged import (
    BOOLEAN,
    STRING,
    JudgeScorer,
    ReplyError,
    ask,
    bool_of,
    expected_facts,
    list_of,
    numbered,
    obj_schema,
    text_of,
)

if TYPE_CHECKING:
    from evaluators.judge import Judge

NO_CONTEXT = "the row has no retrieved context (Row.context is empty)"
INDEX: Mapping[str, Any] = {"type": "integer", "minimum": 1}


def verdicts_by_index(
    items: list[Any], count: int, flag: str, what: str
) -> dict[int, tuple[bool, str]]:
    """Per-item verdicts `{number: (flag, rationale)}` from a list of
    `{"index", "rationale", flag}` objects; every number 1..count must be present."""
    found: dict[int, tuple[bool, str]] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise ReplyError(f"each {what} verdict should be an object")
        index = item.get("index")
        if isinstance(index, int) and 1 <= index <= count:
            found[index] = (bool_of(item, flag), text_of(item, "rationale"))
    missing = [str(i) for i in range(1, count + 1) if i not in found]
    if missing:
        raise ReplyError(f"no verdict for {what} {', '.join(missing)} (of {count})")
    return found


def context_block(row: Row) -> str:
    return numbered(row.context or [], "document")


class Faithfulness(JudgeScorer):
    """Is every claim in the answer supported by the retrieved context?

    Two judge calls per row at most: one extracts the answer's claims, one verifies them all
    against the context. The value is supported / total claims; the rationale lists the
    unsupported ones, and metadata holds every claim with its verdict. An answer that makes no
    claim scores 1.0 (nothing in it is unsupported) after a single call.

    Example:
        >>> Faithfulness(threshold=0.8)
    """

    def __init__(self, *, threshold: float | None = None, name: str = "faithfulness") -> None:
        self.name = name
        self.threshold = threshold
        self.claims_schema = obj_schema(rationale=STRING, claims={"type": "array", "items": STRING})
        verdict = obj_schema(index=INDEX, rationale=STRING, supported=BOOLEAN)
        self.verify_schema = obj_schema(
            rationale=STRING, verdicts={"type": "array", "items": verdict}
        )

    def _check(self, row: Row) -> str | None:
        if not row.context:
            return NO_CONTEXT
        return None if row.answer.strip() else "the row has no answer"

    async def _judge(self, row: Row, judge: Judge) -> Score:
        user = prompts.CLAIMS_USER.format(question=row.question, answer=row.answer)
        data, _ = await ask(judge, prompts.CLAIMS_SYSTEM, user, self.claims_schema, "claims")
        claims = [c.strip() for c in list_of(data, "claims") if isinstance(c, str) and c.strip()]
        if not claims:
            return Score(
                1.0,
                rationale="The answer makes no factual claim, so none is unsupported.",
                metadata={"claims": []},
                passed=self._passed(1.0),
            )
        user = prompts.VERIFY_USER.format(
            context=context_block(row), claims=numbered(claims, "claim")
        )
        data, _ = await ask(judge, prompts.VERIFY_SYSTEM, user, self.verify_schema, "verdicts")
        found = verdicts_by_index(list_of(data, "verdicts"), len(claims), "supported", "claim")
        verdicts = [
            {"claim": claim, "supported": found[i][0], "rationale": found[i][1]}
            for i, claim in enumerate(claims, start=1)
        ]
        unsupported = [v["claim"] for v in verdicts if not v["supported"]]
        value = (len(claims) - len(unsupported)) / len(claims)
        summary = f"{len(claims) - len(unsupported)} of {len(claims)} claims supported."
        if unsupported:
            summary += " Unsupported: " + "; ".join(f'"{c}"' for c in unsupported) + "."
        judged = text_of(data, "rationale")
        return Score(
            value,
            rationale=f"{summary}\n{judged}" if judged else summary,
            metadata={"claims": verdicts, "unsupported": unsupported},
            passed=self._passed(value),
        )


class _DocumentJudge(JudgeScorer):
    """Shared by the context relevance and precision scorers: one call judging every
    retrieved document's relevance to the question."""

    use_reference = False

    def __init__(self, *, threshold: float | None, name: str) -> None:
        self.name = name
        self.threshold = threshold
        verdict = obj_schema(index=INDEX, rationale=STRING, relevant=BOOLEAN)
        self.schema = obj_schema(rationale=STRING, documents={"type": "array", "items": verdict})

    def _check(self, row: Row) -> str | None:
        if not row.context:
            return NO_CONTEXT
        return None if row.question.strip() else "the row has no question"

    async def _relevance(self, row: Row, judge: Judge) -> tuple[list[dict[str, Any]], str]:
        docs = row.context or []
        reference = row.expected if self.use_reference else None
        system = prompts.DOCS_SYSTEM.format(
            reference_hint=prompts.DOCS_REFERENCE_HINT if reference else ""
        )
        user = prompts.DOCS_USER.format(
            question=row.question,
            reference=f"\n<reference>\n{reference}\n</reference>\n" if reference else "",
            documents=numbered(docs, "document"),
        )
        data, _ = await ask(judge, system, user, self.schema, "documents")
        found = verdicts_by_index(list_of(data, "documents"), len(docs), "relevant", "document")
        per_doc = [
            {"rank": i, "relevant": found[i][0], "rationale": found[i][1]}
            for i in range(1, len(docs) + 1)
        ]
        return per_doc, text_of(data, "rationale")


class ContextRelevance(_DocumentJudge):
    """The fraction of retrieved documents relevant to the question (one judge call for all).

    Example:
        >>> ContextRelevance(threshold=0.5)
    """

    def __init__(self, *, threshold: float | None = None, name: str = "context_relevance") -> None:
        super().__init__(threshold=threshold, name=name)

    async def _judge(self, row: Row, judge: Judge) -> Score:
        per_doc, rationale = await self._relevance(row, judge)
        relevant = sum(1 for d in per_doc if d["relevant"])
        value = relevant / len(per_doc)
        return Score(
            value,
            rationale=f"{relevant} of {len(per_doc)} documents relevant. {rationale}".strip(),
            metadata={"documents": per_doc},
            passed=self._passed(value),
        )


def average_precision(relevant: Sequence[bool]) -> float:
    """Rank-aware precision: the mean of precision@k over the ranks k holding a relevant item
    (0.0 when none is relevant).

    Example:
        >>> average_precision([True, False, True])  # (1/1 + 2/3) / 2
        0.8333333333333333
    """
    hits = 0
    total = 0.0
    for k, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


class ContextPrecision(_DocumentJudge):
    """Are the relevant documents ranked first? Average precision over the retrieval ranking,
    with each document's relevance judged in one call (against the expected answer too, when
    the row has one).

    Example:
        >>> ContextPrecision()
    """

    use_reference = True

    def __init__(self, *, threshold: float | None = None, name: str = "context_precision") -> None:
        super().__init__(threshold=threshold, name=name)

    async def _judge(self, row: Row, judge: Judge) -> Score:
        per_doc, rationale = await self._relevance(row, judge)
        flags = [bool(d["relevant"]) for d in per_doc]
        value = average_precision(flags)
        ranks = [d["rank"] for d in per_doc if d["relevant"]]
        summary = f"Relevant documents at ranks {ranks or 'none'} of {len(per_doc)}."
        return Score(
            value,
            rationale=f"{summary} {rationale}".strip(),
            metadata={"documents": per_doc, "relevant_ranks": ranks},
            passed=self._passed(value),
        )


class ContextRecall(JudgeScorer):
    """How much of what the answer needs does the context hold? The fraction of expected facts
    (`expectations["expected_facts"]`), or of the expected answer's statements, that the
    retrieved context supports. One judge call.

    Example:
        >>> ContextRecall(threshold=0.8)
    """

    def __init__(self, *, threshold: float | None = None, name: str = "context_recall") -> None:
        self.name = name
        self.threshold = threshold
        verdict = obj_schema(index=INDEX, statement=STRING, rationale=STRING, supported=BOOLEAN)
        self.schema = obj_schema(rationale=STRING, statements={"type": "array", "items": verdict})

    def _check(self, row: Row) -> str | None:
        if not row.context:
            return NO_CONTEXT
        if expected_facts(row) is None and row.expected is None:
            return (
                "the row has no expected answer "
                "(expectations['expected_facts'] or ['expected_response'])"
            )
        return None

    async def _judge(self, row: Row, judge: Judge) -> Score:
        facts = expected_facts(row)
        if facts:
            split, statements = prompts.RECALL_GIVEN, numbered(facts, "statement")
        else:
            split = prompts.RECALL_SPLIT
            statements = f"<reference>\n{row.expected}\n</reference>"
        system = prompts.RECALL_SYSTEM.format(split=split)
        user = prompts.RECALL_USER.format(
            question=row.question, context=context_block(row), statements=statements
        )
        data, _ = await ask(judge, system, user, self.schema, "statements")
        items = list_of(data, "statements")
        if facts:
            found = verdicts_by_index(items, len(facts), "supported", "statement")
            verdicts = [
                {"statement": f, "supported": found[i][0], "rationale": found[i][1]}
                for i, f in enumerate(facts, start=1)
            ]
        else:
            verdicts = [
                {
                    "statement": text_of(item, "statement"),
                    "supported": bool_of(item, "supported"),
                    "rationale": text_of(item, "rationale"),
                }
                for item in items
                if isinstance(item, Mapping)
            ]
            if not verdicts:
                raise ReplyError("no statements were taken from the expected answer")
        missing = [v["statement"] for v in verdicts if not v["supported"]]
        value = (len(verdicts) - len(missing)) / len(verdicts)
        summary = f"{len(verdicts) - len(missing)} of {len(verdicts)} expected statements found."
        if missing:
            summary += " Not in the context: " + "; ".join(f'"{s}"' for s in missing) + "."
        judged = text_of(data, "rationale")
        return Score(
            value,
            rationale=f"{summary}\n{judged}" if judged else summary,
            metadata={"statements": verdicts, "missing": missing},
            passed=self._passed(value),
        )


__all__ = [
    "ContextPrecision",
    "ContextRecall",
    "ContextRelevance",
    "Faithfulness",
    "average_precision",
]
