"""The public surface of `evaluators`, the progress bar and the baseline hook."""

from __future__ import annotations

from typing import Any

import pytest

import evaluators
import evaluators.scorers
from evaluators import evaluate
from evaluators.scorers import ExactMatch, Latency

DATA = [{"inputs": "a", "outputs": "a", "expected_response": "a"}]


def test_public_names_are_sorted_and_importable() -> None:
    for module in (evaluators, evaluators.scorers):
        names = module.__all__
        # ruff's RUF022 order: CONSTANTS, then Classes, then functions
        assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        for name in names:
            assert getattr(module, name) is not None


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    evaluate(DATA * 3, scorers=[ExactMatch()], progress=True, log=False)
    err = capsys.readouterr().err
    assert "evaluate" in err and "3/3" in err and "errors=0" in err


def test_no_progress_bar_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    evaluate(DATA, scorers=[ExactMatch()], log=False)
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("tracking")
def test_baseline_uses_compare_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any, Any]] = []

    def compare(run_a: str, run_b: Any, lower_is_better: Any = ()) -> Any:
        calls.append((run_a, run_b, lower_is_better))
        return "comparison"

    first = evaluate(DATA, scorers=[ExactMatch()])
    assert first.comparison is None
    monkeypatch.setattr(evaluators, "compare", compare, raising=False)
    second = evaluate(DATA, scorers=[ExactMatch(), Latency()], baseline=first.run_id)
    assert calls == [(first.run_id, second, ["latency"])]
    assert second.comparison == "comparison"


@pytest.mark.usefixtures("tracking")
def test_baseline_with_the_real_comparison() -> None:
    data = [{"inputs": str(i), "outputs": "a", "expected_response": "a"} for i in range(30)]
    first = evaluate(data, scorers=[ExactMatch()], experiment="cmp")
    worse = [{**d, "outputs": "b" if i < 20 else "a"} for i, d in enumerate(data)]
    second = evaluate(worse, scorers=[ExactMatch()], experiment="cmp", baseline=first.run_id)
    assert second.comparison is not None
    assert [m.metric for m in second.comparison.regressions] == ["exact_match"]


def test_a_judge_that_is_not_one_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="cannot make a judge of int"):
        evaluate(DATA, scorers=[ExactMatch()], judge=42, log=False)
    with pytest.raises(ValueError, match="unknown judge provider 'nope'"):
        evaluate(DATA, scorers=[ExactMatch()], judge="nope:model", log=False)


def test_a_langchain_chat_model_is_a_judge() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from evaluators.scorers import LLMJudge

    chat = FakeListChatModel(responses=['{"rationale": "short", "verdict": true}'] * 3)
    result = evaluate(DATA, scorers=[LLMJudge("concise", criteria="short")], judge=chat, log=False)
    assert [r.scores["concise"].value for r in result.results] == [True] * len(DATA)


def test_rows_keep_order_and_workers_are_bounded() -> None:
    import asyncio

    from evaluators import Row, Score, Scorer
    from evaluators.judge import Judge

    class Slow(Scorer):
        name = "slow"

        def __init__(self) -> None:
            self.running = 0
            self.peak = 0

        async def score(self, row: Row, judge: Judge | None) -> Score:
            self.running += 1
            self.peak = max(self.peak, self.running)
            await asyncio.sleep(0.02 * (5 - row.index % 5))  # later rows finish first
            self.running -= 1
            return Score(row.index)

    slow = Slow()
    data = [{"inputs": str(i)} for i in range(10)]
    result = evaluate(data, scorers=[slow], max_workers=3, log=False)
    assert result.rows["slow"].tolist() == list(range(10))
    assert slow.peak == 3


@pytest.mark.usefixtures("tracking")
def test_trace_id_in_data_links_scores_to_that_trace() -> None:
    import llmtrace

    with llmtrace.span("answer", inputs={"q": "x"}) as live:
        live.set_outputs("4")
    assert llmtrace.flush(10)
    trace_id = live.trace_id
    evaluate(
        [{"inputs": "x", "outputs": "4", "expected_response": "4", "trace_id": trace_id}],
        scorers=[ExactMatch()],
    )
    stored = llmtrace.get_trace(trace_id or "").assessments
    assert [(a.name, a.value) for a in stored] == [("exact_match", True)]
