"""Suite files: parsing and validation (`load_suite`), scorer lookup by name at run time,
import paths, thresholds, and `run_suite` on CSV data and failing targets."""

from __future__ import annotations

import csv
import secrets
import sys
from pathlib import Path

import pytest

import evaluators.scorers
from evaluators import Row, Score, Scorer
from evaluators._suite import run_suite
from evaluators._suite_file import (
    ScorerSpec,
    SuiteError,
    build_scorer,
    known_scorers,
    load_suite,
)
from evaluators.judge import Judge
from evaluators.scorers import ExactMatch, FunctionScorer, Regex
from tests.evaluators.test_cli_eval import Project, suite_text, write_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return write_project(tmp_path / "evals")


def test_load_suite_reads_every_key(project: Project) -> None:
    path = project.suite(
        "name: qa\nexperiment: e\ndataset: {path: qa.jsonl, limit: 3}\n"
        f"target: {project.good}:answer\njudge: openai:gpt-4o-mini\n"
        "scorers:\n  - ExactMatch\n  - {name: Regex, pattern: x}\n  - {Latency: {max_ms: 5}}\n"
        "  - {Length: null}\n"
        "thresholds: {exact_match: 0.5, regex/mean: 1}\nbaseline: latest\nmax_workers: 2\n"
    )
    suite = load_suite(path)
    assert (suite.name, suite.experiment, suite.limit, suite.max_workers) == ("qa", "e", 3, 2)
    assert suite.dataset == (project.root / "qa.jsonl").resolve()
    assert suite.target == f"{project.good}:answer"
    assert suite.judge == "openai:gpt-4o-mini" and suite.baseline == "latest"
    assert [(s.name, s.params) for s in suite.scorers] == [
        ("ExactMatch", {}),
        ("Regex", {"pattern": "x"}),
        ("Latency", {"max_ms": 5}),
        ("Length", {}),
    ]
    assert [s.line for s in suite.scorers] == [7, 8, 9, 10]
    assert suite.thresholds == {"exact_match": 0.5, "regex/mean": 1.0}


@pytest.mark.parametrize(
    ("file_name", "name"), [("eval_qa.yaml", "eval_qa"), ("rag.eval.yaml", "rag")]
)
def test_name_defaults_to_the_file_name(project: Project, file_name: str, name: str) -> None:
    path = project.suite("dataset: qa.jsonl\nscorers: [ExactMatch]\n", file_name)
    assert load_suite(path).name == name


def test_errors_name_file_line_and_key(project: Project) -> None:
    path = project.suite("dataset: qa.jsonl\nscorers:\n  - ExactMatch\n  - 3\n")
    with pytest.raises(SuiteError, match=r"suite\.yaml:4: scorers\.1: expected a scorer name"):
        load_suite(path)


def test_scorers_are_looked_up_when_the_suite_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    class Shouty(Scorer):
        name = "shouty"

        async def score(self, row: Row, judge: Judge | None) -> Score:
            return Score(str(row.outputs).isupper())

    assert "Shouty" not in known_scorers()
    monkeypatch.setattr(evaluators.scorers, "Shouty", Shouty, raising=False)
    monkeypatch.setattr(evaluators.scorers, "__all__", [*evaluators.scorers.__all__, "Shouty"])
    assert isinstance(build_scorer(ScorerSpec("Shouty")), Shouty)
    assert "Shouty" in known_scorers()


def test_names_ignore_case_and_underscores() -> None:
    assert isinstance(build_scorer(ScorerSpec("exact_match")), ExactMatch)
    regex = build_scorer(ScorerSpec("regex", {"pattern": "a+", "name": "has_a"}))
    assert isinstance(regex, Regex) and regex.name == "has_a"


def test_unknown_name_lists_known_scorers() -> None:
    with pytest.raises(LookupError, match=r"unknown scorer 'Nope'; known: .*ExactMatch.*Regex"):
        build_scorer(ScorerSpec("Nope"))


def test_import_paths(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(project.root))
    decorated = build_scorer(ScorerSpec(f"{project.scorers}:short"))
    assert isinstance(decorated, FunctionScorer) and decorated.name == "short"
    plain = build_scorer(ScorerSpec(f"{project.scorers}:not_empty", {"threshold": 1}))
    assert isinstance(plain, FunctionScorer) and plain.name == "not_empty"
    cls = build_scorer(ScorerSpec("evaluators.scorers:Regex", {"pattern": "x"}))
    assert isinstance(cls, Regex)
    with pytest.raises(LookupError, match="has no attribute 'nope'"):
        build_scorer(ScorerSpec(f"{project.scorers}:nope"))


def test_csv_dataset_and_a_failing_target(project: Project, tracking: str) -> None:
    with (project.root / "qa.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "expected_response"])
        writer.writerows([["2+2?", "4"], ["unknown?", "?"]])
    body = suite_text(project).replace("qa.jsonl", "qa.csv")
    outcome = run_suite(project.suite(body + "thresholds: {exact_match: 0.5, filled: 0.5}\n"))
    # The target raises KeyError on the second question: a predict error, failing that row.
    assert outcome.result.metrics["predict_errors"] == 1
    assert outcome.result.metrics["exact_match/pass_rate"] == 0.5
    assert not outcome.passed
    assert "regex: 0.500 < 1.000" in outcome.failures
    assert "1 predict errors" in outcome.summary().splitlines()[0]
    assert outcome.to_dict()["thresholds"][0] == {
        "metric": "exact_match",
        "minimum": 0.5,
        "value": 0.5,
        "passed": True,
    }


def test_suite_without_target_scores_stored_outputs(tmp_path: Path, tracking: str) -> None:
    (tmp_path / "rows.jsonl").write_text(
        '{"question": "q1", "response": "a", "expected": "a"}\n'
        '{"question": "q2", "response": "b", "expected": "c"}\n',
        encoding="utf-8",
    )
    path = tmp_path / "eval_stored.yaml"
    path.write_text(
        "dataset: rows.jsonl\nscorers: [ExactMatch]\nthresholds: {exact_match/mean: 0.5, "
        "exact_match: 0.5}\n",
        encoding="utf-8",
    )
    outcome = run_suite(path)
    assert outcome.passed, outcome.summary()
    assert outcome.result.metrics["exact_match/mean"] == 0.5
    summary = outcome.summary()
    assert "exact_match/mean" in summary and summary.endswith("PASSED")


def test_same_module_name_in_two_suite_folders(tmp_path: Path, tracking: str) -> None:
    module = f"pipeline_{secrets.token_hex(4)}"
    paths = []
    for folder, reply in (("a", "4"), ("b", "5")):
        root = tmp_path / folder
        root.mkdir()
        (root / "rows.jsonl").write_text('{"question": "2+2?", "expected": "4"}\n')
        (root / f"{module}.py").write_text(f"def answer(question):\n    return {reply!r}\n")
        path = root / "eval_it.yaml"
        path.write_text(f"dataset: rows.jsonl\ntarget: {module}:answer\nscorers: [ExactMatch]\n")
        paths.append(path)
    try:
        assert run_suite(paths[0]).passed
        assert not run_suite(paths[1]).passed  # its own module, not the one imported first
        assert run_suite(paths[0]).passed
    finally:
        sys.modules.pop(module, None)
