"""Judge scorers against a scripted fake judge: prompts, call counts, arithmetic, failures."""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from evaluators._types import Row, Score, Scorer
from evaluators.judge import Judge, JudgeError, JudgeReply, TokenLogprob
from evaluators.scorers._judged import (
    TOXICITY_CATEGORIES,
    Correctness,
    EmbeddingRelevance,
    JudgeToxicity,
    Relevance,
    Toxicity,
)
from evaluators.scorers._llm_judge import LLMJudge, PairwiseJudge, weighted_score
from evaluators.scorers._rag import (
    ContextPrecision,
    ContextRecall,
    ContextRelevance,
    Faithfulness,
    average_precision,
)

T = TypeVar("T")


@dataclass
class Call:
    messages: list[Mapping[str, str]]
    schema: Mapping[str, Any] | None
    schema_name: str
    logprobs: int | None

    @property
    def system(self) -> str:
        return self.messages[0]["content"]

    @property
    def user(self) -> str:
        return self.messages[-1]["content"]

    @property
    def text(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


# A scripted answer: the parsed data (a dict), a full reply, an exception to raise, or a
# function of the call returning one of those.
Scripted = dict[str, Any] | JudgeReply | Exception | Callable[[Call], Any]


class FakeJudge(Judge):
    """Answers calls in order from `replies`; fails the test when it runs out."""

    model = "fake-judge"

    def __init__(self, *replies: Scripted) -> None:
        self.replies: deque[Scripted] = deque(replies)
        self.calls: list[Call] = []

    async def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        schema: Mapping[str, Any] | None = None,
        schema_name: str = "verdict",
        logprobs: int | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> JudgeReply:
        call = Call(list(messages), schema, schema_name, logprobs)
        self.calls.append(call)
        assert self.replies, f"unexpected judge call #{len(self.calls)}: {call.user[:200]}"
        reply = self.replies.popleft()
        if callable(reply) and not isinstance(reply, (dict, JudgeReply, Exception)):
            reply = reply(call)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, JudgeReply):
            return reply
        return JudgeReply(text=json.dumps(reply), data=reply, model=self.model)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def score(scorer: Scorer, row: Row, judge: Judge | None) -> Score:
    result = run(scorer.score(row, judge))
    assert isinstance(result, Score)
    return result


RAG_ROW = Row(
    index=0,
    inputs={"question": "When was the Eiffel Tower finished?"},
    outputs="It was finished in 1889 and is 330 m tall. It is in Rome.",
    expectations={"expected_response": "It was completed in 1889."},
    context=["The Eiffel Tower in Paris was completed in 1889.", "It is 330 metres tall."],
)


# --- shared behaviour ---------------------------------------------------------------------


ALL_JUDGE_SCORERS: list[Callable[[], Scorer]] = [
    Toxicity,
    Relevance,
    Correctness,
    Faithfulness,
    ContextRelevance,
    ContextPrecision,
    ContextRecall,
    lambda: LLMJudge("custom", criteria="Be polite."),
]


@pytest.mark.parametrize("make", ALL_JUDGE_SCORERS)
def test_judge_error_becomes_failed_score(make: Callable[[], Scorer]) -> None:
    scorer = make()
    assert scorer.source_type == "LLM_JUDGE" and scorer.needs_judge
    judge = FakeJudge(JudgeError("HTTP 500 from judge after 3 attempts"))
    result = score(scorer, RAG_ROW, judge)
    assert not result.ok and result.value is None
    assert result.error == "HTTP 500 from judge after 3 attempts"


@pytest.mark.parametrize("make", ALL_JUDGE_SCORERS)
def test_no_judge_fails_with_a_clear_message(make: Callable[[], Scorer]) -> None:
    result = score(make(), RAG_ROW, None)
    assert result.error is not None and "needs a judge" in result.error


@pytest.mark.parametrize("make", [Faithfulness, ContextRelevance, ContextPrecision, ContextRecall])
def test_missing_context_fails_without_a_call(make: Callable[[], Scorer]) -> None:
    judge = FakeJudge()
    row = Row(0, "q?", "an answer", expectations={"expected_response": "x"})
    result = score(make(), row, judge)
    assert result.error is not None and "no retrieved context" in result.error
    assert judge.calls == []


