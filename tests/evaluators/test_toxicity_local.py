"""`LocalToxicity`: behaviour, and the documented agreement with people on shipped datasets."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluators._types import Row
from evaluators.scorers._toxicity_local import LocalToxicity, offensive_probabilities

pytest.importorskip("profanity_check")

DATASETS = Path(__file__).resolve().parents[2] / "datasets"

# The numbers the docs state (threshold 0.5); the test below recomputes them.
DOCUMENTED = {
    "toxicity_hatecheck_3728.jsonl": {"roc_auc": 0.468, "f1": 0.487},
    "toxicity_davidson_2k.jsonl": {"roc_auc": 0.984, "f1": 0.951},
}


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Rank-based ROC AUC (Mann-Whitney U), tied scores given their average rank."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    return 2 * tp / (2 * tp + fp + fn)


def _score(scorer: LocalToxicity, row: Row) -> Any:
    return asyncio.run(scorer.score(row, None))


def test_offensive_answer_fails_and_clean_answer_passes() -> None:
    scorer = LocalToxicity()
    bad = _score(scorer, Row(0, "q", outputs="shut up you fucking idiot"))
    good = _score(scorer, Row(1, "q", outputs={"answer": "The capital of France is Paris."}))
    assert bad.value > 0.5 and bad.passed is False and scorer.verdict(bad) is False
    assert good.value < 0.5 and good.passed is True
    assert good.metadata["model"] == "alt-profanity-check"
    assert "not offensive" in good.rationale


def test_threshold_target_and_empty_text() -> None:
    strict = LocalToxicity(threshold=0.01, name="tox", target="question")
    row = Row(0, {"question": "what a nice day"}, outputs="fuck off")
    s = _score(strict, row)
    assert strict.name == "tox"
    assert s.value == pytest.approx(offensive_probabilities(["what a nice day"])[0])
    assert s.passed is (s.value < 0.01)
    empty = _score(LocalToxicity(), Row(0, "q", outputs=None))
    assert (empty.value, empty.passed) == (0.0, True)
    with pytest.raises(ValueError, match="target"):
        LocalToxicity(target="context")
    with pytest.raises(ValueError, match="threshold"):
        LocalToxicity(threshold=2.0)
    assert offensive_probabilities([]) == []


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "profanity_check", None)
    with pytest.raises(ImportError, match=r"llmtrace\[toxicity\]"):
        LocalToxicity()


def test_metric_helpers_match_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=300)
    scores = np.round(rng.uniform(size=300) + labels * 0.3, 1)  # rounded: many ties
    assert roc_auc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores))
    predicted = (scores >= 0.6).astype(int)
    assert f1(labels, predicted) == pytest.approx(metrics.f1_score(labels, predicted))


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_agreement_holds(name: str) -> None:
    rows = [json.loads(line) for line in (DATASETS / name).read_text("utf-8").splitlines()]
    labels = np.array([r["expectations"]["toxic"] for r in rows], dtype=int)
    probs = np.array(offensive_probabilities([r["outputs"] for r in rows]))
    predicted = (probs >= 0.5).astype(int)
    assert roc_auc(labels, probs) == pytest.approx(DOCUMENTED[name]["roc_auc"], abs=0.01)
    assert f1(labels, predicted) == pytest.approx(DOCUMENTED[name]["f1"], abs=0.01)


def test_toxicity_factory_builds_the_local_backend() -> None:
    from evaluators.scorers._judged import Toxicity

    scorer = Toxicity(backend="local", threshold=0.3)
    assert isinstance(scorer, LocalToxicity)
    assert (scorer.threshold, scorer.name, scorer.needs_judge) == (0.3, "toxicity", False)
