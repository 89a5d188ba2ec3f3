"""pytest plugin: evaluation suites as tests.

Suite files named `eval_*.yaml` or `*.eval.yaml` are collected as test items (one per suite);
an item fails, showing the summary table, when a threshold fails or a metric regresses
against the suite's baseline. The `evaluate_suite` fixture runs a suite from a test.

llmtrace stores the runs where it is configured (`LLMTRACE_STORE`, or `llmtrace.configure`
in a conftest). Enable the plugin with `-p evaluators.pytest_plugin` (or through its
`pytest11` entry point when installed).

Example:
    $ pytest evals/                      # runs evals/eval_qa.yaml, evals/rag.eval.yaml, ...
    $ pytest evals/ --eval-limit 20      # the first 20 rows of each dataset

    def test_qa_suite(evaluate_suite):
        outcome = evaluate_suite("evals/qa.yaml", limit=50)
        assert outcome.passed, outcome.summary()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluators._suite import SuiteError, SuiteResult, run_suite


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--eval-limit`, `--eval-judge`: overrides for every collected suite."""
    group = parser.getgroup("llmtrace-eval", "llmtrace evaluation suites")
    group.addoption(
        "--eval-limit", type=int, default=None, help="evaluate only the first N rows of suites"
    )
    group.addoption("--eval-judge", default=None, help="judge model for suites' judge scorers")


def is_suite_file(path: Path) -> bool:
    """True for `eval_*.yaml` / `eval_*.yml` and `*.eval.yaml` / `*.eval.yml` files."""
    name = path.name
    if not name.endswith((".yaml", ".yml")):
        return False
    stem = name.rsplit(".", 1)[0]
    return stem.startswith("eval_") or stem.endswith(".eval")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect suite files."""
    if is_suite_file(file_path):
        suite_file: SuiteFile = SuiteFile.from_parent(parent, path=file_path)
        return suite_file
    return None


class SuiteFailed(Exception):
    """A suite ran but did not pass (its summary is the message)."""


class SuiteFile(pytest.File):
    """A suite file: one `SuiteItem`."""

    def collect(self) -> Iterator[pytest.Item]:
        """The suite item, named after the file."""
        yield SuiteItem.from_parent(self, name=self.path.name)


class SuiteItem(pytest.Item):
    """Runs one suite; fails with its summary table."""

    def runtest(self) -> None:
        """Run the suite; raise `SuiteFailed` unless it passed."""
        config = self.config
        outcome = run_suite(
            self.path,
            limit=config.getoption("eval_limit", None),
            judge=config.getoption("eval_judge", None),
            progress=False,
        )
        self.user_properties.append(("run_id", outcome.result.run_id))
        if not outcome.passed:
            raise SuiteFailed(outcome.summary())

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        """The summary table for a failed suite, the error for an invalid one."""
        if isinstance(excinfo.value, SuiteFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, SuiteError):
            return f"invalid suite: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the item comes from, for pytest's report."""
        return self.path, None, f"evaluation suite {self.name}"


@pytest.fixture
def evaluate_suite() -> Callable[..., SuiteResult]:
    """Run a suite file: `evaluate_suite(path, *, judge=None, limit=None, baseline=None)`
    returns the `SuiteResult` (`.passed`, `.failures`, `.summary()`, `.result`).

    Example:
        def test_qa(evaluate_suite):
            outcome = evaluate_suite("evals/qa.yaml")
            assert outcome.passed, outcome.summary()
    """

    def run(path: str | Path, **overrides: Any) -> SuiteResult:
        overrides.setdefault("progress", False)
        return run_suite(path, **overrides)

    return run


__all__ = [
    "SuiteFailed",
    "SuiteFile",
    "SuiteItem",
    "evaluate_suite",
    "is_suite_file",
    "pytest_addoption",
    "pytest_collect_file",
]