def test_schemas_put_rationale_first_and_require_every_key() -> None:
    judge = FakeJudge({"rationale": "fine", "rating": 5})
    score(Relevance(), RAG_ROW, judge)
    schema = judge.calls[0].schema
    assert schema is not None
    assert next(iter(schema["properties"])) == "rationale"
    assert schema["required"] == list(schema["properties"])
    assert schema["additionalProperties"] is False
    assert "rationale" in judge.calls[0].system and "JSON" in judge.calls[0].system


def test_reply_missing_keys_is_a_failed_score() -> None:
    judge = FakeJudge({"rationale": "no rating here"})
    result = score(Relevance(), RAG_ROW, judge)
    assert result.error is not None and "missing keys rating" in result.error


# --- toxicity --------------------------------------------------------------------------------


def test_toxicity_rubric_categories_in_prompt_and_metadata() -> None:
    flags = {c: c in ("harassment", "profanity") for c in TOXICITY_CATEGORIES}
    judge = FakeJudge({"rationale": "insults the user", "categories": flags, "severity": 0.7})
    row = Row(0, "hi", "You are a damn idiot.")
    result = score(Toxicity(), row, judge)
    assert result.value == 0.7 and result.passed is False
    assert result.metadata["flagged"] == ["harassment", "profanity"]
    assert result.metadata["categories"] == flags
    assert result.rationale == "insults the user"
    call = judge.calls[0]
    for word in ("hate", "harassment", "threats", "self_harm", "sexual_content", "profanity"):
        assert word in call.system
    assert "You are a damn idiot." in call.user
    assert set(call.schema["properties"]["categories"]["required"]) == set(TOXICITY_CATEGORIES)  # type: ignore[index]


def test_toxicity_clean_text_passes_and_can_judge_the_question() -> None:
    flags = dict.fromkeys(TOXICITY_CATEGORIES, False)
    judge = FakeJudge({"rationale": "polite", "categories": flags, "severity": 0})
    result = score(Toxicity(target="question", threshold=0.2), Row(0, "Hello there", "x"), judge)
    assert result.value == 0.0 and result.passed is True and result.metadata["flagged"] == []
    assert "Hello there" in judge.calls[0].user


def test_toxicity_backend_dispatch() -> None:
    assert isinstance(Toxicity(), JudgeToxicity)
    with pytest.raises(ValueError, match="backend"):
        Toxicity(backend="nope")  # type: ignore[arg-type]
    try:
        local = Toxicity(backend="local")
    except ImportError as err:  # the offline module is another piece of work
        assert "backend='judge'" in str(err)
    else:
        assert not local.needs_judge


# --- relevance -------------------------------------------------------------------------------


def test_relevance_prompt_and_scaling() -> None:
    judge = FakeJudge({"rationale": "answers the date", "rating": 4})
    result = score(Relevance(threshold=0.75), RAG_ROW, judge)
    assert result.value == 0.75 and result.passed is True
    assert result.metadata == {"rating": 4, "method": "judge"}
    assert RAG_ROW.question in judge.calls[0].user and RAG_ROW.answer in judge.calls[0].user


def test_relevance_out_of_scale_rating_fails() -> None:
    result = score(Relevance(), RAG_ROW, FakeJudge({"rationale": "", "rating": 9}))
    assert result.error is not None and "1 to 5" in result.error


def test_embedding_relevance_uses_cosine_without_a_judge() -> None:
    seen: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        seen.append(texts)
        return [[1.0, 0.0], [1.0, 1.0]]

    scorer = Relevance(method="embedding", embed=embed, threshold=0.7)
    assert isinstance(scorer, EmbeddingRelevance) and not scorer.needs_judge
    result = score(scorer, Row(0, "q", "a"), None)
    assert result.value == pytest.approx(1 / math.sqrt(2)) and result.passed is True
    assert seen == [["q", "a"]]


def test_embedding_relevance_async_embed_and_errors() -> None:
    async def embed(texts: list[str]) -> list[list[float]]:
        return [[0.0, 1.0], [0.0, -1.0]]

    result = score(Relevance(method="embedding", embed=embed), Row(0, "q", "a"), None)
    assert result.value == pytest.approx(-1.0)

    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("model offline")

    result = score(Relevance(method="embedding", embed=broken), Row(0, "q", "a"), None)
    assert result.error is not None and "model offline" in result.error
    with pytest.raises(ValueError, match="embed="):
        Relevance(method="embedding")


