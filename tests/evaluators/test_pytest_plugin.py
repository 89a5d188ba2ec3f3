"""The pytest plugin: suite files collected as test items (passing and failing, with the
summary table as the failure), invalid suites reported, and the `evaluate_suite` fixture.
Driven with `pytester` in-process, llmtrace configured to a temporary store."""

from __future__ import annotations

import pytest

from evaluators.pytest_plugin import is_suite_file
from tests.evaluators.test_cli_eval import Project, suite_text, write_project

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "evaluators.pytest_plugin", "-p", "no:cacheprovider")


@pytest.fixture
def project(pytester: pytest.Pytester, tracking: str) -> Project:
    return write_project(pytester.path)


@pytest.mark.parametrize(
    ("name", "collected"),
    [
        ("eval_qa.yaml", True),
        ("eval_qa.yml", True),
        ("qa.eval.yaml", True),
        ("qa.yaml", False),
        ("evaluation.yaml", False),
        ("eval_qa.json", False),
    ],
)
def test_suite_file_names(name: str, collected: bool) -> None:
    from pathlib import Path

    assert is_suite_file(Path(name)) is collected


def test_passing_and_failing_suites(pytester: pytest.Pytester, project: Project) -> None:
    project.suite(suite_text(project, extra="thresholds: {exact_match: 0.75}"), "eval_good.yaml")
    project.suite(suite_text(project, target="bad", extra="thresholds: {exact_match: 0.5}"),
                  "bad.eval.yaml")  # fmt: skip
    project.suite(suite_text(project), "not_a_suite.yaml")
    result = pytester.runpytest(*PLUGIN, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*eval_good.yaml::eval_good.yaml PASSED*"])
    result.stdout.fnmatch_lines(["*bad.eval.yaml::bad.eval.yaml FAILED*"])
    # The failure is the summary table, not a traceback into the plugin.
    result.stdout.fnmatch_lines(
        ["*exact_match*>= 0.5*FAIL*", "FAILED: exact_match: 0.000 < 0.500*"]
    )
    assert "Traceback" not in result.stdout.str()
    assert "pytest_plugin.py" not in result.stdout.str()


def test_invalid_suite_is_a_failed_item(pytester: pytest.Pytester, project: Project) -> None:
    project.suite("dataset: qa.jsonl\nscorers: [Nope]\n", "eval_broken.yaml")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*invalid suite:*unknown scorer 'Nope'*"])


def test_limit_option(pytester: pytest.Pytester, project: Project) -> None:
    # A threshold on the `rows` metric: 4 rows pass it, the first 2 do not.
    project.suite(suite_text(project, extra="thresholds: {rows: 4}"), "eval_rows.yaml")
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=1)
    pytester.runpytest(*PLUGIN, "--eval-limit", "2").assert_outcomes(failed=1)


def test_evaluate_suite_fixture(pytester: pytest.Pytester, project: Project) -> None:
    project.suite(suite_text(project), "qa.yaml")
    project.suite(suite_text(project, target="bad"), "worse.yaml")
    pytester.makepyfile(
        test_suites="""
        def test_good(evaluate_suite):
            outcome = evaluate_suite("qa.yaml", limit=2)
            assert outcome.passed, outcome.summary()
            assert outcome.result.metrics["rows"] == 2
            assert outcome.result.run_id

        def test_bad(evaluate_suite):
            outcome = evaluate_suite("worse.yaml")
            assert not outcome.passed
            assert "exact_match: 0.000 < 1.000" in outcome.failures
        """
    )
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=2)
