"""Custom judges: `LLMJudge` (criteria, rubric or your own prompt; bool, integer range or label
output; few-shot examples; G-Eval style evaluation steps; probability-weighted scores from
logprobs) and `PairwiseJudge` (A vs B, asked in both orders).
"""

from __future__ import annotations

import asyncio
import json
import math
import string
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from evaluators._types import Row, Score, as_text
from evaluators.judge._base import TokenLogprob
from evaluators.scorers import _prompts as prompts
from evaluators.scorers._judged import (
    BOOLEAN,
    STRING,
    JudgeScorer,
    ReplyError,
    ask,
    bool_of,
    list_of,
    numbered,
    obj_schema,
    text_of,
)

if TYPE_CHECKING:
    from evaluators.judge import Judge

TEMPLATE_FIELDS = ("question", "answer", "expected", "context", "inputs", "outputs")
Output = type[bool] | range | Sequence[str]


def weighted_score(
    logprobs: Sequence[TokenLogprob], allowed: Collection[int], chosen: int
) -> tuple[float, dict[int, float]] | None:
    """The expected score `sum(p(k) * k)` over the allowed values, from the top alternatives of
    the token that carried the chosen score; None when that token or its alternatives are not
    in `logprobs`. Probabilities are renormalised over the allowed values.

    Example:
        >>> tok = TokenLogprob("4", math.log(0.6), {"4": math.log(0.6), "5": math.log(0.4)})
        >>> weighted_score([tok], range(1, 6), 4)
        (4.4, {4: 0.6, 5: 0.4})
    """
    target = str(chosen)
    # The score comes after the rationale, so the last token spelling it is the verdict.
    for token in reversed(logprobs):
        if token.token.strip() != target:
            continue
        alternatives = {token.token: token.logprob, **token.top}
        mass: dict[int, float] = {}
        for text, logprob in alternatives.items():
            key = text.strip()
            if key.lstrip("-").isdigit() and int(key) in allowed:
                mass[int(key)] = mass.get(int(key), 0.0) + math.exp(logprob)
        total = sum(mass.values())
        if total <= 0:
            return None
        probs = {k: p / total for k, p in sorted(mass.items())}
        return sum(k * p for k, p in probs.items()), probs
    return None


def probability_true(logprobs: Sequence[TokenLogprob]) -> float | None:
    """p(true) from the last `true`/`false` token's alternatives (None when absent)."""
    for token in reversed(logprobs):
        if token.token.strip() not in ("true", "false"):
            continue
        alternatives = {token.token: token.logprob, **token.top}
        mass = {"true": 0.0, "false": 0.0}
        for text, logprob in alternatives.items():
            if text.strip() in mass:
                mass[text.strip()] += math.exp(logprob)
        total = mass["true"] + mass["false"]
        return mass["true"] / total if total > 0 else None
    return None


