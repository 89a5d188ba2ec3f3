"""`evaluate` end to end on a real SQLite store: data formats, predict (sync/async) under
traces of the run, failures as data, aggregates, thresholds, storage and `load_results`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmtrace
from evaluators import (
    EvaluationResult,
    Row,
    Score,
    Scorer,
    aevaluate,
    bootstrap_ci,
    evaluate,
    load_results,
    scorer,
)
from evaluators.judge import Judge, JudgeReply
from evaluators.scorers import ExactMatch, Latency, Length

pytestmark = pytest.mark.usefixtures("tracking")

DATA = [
    {"inputs": {"question": "2+2?"}, "outputs": "4", "expectations": {"expected_response": "4"}},
    {"inputs": {"question": "3+3?"}, "outputs": "7", "expectations": {"expected_response": "6"}},
    {"inputs": {"question": "1+1?"}, "outputs": "2", "expectations": {"expected_response": "2"}},
]


@scorer
def explode(outputs: Any) -> bool:
    raise RuntimeError("scorer broke")


def answer(question: str) -> str:
    if question == "boom?":
        raise ValueError("pipeline broke")
    return {"2+2?": "4", "3+3?": "6"}.get(question, "?")


class TestDataFormats:
    def check(self, result: EvaluationResult) -> None:
        assert [r.row.index for r in result.results] == [0, 1, 2]
        assert result.rows["exact_match"].tolist() == [True, False, True]
        assert result.metrics["exact_match/mean"] == pytest.approx(2 / 3)

    def test_list_of_dicts(self) -> None:
        self.check(evaluate(DATA, scorers=[ExactMatch()], log=False))

    def test_dataframe(self) -> None:
        self.check(evaluate(pd.DataFrame(DATA), scorers=[ExactMatch()], log=False))

    def test_jsonl(self, tmp_path: Path) -> None:
        path = tmp_path / "data.jsonl"
        path.write_text("\n".join(json.dumps(d) for d in DATA) + "\n\n")
        self.check(evaluate(path, scorers=[ExactMatch()], log=False))

    def test_csv_with_flat_columns(self, tmp_path: Path) -> None:
        path = tmp_path / "data.csv"
        flat = pd.DataFrame(
            {
                "question": [d["inputs"]["question"] for d in DATA],  # type: ignore[index]
                "response": [d["outputs"] for d in DATA],
                "expected_response": [d["expectations"]["expected_response"] for d in DATA],  # type: ignore[index]
                "metadata": ['{"topic": "math"}'] * 3,
            }
        )
        flat.to_csv(path, index=False)
        result = evaluate(str(path), scorers=[ExactMatch()], log=False)
        self.check(result)
        assert result.results[0].row.metadata == {"topic": "math"}

    def test_missing_inputs_is_a_clear_error(self) -> None:
        from evaluators import DataError

        with pytest.raises(DataError, match="row 1: no inputs"):
            evaluate([{"inputs": "a"}, {"outputs": "b"}], scorers=[ExactMatch()], log=False)

    def test_traces_from_search(self) -> None:
        @llmtrace.trace
        def shout(text: str) -> str:
            return text.upper()

        shout("hi")
        shout("yo")
        assert llmtrace.flush(10)
        traces = llmtrace.search_traces(order_by="start_time asc")

        @scorer
        def is_upper(outputs: str) -> bool:
            return outputs.isupper()

        result = evaluate(traces, scorers=[is_upper, Latency(max_ms=60_000)])
        assert result.rows["outputs"].tolist() == ["HI", "YO"]
        assert result.rows["inputs"].tolist() == [{"text": "hi"}, {"text": "yo"}]
        assert result.rows["trace_id"].tolist() == [t.trace_id for t in traces]
        assert result.passed
        stored = llmtrace.get_trace(traces[0].trace_id).assessments
        assert {(a.name, a.value) for a in stored} >= {("is_upper", True)}


class TestPredict:
    rows: Sequence[Mapping[str, Any]] = [
        {"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}},
        {"inputs": {"question": "boom?"}, "expectations": {"expected_response": "x"}},
        {"inputs": {"question": "3+3?"}, "expectations": {"expected_response": "6"}},
    ]

    def check(self, result: EvaluationResult) -> None:
        table = result.rows
        assert table["outputs"].tolist()[0] == "4" and table["outputs"].tolist()[2] == "6"
        assert table["error"][1] == "ValueError: pipeline broke"
        # the failed row's scores are errors, the others scored
        assert table["exact_match/error"][1].startswith("predict failed")
        assert result.metrics["exact_match/pass_rate"] == pytest.approx(2 / 3)
        assert result.metrics["predict_errors"] == 1
        assert not result.passed
        # every row has a trace of the run, with its scores as assessments
        assert result.run_id is not None
        for trace_id in table["trace_id"]:
            trace = llmtrace.get_trace(trace_id)
            assert trace.info.run_id == result.run_id
            names = {a.name for a in trace.assessments}
            assert names == {"exact_match", "latency"}
        failed = llmtrace.get_trace(table["trace_id"][1])
        assert failed.info.status == "ERROR"
        ok = llmtrace.get_trace(table["trace_id"][0])
        em = next(a for a in ok.assessments if a.name == "exact_match")
        assert em.value is True and em.source_type == "CODE" and em.source_id == result.run_id
        assert ok.root is not None and ok.root.inputs == {"question": "2+2?"}

    def test_sync_predict(self) -> None:
        result = evaluate(
            self.rows,
            predict=answer,
            scorers=[ExactMatch(), Latency(max_ms=60_000)],
            experiment="qa",
            name="sync",
        )
        self.check(result)
        run = llmtrace.get_run(result.run_id or "")
        assert run.info.name == "sync"
        assert run.params["scorers"] == "exact_match,latency"
        assert run.params["rows"] == "3"
        assert run.metrics["exact_match/pass_rate"] == pytest.approx(2 / 3)

    def test_async_predict(self) -> None:
        async def async_answer(question: str) -> str:
            await asyncio.sleep(0.01)
            return answer(question)

        self.check(
            evaluate(
                self.rows,
                predict=async_answer,
                scorers=[ExactMatch(), Latency(max_ms=60_000)],
                max_workers=2,
            )
        )

    def test_positional_input_and_latency_from_trace(self) -> None:
        def echo(text: str) -> str:
            return text

        result = evaluate([{"inputs": "hi"}], predict=echo, scorers=[Latency()])
        row = result.results[0].row
        assert row.outputs == "hi"
        assert row.latency_ms is not None and row.latency_ms >= 0
        assert result.rows["latency"][0] == row.latency_ms

    def test_aevaluate_in_running_loop(self) -> None:
        async def main() -> EvaluationResult:
            inner = evaluate(DATA, scorers=[ExactMatch()], log=False)  # worker thread
            assert inner.metrics["exact_match/mean"] == pytest.approx(2 / 3)
            return await aevaluate(DATA, scorers=[ExactMatch()], log=False)

        assert asyncio.run(main()).metrics["exact_match/count"] == 3

    def test_nested_under_active_run(self) -> None:
        with llmtrace.start_run(name="outer") as outer:
            result = evaluate(DATA, scorers=[ExactMatch()])
        run = llmtrace.get_run(result.run_id or "")
        assert run.info.parent_run_id == outer.run_id


class TestFailuresAndThresholds:
    def test_failing_scorer_is_recorded_and_run_goes_on(self) -> None:
        result = evaluate(DATA, scorers=[ExactMatch(), explode], log=False)
        assert result.rows["explode/error"].tolist() == ["RuntimeError: scorer broke"] * 3
        assert result.rows["exact_match"].tolist() == [True, False, True]
        assert result.metrics["explode/errors"] == 3
        assert result.metrics["explode/pass_rate"] == 0
        assert "explode/mean" not in result.metrics

    def test_passed_needs_every_row_by_default(self) -> None:
        assert not evaluate(DATA, scorers=[ExactMatch()], log=False).passed
        assert evaluate(DATA[:1], scorers=[ExactMatch()], log=False).passed

    def test_thresholds_relax_pass_rate_and_gate_mean(self) -> None:
        relaxed = evaluate(DATA, scorers=[ExactMatch()], thresholds={"exact_match": 0.6}, log=False)
        assert relaxed.passed
        strict = evaluate(
            DATA, scorers=[Length()], thresholds={"length/mean": 2}, log=False
        )  # lengths are all 1
        assert not strict.passed

    def test_scorer_threshold_turns_numbers_into_verdicts(self) -> None:
        @scorer(threshold=0.5)
        def half(outputs: str) -> float:
            return 1.0 if outputs == "4" else 0.0

        result = evaluate(DATA, scorers=[half], thresholds={"half": 0.3}, log=False)
        assert result.rows["half/passed"].tolist() == [True, False, False]
        assert result.metrics["half/pass_rate"] == pytest.approx(1 / 3)
        assert result.passed

    def test_labels_make_no_verdict(self) -> None:
        @scorer
        def tone(outputs: str) -> str:
            return "neutral"

        result = evaluate(DATA, scorers=[tone], log=False)
        assert result.passed and "tone/pass_rate" not in result.metrics

    def test_several_scores_from_one_scorer(self) -> None:
        @scorer
        def stats(outputs: str) -> dict[str, Any]:
            return {"digit": outputs.isdigit(), "size": len(outputs)}

        result = evaluate(DATA, scorers=[stats], log=False)
        assert result.metrics["stats/digit/mean"] == 1.0
        assert result.metrics["stats/size/mean"] == 1.0

    def test_duplicate_names_rejected(self) -> None:
        with pytest.raises(ValueError, match="unique"):
            evaluate(DATA, scorers=[ExactMatch(), ExactMatch()], log=False)

    def test_non_scorer_rejected(self) -> None:
        with pytest.raises(TypeError, match="not a Scorer"):
            evaluate(DATA, scorers=[lambda outputs: True], log=False)  # type: ignore[list-item]


class _EchoJudge(Judge):
    model = "echo-judge"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, messages: Any, **kwargs: Any) -> JudgeReply:
        self.calls += 1
        return JudgeReply(text="yes", cost=0.5, cached=self.calls > 2)


class _NeedsJudge(Scorer):
    name = "judged"
    needs_judge = True
    source_type = "LLM_JUDGE"

    async def score(self, row: Row, judge: Judge | None) -> Score:
        assert judge is not None
        reply = await judge.complete([{"role": "user", "content": row.answer}])
        return Score(reply.text == "yes")


class TestJudge:
    def test_judge_passed_and_counted(self) -> None:
        judge = _EchoJudge()
        result = evaluate(DATA, scorers=[_NeedsJudge()], judge=judge, max_workers=1)
        assert result.rows["judged"].tolist() == [True, True, True]
        run = llmtrace.get_run(result.run_id or "")
        assert run.params["judge"] == "echo-judge"
        assert run.metrics["judge_calls"] == 2  # the third reply came from the cache
        assert run.metrics["judge_cost"] == pytest.approx(1.5)

    def test_missing_judge_is_a_row_error(self) -> None:
        result = evaluate(DATA, scorers=[_NeedsJudge()], log=False)
        assert all("needs a judge" in e for e in result.rows["judged/error"])


class TestStorage:
    def test_load_results_round_trip(self) -> None:
        result = evaluate(
            DATA, scorers=[ExactMatch(), explode], experiment="qa", thresholds={"explode": 0}
        )
        loaded = load_results(result.run_id or "")
        assert loaded.run_id == result.run_id
        assert loaded.passed == result.passed
        assert loaded.metrics == pytest.approx(result.metrics)
        assert loaded.scores == result.scores
        pd.testing.assert_frame_equal(loaded.rows, result.rows)

    def test_table_artifact(self) -> None:
        result = evaluate(DATA, scorers=[ExactMatch()])
        table = llmtrace.TrackingClient(llmtrace.get_store()).load_table(
            result.run_id or "", "eval_table.json"
        )
        assert list(table["exact_match"]) == [True, False, True]
        assert json.loads(table["inputs"][0]) == {"question": "2+2?"}

    def test_log_false_makes_no_run(self) -> None:
        result = evaluate(DATA, scorers=[ExactMatch()], experiment="never-made", log=False)
        assert result.run_id is None
        assert llmtrace.get_experiment_by_name("never-made") is None


class TestBootstrap:
    def test_deterministic_and_contains_mean(self) -> None:
        values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
        first = bootstrap_ci(values)
        assert first == bootstrap_ci(values)
        assert first is not None
        low, high = first
        assert low <= sum(values) / len(values) <= high
        assert 0.0 <= low < high <= 1.0

    def test_degenerate(self) -> None:
        assert bootstrap_ci([]) is None
        assert bootstrap_ci([0.3]) == (0.3, 0.3)
        assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)

    def test_narrows_with_more_data(self) -> None:
        small = bootstrap_ci([1.0, 0.0] * 5)
        large = bootstrap_ci([1.0, 0.0] * 500)
        assert small is not None and large is not None
        assert large[1] - large[0] < small[1] - small[0]

    def test_metrics_carry_ci(self) -> None:
        result = evaluate(DATA, scorers=[ExactMatch()], log=False)
        m = result.metrics
        assert m["exact_match/ci_low"] <= m["exact_match/mean"] <= m["exact_match/ci_high"]


def test_unknown_threshold_names_are_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="evaluators"):
        evaluate(DATA, scorers=[ExactMatch()], thresholds={"exact_mtch": 0.5}, log=False)
    assert "exact_mtch" in caplog.text


def test_dict_inputs_go_positional_when_names_do_not_fit() -> None:
    seen: list[Any] = []

    def pipeline(payload: dict[str, Any]) -> str:
        seen.append(payload)
        return "ok"

    evaluate([{"inputs": {"question": "q"}}], predict=pipeline, scorers=[Length()], log=False)
    assert seen == [{"question": "q"}]
