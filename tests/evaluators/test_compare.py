"""`compare_frames` / `compare`: pairing, statistics checked against scipy, regressions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluators._compare import (
    bootstrap_delta_ci,
    compare,
    compare_frames,
    mcnemar_exact,
    result_frame,
    wilcoxon_signed_rank,
)
from evaluators._results import EvaluationResult, RowResult
from evaluators._types import Row, Score

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (1, 9), (9, 1), (5, 5), (3, 12), (0, 7), (40, 25), (120, 80)]
)
def test_mcnemar_matches_scipy_binomtest(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_wilcoxon_exact_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    for n in (5, 12, 30, 50):
        d = rng.normal(0.3, 1.0, size=n)
        stat, p, method = wilcoxon_signed_rank(d)
        ref = stats.wilcoxon(d, method="exact")
        assert method == "exact"
        assert stat == pytest.approx(ref.statistic)
        assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_wilcoxon_normal_with_ties_and_zeros_matches_scipy() -> None:
    # Scores on a 1-5 scale: many ties and zero differences.
    rng = np.random.default_rng(2)
    a = rng.integers(1, 6, size=80).astype(float)
    b = np.clip(a + rng.integers(-1, 3, size=80), 1, 5)
    d = b - a
    assert np.any(d == 0)
    stat, p, method = wilcoxon_signed_rank(d)
    ref = stats.wilcoxon(b, a, zero_method="wilcox", method="asymptotic")
    assert method == "normal"
    assert stat == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)


def test_wilcoxon_large_n_without_ties_matches_scipy_auto() -> None:
    d = np.random.default_rng(3).normal(-0.1, 1.0, size=200)
    _, p, method = wilcoxon_signed_rank(d)
    assert method == "normal"
    assert p == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-9)


def test_wilcoxon_all_zero_is_not_significant() -> None:
    assert wilcoxon_signed_rank([0.0, 0.0, 0.0])[1] == 1.0


def test_bootstrap_is_deterministic_and_brackets_the_delta() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(0.5, 0.1, size=300)
    b = a + rng.normal(0.05, 0.05, size=300)
    first = bootstrap_delta_ci(a, b)
    assert first == bootstrap_delta_ci(a, b)
    assert first[0] < float(np.mean(b - a)) < first[1]
    assert first != bootstrap_delta_ci(a, b, seed=1)


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    n = 40
    questions = [f"q{i}" for i in range(n)]
    rng = np.random.default_rng(5)
    sim_a = rng.uniform(0.4, 1.0, size=n)
    a = pd.DataFrame(
        {
            "inputs": [*questions, "only-a"],
            "exact/value": [1.0] * 30 + [0.0] * 10 + [1.0],
            "exact/passed": [True] * 30 + [False] * 10 + [True],
            "sim/value": [*sim_a, 0.5],
            "sim/passed": [*(sim_a >= 0.5), True],
            "latency/value": [100.0 + i for i in range(n)] + [1.0],
        }
    )
    # B: reversed order, exact match drops on 15 rows and gains on 1, similarity unchanged.
    exact_b = [1.0] * 15 + [0.0] * 15 + [1.0] + [0.0] * 9
    b = pd.DataFrame(
        {
            "inputs": [*questions[::-1], "only-b", "only-b2"],
            "exact/value": [*exact_b[::-1], 1.0, 1.0],
            "exact/passed": [*(np.array(exact_b[::-1]) == 1.0), True, True],
            "sim/value": [*sim_a[::-1], 0.9, 0.9],
            "sim/passed": [*(sim_a[::-1] >= 0.5), True, True],
            "latency/value": [*[150.0 + i for i in range(n)][::-1], 1.0, 1.0],
        }
    )
    return a, b


def test_compare_frames_pairs_by_input_and_counts_unpaired() -> None:
    a, b = _frames()
    cmp = compare_frames(a, b, lower_is_better={"latency"})
    assert (cmp.n_paired, cmp.n_only_a, cmp.n_only_b) == (40, 1, 2)
    exact = cmp["exact"]
    assert exact.test == "mcnemar" and exact.n == 40
    assert exact.mean_a == pytest.approx(0.75) and exact.mean_b == pytest.approx(16 / 40)
    assert exact.details == {"a_only": 15.0, "b_only": 1.0}
    assert exact.p_value == pytest.approx(stats.binomtest(1, 16, 0.5).pvalue)
    assert exact.regressed and exact.ci_high is not None and exact.ci_high < 0
    sim = cmp["sim"]
    assert sim.test == "wilcoxon" and sim.delta == pytest.approx(0.0)
    assert not sim.significant and not sim.regressed
    assert cmp["sim/passed"].test == "mcnemar"
    latency = cmp["latency"]
    assert latency.delta is not None and latency.delta > 0 and latency.regressed
    assert [m.metric for m in cmp.regressions] == ["exact", "latency"]
    table = cmp.to_pandas()
    assert list(table["metric"]) == ["exact", "sim", "sim/passed", "latency"]
    text = str(cmp)
    assert "40 paired rows (1 only in A, 2 only in B)" in text
    assert "REGRESSED" in text and "regressions: exact, latency" in text


def test_higher_latency_is_an_improvement_without_lower_is_better() -> None:
    a, b = _frames()
    cmp = compare_frames(a, b, metrics={"latency"})
    assert [m.metric for m in cmp.metrics] == ["latency"]
    assert cmp["latency"].improved and not cmp.regressions


def test_scoring_errors_drop_the_row_from_the_value() -> None:
    a = pd.DataFrame({"inputs": ["x", "y", "z"], "s/value": [0.2, 0.4, 0.6]})
    b = pd.DataFrame(
        {"inputs": ["x", "y", "z"], "s/value": [0.3, None, 0.7], "s/error": [None, "boom", None]}
    )
    m = compare_frames(a, b)["s"]
    assert (m.n, m.n_missing) == (2, 1)
    assert m.delta == pytest.approx(0.1)


def test_duplicate_inputs_pair_in_order_and_dict_inputs_are_keys() -> None:
    a = pd.DataFrame({"inputs": [{"q": 1, "k": 2}, "d", "d"], "s/value": [1.0, 0.0, 1.0]})
    b = pd.DataFrame({"inputs": ["d", {"k": 2, "q": 1}], "s/value": [0.0, 1.0]})
    cmp = compare_frames(a, b)
    assert (cmp.n_paired, cmp.n_only_a, cmp.n_only_b) == (2, 1, 0)
    assert cmp["s"].delta == 0.0 and cmp["s"].p_value == 1.0


def test_compare_accepts_evaluation_results() -> None:
    def result(values: list[bool]) -> EvaluationResult:
        rows = [
            RowResult(Row(i, {"question": f"q{i}"}), {"match": Score(v, passed=v)})
            for i, v in enumerate(values)
        ]
        return EvaluationResult(rows, {})

    base = result([True] * 20)
    cand = result([True] * 8 + [False] * 12)
    frame = result_frame(base)
    assert {"inputs", "match/value", "match/passed", "match/error"} <= set(frame.columns)
    cmp = compare(base, cand)
    assert cmp["match"].test == "mcnemar"
    assert cmp["match"].p_value == pytest.approx(stats.binomtest(0, 12, 0.5).pvalue)
    assert cmp.regressions[0].metric == "match"


def test_evaluation_result_flat_table_is_accepted() -> None:
    # EvaluationResult.rows keeps the value under the bare score name.
    a = pd.DataFrame({"inputs": ["x", "y"], "m": [0.5, 0.7], "m/passed": [True, True]})
    b = pd.DataFrame({"inputs": ["x", "y"], "m": [0.6, 0.9], "m/passed": [True, True]})
    cmp = compare_frames(a, b)
    assert cmp["m"].delta == pytest.approx(0.15)
    assert cmp["m/passed"].p_value == 1.0


def test_compare_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="EvaluationResult or a run id"):
        compare(object(), object())  # type: ignore[arg-type]


def test_missing_key_column_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="inputs"):
        compare_frames(pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [1]}))


@pytest.mark.usefixtures("tracking")
def test_compare_stored_runs_by_id_and_as_evaluate_baseline() -> None:
    from evaluators import evaluate
    from evaluators.scorers import ExactMatch

    questions = [f"{i}+{i}?" for i in range(12)]
    data = [
        {"inputs": {"question": q}, "expectations": {"expected_response": str(2 * i)}}
        for i, q in enumerate(questions)
    ]

    def good(question: str) -> str:
        return str(2 * int(question.split("+")[0]))

    def bad(question: str) -> str:
        return "?"

    base = evaluate(data, predict=good, scorers=[ExactMatch()], experiment="cmp")
    cand = evaluate(data, predict=bad, scorers=[ExactMatch()], experiment="cmp")
    assert base.run_id is not None and cand.run_id is not None
    cmp = compare(base.run_id, cand.run_id)
    assert cmp.n_paired == 12 and cmp["exact_match"].delta == -1.0
    assert [m.metric for m in cmp.regressions] == ["exact_match"]
    again = evaluate(data, predict=bad, scorers=[ExactMatch()], baseline=base.run_id)
    assert again.comparison is not None
    assert again.comparison.regressions[0].metric == "exact_match"


def test_predict_errors_count_as_missing() -> None:
    ok = RowResult(Row(0, "a"), {"m": Score(0.5)})
    failed = RowResult(Row(1, "b", error="predict broke"), {})
    base = EvaluationResult([ok, RowResult(Row(1, "b"), {"m": Score(0.9)})], {})
    cmp = compare(base, EvaluationResult([ok, failed], {}))
    assert (cmp["m"].n, cmp["m"].n_missing) == (1, 1)


@pytest.mark.parametrize("n", [30, 120])
def test_numeric_metric_p_value_matches_scipy_wilcoxon(n: int) -> None:
    rng = np.random.default_rng(n)
    va = rng.uniform(0.3, 0.9, size=n)
    vb = va + rng.normal(-0.03, 0.1, size=n)
    keys = [f"q{i}" for i in range(n)]
    cmp = compare_frames(
        pd.DataFrame({"inputs": keys, "faith/value": va}),
        pd.DataFrame({"inputs": keys, "faith/value": vb}),
    )
    m = cmp["faith"]
    assert m.test == "wilcoxon" and m.details["exact"] == float(n <= 50)
    assert m.p_value == pytest.approx(stats.wilcoxon(vb, va).pvalue, rel=1e-9)
    assert m.delta == pytest.approx(float(np.mean(vb - va)))