class LLMJudge(JudgeScorer):
    """A judge you describe: `criteria`, a `rubric`, or a whole `prompt_template`.

    - `output=bool` (default): the value is the verdict and `passed` equals it.
    - `output=range(1, 6)`: an integer score; when the endpoint returns logprobs (and
      `weighted`), the value is the probability-weighted score `sum(p(k) * k)`; `threshold`
      sets `passed`.
    - `output=["good", "ok", "bad"]`: a label; `passing` lists the labels that pass.

    `steps` are evaluation steps the judge follows in order (G-Eval style); `steps="auto"`
    has the judge write them from the criteria once (one extra call, reused for every row,
    and visible afterwards in `.steps`); `examples` are
    graded examples shown to the judge (dicts with `input`, `output`, the verdict under
    `verdict`/`score`/`label`, and optionally `rationale`). A `prompt_template` is a
    `str.format` template over {question}, {answer}, {expected}, {context}, {inputs},
    {outputs}; the output instructions are appended to it.

    Example:
        >>> LLMJudge("concise", criteria="The answer is at most three sentences, no filler.")
        >>> LLMJudge(
        ...     "helpfulness",
        ...     criteria="How helpful the answer is to the user.",
        ...     steps=["Find what the user needs.", "Check the answer provides it."],
        ...     output=range(1, 6),
        ...     threshold=4,
        ... )
    """

    def __init__(
        self,
        name: str,
        *,
        criteria: str | None = None,
        rubric: str | Mapping[Any, str] | None = None,
        prompt_template: str | None = None,
        output: Output = bool,
        examples: Sequence[Mapping[str, Any]] = (),
        steps: Sequence[str] | Literal["auto"] = (),
        threshold: float | None = None,
        passing: Collection[str] | None = None,
        weighted: bool = True,
        top_logprobs: int = 10,
    ) -> None:
        if criteria is None and rubric is None and prompt_template is None:
            raise ValueError("LLMJudge needs criteria=, rubric= or prompt_template=")
        self.name = name
        self.criteria = criteria
        self.rubric = rubric
        self.prompt_template = prompt_template
        self.examples = list(examples)
        self.auto_steps = steps == "auto"
        if self.auto_steps and not (criteria or rubric):
            raise ValueError('steps="auto" needs criteria= or rubric= to write the steps from')
        self.steps: list[str] = [] if self.auto_steps else [str(step) for step in steps]
        self._steps_lock = asyncio.Lock()
        self.threshold = threshold
        self.passing = set(passing) if passing is not None else None
        self.weighted = weighted
        self.top_logprobs = top_logprobs
        self.fields: set[str] = set()
        if prompt_template is not None:
            for _, field_name, _, _ in string.Formatter().parse(prompt_template):
                if field_name is None:
                    continue
                if field_name not in TEMPLATE_FIELDS:
                    raise ValueError(
                        f"unknown placeholder {{{field_name}}} in prompt_template; "
                        f"use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
                    )
                self.fields.add(field_name)
        self.kind, self.key, self.allowed, verdict = self._output(output)
        self.schema = obj_schema(rationale=STRING, **{self.key: verdict})

    @staticmethod
    def _output(output: Output) -> tuple[str, str, list[Any], Mapping[str, Any]]:
        if output is bool:
            return "bool", "verdict", [True, False], BOOLEAN
        if isinstance(output, range):
            values = list(output)
            if not values:
                raise ValueError("output range is empty")
            return "range", "score", values, {"type": "integer", "enum": values}
        if isinstance(output, Sequence) and not isinstance(output, str) and output:
            labels = [str(label) for label in output]
            return "labels", "label", labels, {"type": "string", "enum": labels}
        raise ValueError("output must be bool, a range of integers, or a list of labels")

    def _values(self, row: Row) -> dict[str, str]:
        return {
            "question": row.question,
            "answer": row.answer,
            "expected": row.expected or "",
            "context": numbered(row.context or [], "document"),
            "inputs": as_text(row.inputs),
            "outputs": as_text(row.outputs),
        }

    def _check(self, row: Row) -> str | None:
        if self.prompt_template is None:
            return None if row.answer.strip() else "the row has no answer"
        values = self._values(row)
        empty = sorted(f for f in self.fields if not values[f].strip())
        return f"the row has nothing for {', '.join(empty)} in the prompt" if empty else None

    def _instructions(self) -> str:
        if self.kind == "bool":
            return 'Set "verdict" to true when the response meets the criteria, false otherwise.'
        if self.kind == "range":
            lo, hi = min(self.allowed), max(self.allowed)
            return f'Set "score" to an integer from {lo} (worst) to {hi} (best).'
        return 'Set "label" to exactly one of: ' + ", ".join(f'"{x}"' for x in self.allowed) + "."

    def build_prompt(self, row: Row) -> str:
        """The user message sent to the judge for `row`."""
        instructions = self._instructions()
        if self.prompt_template is not None:
            return self.prompt_template.format(**self._values(row)) + "\n\n" + instructions
        parts: list[str] = []
        if self.criteria:
            parts.append(f"Criteria:\n{self.criteria}")
        if isinstance(self.rubric, Mapping):
            lines = "\n".join(f"- {key}: {text}" for key, text in self.rubric.items())
            parts.append(f"Rubric:\n{lines}")
        elif self.rubric:
            parts.append(f"Rubric:\n{self.rubric}")
        if self.steps:
            lines = "\n".join(f"{i}. {step}" for i, step in enumerate(self.steps, start=1))
            parts.append(
                "Evaluation steps (follow them in order and report on each in your rationale):\n"
                + lines
            )
        for i, example in enumerate(self.examples, start=1):
            parts.append(self._example(i, example))
        parts.append(f"<input>\n{row.question}\n</input>")
        if row.context:
            parts.append(f"<context>\n{numbered(row.context, 'document')}\n</context>")
        if row.expected is not None:
            parts.append(f"<reference>\n{row.expected}\n</reference>")
        parts.append(f"<response>\n{row.answer}\n</response>")
        parts.append(instructions)
        return "\n\n".join(parts)

    def _example(self, number: int, example: Mapping[str, Any]) -> str:
        given = {k: example[k] for k in ("input", "question") if k in example}
        said = {k: example[k] for k in ("output", "answer", "response") if k in example}
        verdict: dict[str, Any] = {"rationale": example.get("rationale", "")}
        for key in ("verdict", "score", "label"):
            if key in example:
                verdict[self.key] = example[key]
        return (
            f"Example {number}:\n"
            f"<input>\n{as_text(next(iter(given.values()), ''))}\n</input>\n"
            f"<response>\n{as_text(next(iter(said.values()), ''))}\n</response>\n"
            f"Judgement: {json.dumps(verdict, ensure_ascii=False, default=str)}"
        )

    async def _write_steps(self, judge: Judge) -> None:
        """Have the judge turn the criteria into evaluation steps (once per scorer)."""
        async with self._steps_lock:
            if self.steps:
                return
            rubric = self.rubric
            if isinstance(rubric, Mapping):
                rubric = "\n".join(f"- {key}: {text}" for key, text in rubric.items())
            user = prompts.STEPS_USER.format(criteria=self.criteria or "", rubric=rubric or "")
            schema = obj_schema(rationale=STRING, steps={"type": "array", "items": STRING})
            data, _ = await ask(judge, prompts.STEPS_SYSTEM, user, schema, "steps")
            steps = [s.strip() for s in list_of(data, "steps") if isinstance(s, str) and s.strip()]
            if not steps:
                raise ReplyError("the judge wrote no evaluation steps")
            self.steps = steps

    async def _judge(self, row: Row, judge: Judge) -> Score:
        if self.auto_steps and not self.steps:
            await self._write_steps(judge)
        want_logprobs = self.top_logprobs if self.weighted and self.kind != "labels" else None
        data, reply = await ask(
            judge,
            prompts.CUSTOM_SYSTEM,
            self.build_prompt(row),
            self.schema,
            self.name,
            logprobs=want_logprobs,
        )
        rationale = text_of(data, "rationale")
        if self.kind == "bool":
            verdict = bool_of(data, "verdict")
            meta: dict[str, Any] = {}
            p_true = probability_true(reply.logprobs) if reply.logprobs else None
            if p_true is not None:
                meta["p_true"] = p_true
            return Score(verdict, rationale=rationale, metadata=meta, passed=verdict)
        chosen = data.get(self.key)
        if chosen not in self.allowed or isinstance(chosen, bool):
            allowed = ", ".join(map(str, self.allowed))
            raise ReplyError(f"{self.key!r} should be one of {allowed}, got {chosen!r}")
        if self.kind == "labels":
            passed = None if self.passing is None else chosen in self.passing
            return Score(chosen, rationale=rationale, passed=passed)
        assert isinstance(chosen, int)  # checked against the allowed integers above
        weighted = weighted_score(reply.logprobs, self.allowed, chosen) if reply.logprobs else None
        if weighted is None:
            value: float = chosen
            meta = {"raw_score": chosen, "weighted": False}
        else:
            value, probs = weighted
            meta = {"raw_score": chosen, "weighted": True, "probabilities": probs}
        return Score(value, rationale=rationale, metadata=meta, passed=self._passed(value))


