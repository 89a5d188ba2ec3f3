"""Evaluating stored datasets: `EvaluationDataset` handles, `datasets:/<name>` URIs, records
built from traces, suites that name a stored dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

import llmtrace
from evaluators import evaluate
from evaluators._suite import run_suite
from evaluators.scorers import ExactMatch
from tests.evaluators.test_cli_eval import write_project

pytestmark = pytest.mark.usefixtures("tracking")

RECORDS = [
    {"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}},
    {"inputs": {"question": "3+3?"}, "expectations": {"expected_response": "6"}},
    {"inputs": {"question": "4+4?"}, "expectations": {"expected_response": "8"}},
]


def answer(question: str) -> str:
    return {"2+2?": "4", "3+3?": "6"}.get(question, "?")


def test_evaluate_a_stored_dataset_records_its_name_and_digest() -> None:
    dataset = llmtrace.create_dataset("arith", records=RECORDS)
    result = evaluate(dataset, predict=answer, scorers=[ExactMatch()])
    assert result.rows["exact_match"].tolist() == [True, True, False]
    run = llmtrace.get_run(result.run_id or "")
    assert run.params["dataset"] == "arith"
    assert run.params["dataset_digest"] == dataset.digest
    record_ids = [r.record_id for r in dataset.records()]
    assert [r.row.metadata["dataset_record_id"] for r in result.results] == record_ids


def test_a_dataset_uri_reads_the_current_contents() -> None:
    dataset = llmtrace.create_dataset("arith", records=RECORDS[:2])
    before = dataset.digest
    # Another writer adds a record: the URI (and a stale handle) evaluate what is stored now.
    llmtrace.get_dataset("arith").merge_records(RECORDS[2:])
    by_uri = evaluate("datasets:/arith", predict=answer, scorers=[ExactMatch()])
    by_handle = evaluate(dataset, predict=answer, scorers=[ExactMatch()])
    for result in (by_uri, by_handle):
        assert len(result.results) == 3
        run = llmtrace.get_run(result.run_id or "")
        assert run.params["dataset_digest"] not in ("", before)
    with pytest.raises(llmtrace.NotFoundError, match="dataset 'missing' not found"):
        evaluate("datasets:/missing", scorers=[ExactMatch()])


def test_records_from_traces_keep_their_source_trace() -> None:
    @llmtrace.trace
    def pipeline(question: str) -> str:
        return answer(question)

    pipeline("2+2?")
    pipeline("3+3?")
    assert llmtrace.flush(10)
    traces = llmtrace.search_traces()
    assert len(traces) == 2
    dataset = llmtrace.create_dataset("from-traces", records=traces)
    records = list(dataset.records())
    assert {r.source_trace_id for r in records} == {t.trace_id for t in traces}
    assert sorted(r.outputs for r in records) == ["4", "6"]
    # Without predict, outputs come from the records; the rows keep the source traces.
    result = evaluate(dataset, scorers=[ExactMatch()], log=False)
    assert {r.row.trace_id for r in result.results} == {t.trace_id for t in traces}


def test_dataframe_records_and_to_pandas() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"inputs": ["a", "b"], "outputs": ["x", None], "metadata": [{"k": 1}, None]}
    )
    dataset = llmtrace.create_dataset("frame", records=frame)
    back = dataset.to_pandas()
    assert back["inputs"].tolist() == ["a", "b"]
    assert back["outputs"].tolist()[0] == "x"
    assert back["metadata"].tolist() == [{"k": 1}, {}]


def test_a_suite_can_name_a_stored_dataset(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    records = [
        {"inputs": r["inputs"], "expectations": {"expected_response": r["expected_response"]}}
        for r in map(__import__("json").loads, (project.root / "qa.jsonl").read_text().splitlines())
    ]
    llmtrace.create_dataset("qa-stored", records=records)
    suite = project.suite(
        "name: qa\ndataset: datasets:/qa-stored\n"
        f"target: {project.good}:answer\nscorers:\n  - ExactMatch\n"
    )
    outcome = run_suite(suite)
    assert outcome.result.metrics["exact_match/mean"] == 1.0
    run = llmtrace.get_run(outcome.result.run_id or "")
    assert run.params["dataset"] == "qa-stored"