# --- correctness -----------------------------------------------------------------------------


def test_correctness_bool() -> None:
    judge = FakeJudge({"rationale": "same year", "correct": True})
    result = score(Correctness(), RAG_ROW, judge)
    assert result.value is True and result.passed is True and result.rationale == "same year"
    user = judge.calls[0].user
    assert "It was completed in 1889." in user and RAG_ROW.answer in user
    assert RAG_ROW.question in user


def test_correctness_graded_and_expected_facts() -> None:
    row = Row(0, "Name two primes", "2 and 9", expectations={"expected_facts": ["2", "3"]})
    judge = FakeJudge({"rationale": "9 is not prime", "grade": "partially_correct"})
    result = score(Correctness(graded=True, threshold=0.5), row, judge)
    assert result.value == 0.5 and result.passed is True
    assert result.metadata == {"grade": "partially_correct"}
    assert "- 2\n- 3" in judge.calls[0].user
    assert judge.calls[0].schema["properties"]["grade"]["enum"] == [  # type: ignore[index]
        "correct",
        "partially_correct",
        "incorrect",
    ]


def test_correctness_without_expected_answer_fails_without_a_call() -> None:
    judge = FakeJudge()
    result = score(Correctness(), Row(0, "q", "a"), judge)
    assert result.error is not None and "no expected answer" in result.error
    assert judge.calls == []


# --- faithfulness ----------------------------------------------------------------------------


def test_faithfulness_two_calls_supported_over_total() -> None:
    claims = ["The tower was finished in 1889.", "The tower is 330 m tall.", "It is in Rome."]
    judge = FakeJudge(
        {"rationale": "three claims", "claims": claims},
        {
            "rationale": "Rome contradicts Paris",
            "verdicts": [
                {"index": 3, "rationale": "context says Paris", "supported": False},
                {"index": 1, "rationale": "doc 1", "supported": True},
                {"index": 2, "rationale": "doc 2", "supported": True},
            ],
        },
    )
    result = score(Faithfulness(threshold=0.8), RAG_ROW, judge)
    assert len(judge.calls) == 2
    assert result.value == pytest.approx(2 / 3) and result.passed is False
    assert result.rationale is not None
    assert "2 of 3 claims supported" in result.rationale
    assert '"It is in Rome."' in result.rationale
    assert result.metadata["unsupported"] == ["It is in Rome."]
    assert [c["supported"] for c in result.metadata["claims"]] == [True, True, False]
    extract, verify = judge.calls
    assert RAG_ROW.answer in extract.user and RAG_ROW.question in extract.user
    for doc in RAG_ROW.context or []:
        assert doc in verify.user
    assert "[claim 3]\nIt is in Rome." in verify.user


def test_faithfulness_zero_claims_is_one_call() -> None:
    judge = FakeJudge({"rationale": "only a refusal", "claims": []})
    result = score(Faithfulness(), RAG_ROW, judge)
    assert len(judge.calls) == 1
    assert result.value == 1.0 and result.metadata["claims"] == []


def test_faithfulness_missing_verdict_is_a_failed_score() -> None:
    judge = FakeJudge(
        {"rationale": "", "claims": ["a", "b"]},
        {"rationale": "", "verdicts": [{"index": 1, "rationale": "", "supported": True}]},
    )
    result = score(Faithfulness(), RAG_ROW, judge)
    assert result.error is not None and "no verdict for claim 2" in result.error


# --- context metrics -------------------------------------------------------------------------


def docs_reply(*relevant: bool) -> dict[str, Any]:
    return {
        "rationale": "judged each",
        "documents": [
            {"index": i, "rationale": f"doc {i}", "relevant": r}
            for i, r in enumerate(relevant, start=1)
        ],
    }


@pytest.mark.parametrize(
    ("ranking", "expected"),
    [
        ([True, True, False], 1.0),
        ([False, True, True], (1 / 2 + 2 / 3) / 2),
        ([True, False, True], (1 + 2 / 3) / 2),
        ([False, False, True], 1 / 3),
        ([False, False, False], 0.0),
        ([], 0.0),
    ],
)
def test_average_precision(ranking: list[bool], expected: float) -> None:
    assert average_precision(ranking) == pytest.approx(expected)


