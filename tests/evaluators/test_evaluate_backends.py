"""One end-to-end evaluation on PostgreSQL: traces, run, assessments and stored results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import llmtrace
from evaluators import evaluate, load_results
from evaluators.scorers import ExactMatch, Latency
from tests.evaluators.conftest import reset_fluent_state


def test_predict_and_store_on_postgresql(
    configure_tracing: Callable[..., str], migrated_postgresql_url: str, tmp_path: Path
) -> None:
    configure_tracing(store=migrated_postgresql_url, artifacts=str(tmp_path / "artifacts"))
    try:
        rows = [
            {"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}},
            {"inputs": {"question": "3+3?"}, "expectations": {"expected_response": "7"}},
        ]

        def answer(question: str) -> str:
            return {"2+2?": "4", "3+3?": "6"}[question]

        result = evaluate(
            rows, predict=answer, scorers=[ExactMatch(), Latency(max_ms=60_000)], experiment="pg"
        )
        assert result.rows["exact_match"].tolist() == [True, False]
        assert not result.passed
        trace = llmtrace.get_trace(result.rows["trace_id"][1])
        assert trace.info.run_id == result.run_id
        assert {(a.name, a.value) for a in trace.assessments if a.name == "exact_match"} == {
            ("exact_match", False)
        }
        assert llmtrace.get_run(result.run_id or "").metrics["exact_match/mean"] == 0.5
        assert load_results(result.run_id or "").scores == result.scores
    finally:
        reset_fluent_state()
