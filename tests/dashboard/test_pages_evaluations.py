"""The Evaluations page under AppTest, over runs stored by real `evaluate()` calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import llmtrace
from evaluators import evaluate
from evaluators.scorers import ExactMatch
from tests.server.conftest import live_server
from tests.tracking.conftest import configure_tracing, reset_fluent_state, tracking

__all__ = ["configure_tracing", "live_server", "reset_fluent_state", "tracking"]

App = Callable[[str], AppTest]
ANSWERS = {f"{n}+{n}": str(2 * n) for n in range(8)}
DATA = [
    {"inputs": {"question": q}, "expectations": {"expected_response": a}}
    for q, a in ANSWERS.items()
]


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [
        str(getattr(node, "value", ""))
        for kind in ("markdown", "caption", "error", "title", "subheader", "info", "success")
        for node in getattr(at, kind)
    ]
    return "\n".join(parts)


@dataclass(frozen=True)
class Evaluated:
    url: str
    baseline: str
    candidate: str


@pytest.fixture
def evaluated(tracking: str) -> Evaluated:
    """Two evaluation runs of one dataset: `baseline` answers all 8 rows right, `candidate`
    gets the first 7 wrong (a significant regression by McNemar's test)."""

    def right(question: str) -> str:
        return ANSWERS[question]

    def wrong(question: str) -> str:
        return "?" if question != "7+7" else ANSWERS[question]

    base = evaluate(DATA, right, scorers=[ExactMatch()], experiment="qa", name="baseline")
    cand = evaluate(DATA, wrong, scorers=[ExactMatch()], experiment="qa", name="candidate")
    assert llmtrace.flush(10)
    assert base.run_id and cand.run_id
    return Evaluated(tracking, base.run_id, cand.run_id)


def open_page(url: str, app: App) -> AppTest:
    at = no_exception(app(url).run())
    at.switch_page("pages/evaluations.py")
    return no_exception(at.run())


def test_renders_on_an_empty_store(migrated_sqlite_url: str, app: App) -> None:
    at = open_page(migrated_sqlite_url, app)
    assert "No evaluation runs yet" in texts(at)


def test_lists_runs_and_shows_a_runs_rows(evaluated: Evaluated, app: App) -> None:
    at = open_page(evaluated.url, app)
    runs = at.dataframe[0].value
    assert list(runs["run"]) == ["candidate", "baseline"]
    assert list(runs["exact_match/mean"]) == [0.125, 1.0]
    # The newest run is open: its 8 rows, each linking to its trace.
    assert at.selectbox(key="evals_run").value == evaluated.candidate
    rows = at.dataframe[1].value
    assert len(rows) == 8
    assert all(str(link).startswith("trace?trace_id=") for link in rows["trace"])
    assert '"question": "0+0"' in str(rows["inputs"][0])
    assert list(rows["exact_match"]) == [False] * 7 + [True]
    assert "8 of 8 rows" in texts(at)
    # Only the failures.
    at.checkbox(key="evals_failures").check().run()
    failures = no_exception(at).dataframe[1].value
    assert len(failures) == 7 and not any(failures["exact_match"])
    assert "7 of 8 rows" in texts(at)
    # The baseline has none.
    at.selectbox(key="evals_run").select(evaluated.baseline).run()
    assert "No failing rows." in texts(no_exception(at))


def test_compares_with_a_baseline_and_flags_the_regression(evaluated: Evaluated, app: App) -> None:
    at = open_page(evaluated.url, app)
    at.selectbox(key="evals_baseline").select(evaluated.baseline).run()
    no_exception(at)
    assert "Regressions: exact_match" in texts(at)
    assert "8 rows paired by input (0 only in baseline, 0 only in candidate)" in texts(at)
    frames = [d.value for d in at.dataframe]
    metrics = next(f for f in frames if "p_value" in f.columns)
    row = metrics[metrics["metric"] == "exact_match"].iloc[0]
    assert row["test"] == "mcnemar" and row["regressed"]
    assert row["delta"] == pytest.approx(-0.875)
    pairs = next(f for f in frames if "exact_match Δ" in f.columns)
    assert list(pairs["regressed"]) == [True] * 7 + [False]
    at.checkbox(key="evals_regressed").check().run()
    frames = [d.value for d in no_exception(at).dataframe]
    pairs = next(f for f in frames if "exact_match Δ" in f.columns)
    assert len(pairs) == 7 and set(pairs["exact_match Δ"]) == {-1.0}


def test_works_against_a_server(evaluated: Evaluated, app: App, live_server: Any) -> None:
    # The same page through a RestStore: runs over the REST API, rows from the run's artifact
    # served by the server.
    live = live_server(evaluated.url)
    at = open_page(live.url, app)
    assert list(at.dataframe[0].value["run"]) == ["candidate", "baseline"]
    at.checkbox(key="evals_failures").check().run()
    assert len(no_exception(at).dataframe[1].value) == 7
