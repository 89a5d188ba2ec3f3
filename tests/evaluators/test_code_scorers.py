"""Code scorers and `@scorer`, each on the rows it passes, fails and cannot score."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from evaluators import Row, Score, Scorer
from evaluators.scorers import (
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
    scorer,
)


def run(s: Scorer, row: Row) -> Score:
    result = asyncio.run(s.score(row, None))
    assert isinstance(result, Score)
    return result


def row(outputs: Any = None, expected: str | None = None, **fields: Any) -> Row:
    expectations = {"expected_response": expected} if expected is not None else {}
    return Row(index=0, inputs="q", outputs=outputs, expectations=expectations, **fields)


class TestExactMatch:
    def test_match_after_strip(self) -> None:
        assert run(ExactMatch(), row(" Paris\n", "Paris")).value is True

    def test_case_matters_unless_ignored(self) -> None:
        assert run(ExactMatch(), row("paris", "Paris")).value is False
        assert run(ExactMatch(ignore_case=True), row("paris", "Paris")).value is True

    def test_strip_off_keeps_whitespace(self) -> None:
        assert run(ExactMatch(strip=False), row("Paris ", "Paris")).value is False

    def test_mismatch_explains(self) -> None:
        score = run(ExactMatch(), row("Lyon", "Paris"))
        assert score.value is False and score.rationale == "expected 'Paris'"

    def test_dict_outputs_use_answer_key(self) -> None:
        assert run(ExactMatch(), row({"answer": "4"}, "4")).value is True

    def test_no_expectation_is_an_error(self) -> None:
        score = run(ExactMatch(), row("Paris"))
        assert score.value is None and score.error and "expected" in score.error


class TestRegex:
    def test_search_in_outputs(self) -> None:
        score = run(Regex(r"REF-\d{3}"), row("see REF-123 please"))
        assert score.value is True and score.rationale == "matched 'REF-123'"

    def test_no_match(self) -> None:
        assert run(Regex(r"REF-\d{3}"), row("nothing")).value is False

    def test_must_not_match(self) -> None:
        s = Regex(r"(?i)as an ai", must_match=False, name="no_disclaimer")
        assert run(s, row("As an AI, I cannot")).value is False
        assert run(s, row("Sure: 4")).value is True

    def test_other_field(self) -> None:
        r = Row(index=0, inputs={"question": "what is 2+2?"}, outputs="4")
        assert run(Regex(r"2\+2", field="inputs"), r).value is True


class TestJson:
    @pytest.mark.parametrize(
        "outputs", ['{"a": 1}', "[1, 2]", '```json\n{"a": 1}\n```', {"a": 1}, [1]]
    )
    def test_valid(self, outputs: Any) -> None:
        assert run(JsonValid(), row(outputs)).value is True

    @pytest.mark.parametrize("outputs", ["{a: 1}", "", None, 42])
    def test_invalid(self, outputs: Any) -> None:
        score = run(JsonValid(), row(outputs))
        assert score.value is False and score.rationale

    schema: Mapping[str, Any] = {
        "type": "object",
        "required": ["answer", "confidence"],
        "properties": {"confidence": {"type": "number", "maximum": 1}},
    }

    def test_schema_valid(self) -> None:
        assert run(JsonSchema(self.schema), row('{"answer": "x", "confidence": 0.5}')).value

    def test_schema_violations_listed(self) -> None:
        score = run(JsonSchema(self.schema), row('{"confidence": 3}'))
        assert score.value is False
        assert score.metadata["errors"] == 2
        assert "'answer' is a required property" in (score.rationale or "")
        assert "confidence:" in (score.rationale or "")

    def test_schema_on_invalid_json(self) -> None:
        score = run(JsonSchema(self.schema), row("not json"))
        assert score.value is False and "invalid JSON" in (score.rationale or "")


class TestLength:
    def test_chars_within_bounds(self) -> None:
        score = run(Length(min=2, max=5), row("abcd"))
        assert score.value == 4 and score.passed is True

    def test_words_over_max(self) -> None:
        score = run(Length(max=2, unit="words"), row("one two three"))
        assert score.value == 3 and score.passed is False

    def test_under_min(self) -> None:
        assert run(Length(min=1), row("")).passed is False

    def test_bad_unit(self) -> None:
        with pytest.raises(ValueError, match="unit"):
            Length(unit="tokens")  # type: ignore[arg-type]


class TestCeilings:
    def test_latency(self) -> None:
        assert run(Latency(max_ms=100), row("x", latency_ms=50.0)).passed is True
        slow = run(Latency(max_ms=100), row("x", latency_ms=150.0))
        assert slow.value == 150.0 and slow.passed is False

    def test_latency_without_max_makes_no_call(self) -> None:
        score = run(Latency(), row("x", latency_ms=5.0))
        assert score.value == 5.0 and score.passed is None

    def test_missing_measurements_are_errors(self) -> None:
        for s in (Latency(max_ms=1), Tokens(max=1), Cost(max_usd=1)):
            score = run(s, row("x"))
            assert score.error and score.value is None

    def test_tokens_total_and_parts(self) -> None:
        r = row("x", input_tokens=10, output_tokens=5)
        assert run(Tokens(max=20), r).value == 15
        assert run(Tokens(max=12), r).passed is False
        assert run(Tokens(which="output"), r).value == 5
        assert run(Tokens(which="input"), r).value == 10

    def test_cost(self) -> None:
        score = run(Cost(max_usd=0.01), row("x", cost=0.02))
        assert score.value == 0.02 and score.passed is False


class TestPII:
    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            ("mail ann.lee+x@example.co.uk now", "email"),
            ("card 4111 1111 1111 1111 ok", "card"),
            ("card 4111-1111-1111-1111", "card"),
            ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
            ("IBAN DE89370400440532013000", "iban"),
            ("ssn 123-45-6789", "ssn"),
            ("call +1 (415) 555-2671", "phone"),
            ("call 020 7946 0958", "phone"),
        ],
    )
    def test_finds(self, text: str, kind: str) -> None:
        assert [k for k, _ in find_pii(text)] == [kind]

    @pytest.mark.parametrize(
        "text",
        [
            "card 4111 1111 1111 1112",  # fails Luhn
            "IBAN GB00WEST12345698765432",  # fails mod 97
            "ssn 000-12-3456",
            "order 12345, total 42.50, 2024-05-01",
            "version 1.2.3",
        ],
    )
    def test_ignores(self, text: str) -> None:
        assert find_pii(text) == []

    def test_scorer_counts_kinds_not_values(self) -> None:
        score = run(PII(), row("ann@example.com or bob@example.org, 123-45-6789"))
        assert score.value == 3 and score.passed is False
        assert score.metadata["kinds"] == ["email", "ssn"]
        assert "example" not in (score.rationale or "")

    def test_clean(self) -> None:
        score = run(PII(), row("The capital of France is Paris."))
        assert score.value == 0 and score.passed is True


class TestScorerDecorator:
    def test_bare_sync_takes_named_fields(self) -> None:
        @scorer
        def overlap(outputs: str, expectations: Mapping[str, Any]) -> float:
            want = set(expectations["expected_response"].split())
            return len(want & set(outputs.split())) / len(want)

        assert overlap.name == "overlap"
        assert run(overlap, row("a b", "a b c d")).value == 0.5
        assert overlap("a", {"expected_response": "a"}) == 1.0  # still callable

    def test_with_arguments_async_and_threshold(self) -> None:
        @scorer(name="long_enough", threshold=3)
        async def size(row: Row) -> int:
            return len(row.answer)

        assert size.name == "long_enough" and size.threshold == 3
        score = run(size, row("abcd"))
        assert score.value == 4 and size.verdict(score) is True
        assert size.verdict(run(size, row("ab"))) is False

    def test_return_shapes(self) -> None:
        @scorer
        def pair(outputs: str) -> tuple[bool, str]:
            return outputs == "x", "compared with x"

        assert run(pair, row("x")) == Score(True, rationale="compared with x")

        @scorer
        def label(outputs: str) -> str:
            return "positive"

        assert run(label, row("x")).value == "positive"

        @scorer
        def typed(outputs: str) -> Score:
            return Score(0.2, rationale="r", passed=True)

        assert run(typed, row("x")).passed is True

    def test_dict_gives_several_scores(self) -> None:
        @scorer
        def many(outputs: str) -> dict[str, Any]:
            return {"chars": len(outputs), "upper": outputs.isupper()}

        result = asyncio.run(many.score(row("AB"), None))
        assert isinstance(result, Mapping)
        assert result["chars"].value == 2 and result["upper"].value is True

    def test_unknown_parameter_rejected(self) -> None:
        with pytest.raises(TypeError, match="unknown parameter"):

            @scorer
            def bad(answer: str) -> bool:
                return True

    def test_bad_return_type(self) -> None:
        @scorer
        def bad(outputs: str) -> object:
            return object()

        with pytest.raises(TypeError, match="must return"):
            run(bad, row("x"))