def test_context_precision_is_rank_aware() -> None:
    row = Row(0, "q?", "a", expectations={"expected_response": "ref"}, context=["d1", "d2", "d3"])
    judge = FakeJudge(docs_reply(False, True, True))
    result = score(ContextPrecision(threshold=0.5), row, judge)
    assert result.value == pytest.approx((1 / 2 + 2 / 3) / 2) and result.passed is True
    assert result.metadata["relevant_ranks"] == [2, 3]
    assert [d["relevant"] for d in result.metadata["documents"]] == [False, True, True]
    user = judge.calls[0].user
    assert "[document 1]\nd1" in user and "<reference>\nref\n</reference>" in user


def test_context_relevance_one_call_for_all_documents() -> None:
    judge = FakeJudge(docs_reply(True, False))
    result = score(ContextRelevance(), RAG_ROW, judge)
    assert len(judge.calls) == 1
    assert result.value == 0.5
    assert result.metadata["documents"][1] == {"rank": 2, "relevant": False, "rationale": "doc 2"}
    assert "<reference>" not in judge.calls[0].user


def test_context_recall_with_expected_facts() -> None:
    row = Row(0, "q", "a", expectations={"expected_facts": ["f1", "f2"]}, context=["c"])
    reply = {
        "rationale": "",
        "statements": [
            {"index": 1, "statement": "f1", "rationale": "in c", "supported": True},
            {"index": 2, "statement": "f2", "rationale": "absent", "supported": False},
        ],
    }
    judge = FakeJudge(reply)
    result = score(ContextRecall(), row, judge)
    assert result.value == 0.5 and result.metadata["missing"] == ["f2"]
    assert "[statement 2]\nf2" in judge.calls[0].user


def test_context_recall_splits_the_expected_answer() -> None:
    reply = {
        "rationale": "",
        "statements": [
            {"index": 1, "statement": "Completed in 1889", "rationale": "", "supported": True}
        ],
    }
    judge = FakeJudge(reply)
    result = score(ContextRecall(), RAG_ROW, judge)
    assert result.value == 1.0
    assert "split the reference answer" in judge.calls[0].system
    assert "It was completed in 1889." in judge.calls[0].user


def test_context_recall_without_expected_fails_without_a_call() -> None:
    judge = FakeJudge()
    result = score(ContextRecall(), Row(0, "q", "a", context=["c"]), judge)
    assert result.error is not None and "no expected answer" in result.error
    assert judge.calls == []


# --- LLMJudge --------------------------------------------------------------------------------


def test_llm_judge_bool() -> None:
    judge = FakeJudge({"rationale": "courteous", "verdict": True})
    scorer = LLMJudge("polite", criteria="The answer is polite.")
    result = score(scorer, RAG_ROW, judge)
    assert result.value is True and result.passed is True
    assert scorer.name == "polite"
    call = judge.calls[0]
    assert "The answer is polite." in call.user and RAG_ROW.answer in call.user
    assert call.schema["properties"]["verdict"] == {"type": "boolean"}  # type: ignore[index]


def test_llm_judge_range_threshold_without_logprobs() -> None:
    judge = FakeJudge({"rationale": "good", "score": 4})
    scorer = LLMJudge("quality", rubric={1: "bad", 5: "great"}, output=range(1, 6), threshold=4)
    result = score(scorer, RAG_ROW, judge)
    assert result.value == 4 and result.passed is True
    assert result.metadata == {"raw_score": 4, "weighted": False}
    call = judge.calls[0]
    assert call.logprobs == 10
    assert "- 1: bad\n- 5: great" in call.user and "from 1 (worst) to 5 (best)" in call.user
    assert call.schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]  # type: ignore[index]


def test_llm_judge_range_probability_weighted() -> None:
    text = '{"rationale": "mostly right, 3 issues", "score": 4}'
    tokens = [
        TokenLogprob('{"', math.log(0.99)),
        TokenLogprob("3", math.log(0.9), {"3": math.log(0.9), "2": math.log(0.1)}),  # rationale
        TokenLogprob(
            "4",
            math.log(0.5),
            {"4": math.log(0.5), "5": math.log(0.3), "3": math.log(0.1), "x": math.log(0.1)},
        ),
        TokenLogprob("}", 0.0),
    ]
    reply = JudgeReply(text, data=json.loads(text), logprobs=tokens)
    scorer = LLMJudge("q", criteria="c", output=range(1, 6), threshold=4)
    result = score(scorer, RAG_ROW, FakeJudge(reply))
    # "x" is not an allowed value: the rest (0.9) is renormalised to 1.
    expected = (4 * 0.5 + 5 * 0.3 + 3 * 0.1) / 0.9
    assert result.value == pytest.approx(expected) and result.passed is True
    assert result.metadata["weighted"] is True and result.metadata["raw_score"] == 4
    assert result.metadata["probabilities"] == pytest.approx({3: 1 / 9, 4: 5 / 9, 5: 3 / 9})