class PairwiseJudge(JudgeScorer):
    """Which of two outputs is better on `criteria`? Asked twice, A first then B first, to
    cancel position bias: the value is "A" or "B" when both orders agree, "tie" otherwise (or
    when the judge says so). Metadata holds both verdicts and rationales.

    Rows carry both outputs as `row.outputs = {"a": ..., "b": ...}` (keys set by `a_key` and
    `b_key`); `compare` scores one pair directly.

    Example:
        >>> judge_ab = PairwiseJudge("Which answer is more accurate and complete?")
        >>> score = await judge_ab.compare(judge, "What is 2+2?", "4", "Probably 5")
        >>> score.value
        'A'
    """

    def __init__(
        self, criteria: str, *, name: str = "pairwise", a_key: str = "a", b_key: str = "b"
    ) -> None:
        self.name = name
        self.criteria = criteria
        self.a_key = a_key
        self.b_key = b_key
        winner = {"type": "string", "enum": ["response_1", "response_2", "tie"]}
        self.schema = obj_schema(rationale=STRING, winner=winner)

    def _check(self, row: Row) -> str | None:
        outputs = row.outputs
        if not isinstance(outputs, Mapping) or not all(
            k in outputs and outputs[k] is not None for k in (self.a_key, self.b_key)
        ):
            return f"row.outputs should be a dict with {self.a_key!r} and {self.b_key!r}"
        return None

    async def _ask(self, judge: Judge, question: str, first: str, second: str) -> tuple[str, str]:
        user = prompts.PAIRWISE_USER.format(
            criteria=self.criteria, question=question, first=first, second=second
        )
        data, _ = await ask(judge, prompts.PAIRWISE_SYSTEM, user, self.schema, "pairwise")
        winner = data.get("winner")
        if winner not in ("response_1", "response_2", "tie"):
            raise ReplyError(f"'winner' should be response_1, response_2 or tie, got {winner!r}")
        return str(winner), text_of(data, "rationale")

    async def _judge(self, row: Row, judge: Judge) -> Score:
        outputs: Mapping[str, Any] = row.outputs
        a, b = as_text(outputs[self.a_key]), as_text(outputs[self.b_key])
        (first, why_first), (second, why_second) = await asyncio.gather(
            self._ask(judge, row.question, a, b), self._ask(judge, row.question, b, a)
        )
        a_first = {"response_1": "A", "response_2": "B"}.get(first, "tie")
        b_first = {"response_1": "B", "response_2": "A"}.get(second, "tie")
        value = a_first if a_first == b_first else "tie"
        note = "" if a_first == b_first else " The two orders disagree, so it is a tie."
        return Score(
            value,
            rationale=f"A shown first: {a_first}. {why_first}\n"
            f"B shown first: {b_first}. {why_second}{note}",
            metadata={
                "verdicts": {"a_first": a_first, "b_first": b_first},
                "consistent": a_first == b_first,
            },
        )

    async def compare(self, judge: Judge, question: Any, a: Any, b: Any) -> Score:
        """Score one pair of outputs for `question` (the row-free way to use the judge)."""
        row = Row(index=0, inputs=question, outputs={self.a_key: a, self.b_key: b})
        result = await self.score(row, judge)
        assert isinstance(result, Score)
        return result


__all__ = ["LLMJudge", "PairwiseJudge", "probability_true", "weighted_score"]