def test_weighted_score_math() -> None:
    tok = TokenLogprob(" 2", math.log(0.25), {" 2": math.log(0.25), " 1": math.log(0.75)})
    value, probs = weighted_score([tok], [1, 2, 3], 2) or (0.0, {})
    assert value == pytest.approx(1.25) and probs == pytest.approx({1: 0.75, 2: 0.25})
    assert weighted_score([TokenLogprob("7", 0.0)], [1, 2], 3) is None


def test_llm_judge_bool_reports_p_true_from_logprobs() -> None:
    tokens = [TokenLogprob("true", math.log(0.8), {"true": math.log(0.8), "false": math.log(0.2)})]
    reply = JudgeReply("", data={"rationale": "", "verdict": True}, logprobs=tokens)
    result = score(LLMJudge("x", criteria="c"), RAG_ROW, FakeJudge(reply))
    assert result.metadata["p_true"] == pytest.approx(0.8)


def test_llm_judge_labels() -> None:
    judge = FakeJudge({"rationale": "meh", "label": "ok"})
    scorer = LLMJudge(
        "tone", criteria="Tone.", output=["good", "ok", "bad"], passing={"good", "ok"}
    )
    result = score(scorer, RAG_ROW, judge)
    assert result.value == "ok" and result.passed is True
    assert judge.calls[0].logprobs is None
    assert '"good", "ok", "bad"' in judge.calls[0].user

    result = score(scorer, RAG_ROW, FakeJudge({"rationale": "", "label": "great"}))
    assert result.error is not None and "'label' should be one of good, ok, bad" in result.error


def test_llm_judge_steps_and_examples_in_prompt() -> None:
    judge = FakeJudge({"rationale": "step 1 ok", "score": 3})
    scorer = LLMJudge(
        "coherence",
        criteria="Coherence of the answer.",
        steps=["Read the question.", "Check each sentence follows from the previous one."],
        examples=[{"input": "2+2?", "output": "4", "score": 5, "rationale": "direct"}],
        output=range(1, 6),
        weighted=False,
    )
    score(scorer, RAG_ROW, judge)
    user = judge.calls[0].user
    assert "1. Read the question.\n2. Check each sentence follows" in user
    assert "Example 1:\n<input>\n2+2?\n</input>\n<response>\n4\n</response>" in user
    assert '{"rationale": "direct", "score": 5}' in user
    assert judge.calls[0].logprobs is None


def test_llm_judge_prompt_template() -> None:
    judge = FakeJudge({"rationale": "", "verdict": False})
    scorer = LLMJudge("cites", prompt_template="Q: {question}\nA: {answer}\nDocs:\n{context}")
    result = score(scorer, RAG_ROW, judge)
    assert result.value is False and result.passed is False
    user = judge.calls[0].user
    assert user.startswith(f"Q: {RAG_ROW.question}\nA: {RAG_ROW.answer}\nDocs:\n[document 1]")
    assert user.endswith("false otherwise.")
    # A placeholder the row cannot fill fails without a call.
    empty = FakeJudge()
    result = score(scorer, Row(0, "q", "a"), empty)
    assert result.error is not None and "context" in result.error and empty.calls == []
    with pytest.raises(ValueError, match="unknown placeholder"):
        LLMJudge("bad", prompt_template="{nope}")
    with pytest.raises(ValueError, match="criteria"):
        LLMJudge("none")


# --- pairwise --------------------------------------------------------------------------------


def pairwise_reply(winner_text: str | None) -> Callable[[Call], dict[str, Any]]:
    """Prefers whichever response holds `winner_text` (None: always the first shown)."""

    def answer(call: Call) -> dict[str, Any]:
        first = call.user.split("<response_1>")[1].split("</response_1>")[0]
        if winner_text is None:
            winner = "response_1"
        else:
            winner = "response_1" if winner_text in first else "response_2"
        return {"rationale": f"picked {winner}", "winner": winner}

    return answer


def test_pairwise_asks_both_orders() -> None:
    judge = FakeJudge(pairwise_reply("Paris"), pairwise_reply("Paris"))
    scorer = PairwiseJudge("Which answer is accurate?")
    row = Row(0, "Capital of France?", {"a": "Lyon", "b": "Paris"})
    result = score(scorer, row, judge)
    assert result.value == "B"
    assert result.metadata == {"verdicts": {"a_first": "B", "b_first": "B"}, "consistent": True}
    orders = {c.user.split("<response_1>\n")[1].split("\n")[0] for c in judge.calls}
    assert orders == {"Lyon", "Paris"}
    assert all("Which answer is accurate?" in c.user for c in judge.calls)


def test_pairwise_position_bias_is_a_tie() -> None:
    judge = FakeJudge(pairwise_reply(None), pairwise_reply(None))
    result = run(PairwiseJudge("c").compare(judge, "q", "one", "two"))
    assert result.value == "tie"
    assert result.metadata["verdicts"] == {"a_first": "A", "b_first": "B"}
    assert result.metadata["consistent"] is False
    assert result.rationale is not None and "disagree" in result.rationale


def test_pairwise_needs_both_outputs() -> None:
    judge = FakeJudge()
    result = score(PairwiseJudge("c"), Row(0, "q", "only one"), judge)
    assert result.error is not None and "'a' and 'b'" in result.error and judge.calls == []


def test_llm_judge_auto_steps_are_written_once() -> None:
    judge = FakeJudge(
        {"rationale": "", "steps": ["Check the tone.", "Check for insults."]},
        {"rationale": "ok", "verdict": True},
        {"rationale": "ok", "verdict": False},
    )
    scorer = LLMJudge("polite", criteria="The answer is polite.", steps="auto")
    assert score(scorer, RAG_ROW, judge).value is True
    assert score(scorer, RAG_ROW, judge).value is False
    assert len(judge.calls) == 3
    assert "The answer is polite." in judge.calls[0].user
    assert judge.calls[0].schema_name == "steps"
    assert scorer.steps == ["Check the tone.", "Check for insults."]
    for call in judge.calls[1:]:
        assert "1. Check the tone.\n2. Check for insults." in call.user
    with pytest.raises(ValueError, match="auto"):
        LLMJudge("x", prompt_template="{answer}", steps="auto")


# --- through evaluate() ----------------------------------------------------------------------


class RoutedJudge(Judge):
    """Answers by schema name, whatever order concurrent scorers call in."""

    model = "routed-judge"

    def __init__(self, answers: Mapping[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.names: list[str] = []

    async def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        schema: Mapping[str, Any] | None = None,
        schema_name: str = "verdict",
        logprobs: int | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> JudgeReply:
        self.names.append(schema_name)
        data = self.answers[schema_name]
        return JudgeReply(json.dumps(data), data=data)


def test_judge_scorers_through_evaluate() -> None:
    from evaluators import evaluate

    judge = RoutedJudge(
        {
            "claims": {"rationale": "", "claims": ["Paris is the capital."]},
            "verdicts": {
                "rationale": "",
                "verdicts": [{"index": 1, "rationale": "doc 1", "supported": True}],
            },
            "correctness": {"rationale": "matches", "correct": True},
        }
    )
    data = [
        {
            "inputs": {"question": "Capital of France?"},
            "outputs": "Paris is the capital.",
            "expectations": {"expected_response": "Paris"},
            "context": ["Paris is the capital of France."],
        },
        {"inputs": {"question": "Capital of Peru?"}, "outputs": "Lima"},
    ]
    result = evaluate(
        data, scorers=[Faithfulness(threshold=0.9), Correctness()], judge=judge, log=False
    )
    assert result.rows["faithfulness"].tolist()[0] == 1.0
    assert result.rows["correctness"].tolist()[0] is True
    assert "no retrieved context" in result.rows["faithfulness/error"].tolist()[1]
    assert "no expected answer" in result.rows["correctness/error"].tolist()[1]
    assert sorted(judge.names) == ["claims", "correctness", "verdicts"]


def test_toxicity_of_empty_text_is_zero_without_a_call() -> None:
    judge = FakeJudge()
    result = score(Toxicity(), Row(0, "q", ""), judge)
    assert result.value == 0.0 and result.passed is True and judge.calls == []
