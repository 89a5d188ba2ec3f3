"""Compare two evaluation runs row by row: `compare(run_a, run_b)` and `compare_frames(a, b)`.

Rows of the two runs are paired by their input (the k-th occurrence of an input in run A with
the k-th occurrence in run B); rows present in one run only are counted and left out. For each
metric the comparison reports the paired means, their difference (B - A), a paired bootstrap
95% confidence interval of that difference, and a paired significance test: McNemar's exact
test for binary scores (pass/fail, 0/1) and the Wilcoxon signed-rank test for numeric ones.
A metric *regressed* when the change is significant and in the bad direction.

The statistics are implemented here with numpy and `math` only, so that scipy is not a
runtime dependency; the tests check the p-values against scipy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from evaluators._results import EvaluationResult

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
# Wilcoxon: exact null distribution up to this many pairs (scipy's "auto" uses the same bound).
EXACT_MAX_N = 50
_VALUE = "/value"
_PASSED = "/passed"
_ERROR = "/error"


@dataclass(frozen=True)
class MetricComparison:
    """One metric compared across two runs (B against A, over the paired rows).

    `delta` is `mean_b - mean_a`; `ci_low`/`ci_high` its paired bootstrap 95% interval; `test`
    is "mcnemar" or "wilcoxon" (or None when nothing could be tested); `n` the number of pairs
    with a value in both runs and `n_missing` the pairs lacking one (an error, no score).
    """

    metric: str
    n: int
    n_missing: int
    mean_a: float | None
    mean_b: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    test: str | None
    p_value: float | None
    significant: bool
    regressed: bool
    improved: bool
    lower_is_better: bool = False
    details: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """The comparison of two runs: one `MetricComparison` per metric, plus pairing counts.

    Example:
        >>> cmp = compare_frames(baseline.rows, candidate.rows)
        >>> print(cmp)
        >>> [m.metric for m in cmp.regressions]
    """

    metrics: list[MetricComparison]
    n_paired: int
    n_only_a: int
    n_only_b: int
    alpha: float = ALPHA

    @property
    def regressions(self) -> list[MetricComparison]:
        """The metrics that got significantly worse."""
        return [m for m in self.metrics if m.regressed]

    @property
    def improvements(self) -> list[MetricComparison]:
        """The metrics that got significantly better."""
        return [m for m in self.metrics if m.improved]

    def __getitem__(self, metric: str) -> MetricComparison:
        for m in self.metrics:
            if m.metric == metric:
                return m
        raise KeyError(metric)

    def to_pandas(self) -> pd.DataFrame:
        """One row per metric."""
        import pandas as pd

        columns = [
            "metric", "n", "n_missing", "mean_a", "mean_b", "delta", "ci_low", "ci_high",
            "test", "p_value", "significant", "regressed", "improved", "lower_is_better",
        ]  # fmt: skip
        frame: pd.DataFrame = pd.DataFrame(
            [{c: getattr(m, c) for c in columns} for m in self.metrics], columns=columns
        )
        return frame

    def __str__(self) -> str:
        head = ("metric", "n", "mean A", "mean B", "delta", "95% CI", "test", "p", "")
        lines = [head]
        for m in self.metrics:
            ci = "" if m.ci_low is None else f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]"
            flag = "REGRESSED" if m.regressed else ("improved" if m.improved else "")
            lines.append(
                (
                    m.metric,
                    str(m.n),
                    _fmt(m.mean_a),
                    _fmt(m.mean_b),
                    "" if m.delta is None else f"{m.delta:+.3f}",
                    ci,
                    m.test or "-",
                    "" if m.p_value is None else f"{m.p_value:.3g}",
                    flag,
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        body = [
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in lines
        ]
        body.insert(1, "  ".join("-" * w for w in widths))
        summary = (
            f"{self.n_paired} paired rows ({self.n_only_a} only in A, {self.n_only_b} only in B)"
        )
        verdict = (
            "regressions: " + ", ".join(m.metric for m in self.regressions)
            if self.regressions
            else "no regressions"
        )
        return "\n".join([summary, *body, verdict])


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


# --- statistics -------------------------------------------------------------------------------


def _norm_sf(z: float) -> float:
    """Upper tail of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts `b` (A passed, B failed) and
    `c` (A failed, B passed): a binomial test of `b` out of `b + c` against 1/2.

    Example:
        >>> round(mcnemar_exact(1, 9), 4)
        0.0215
    """
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # P(X <= k) for X ~ Binomial(n, 1/2); doubled because the null is symmetric.
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def _rank_average(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x), dtype=float)
    # Boundaries of runs of equal values.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    avg = (starts + ends + 1) / 2.0  # mean of 1-based ranks starts+1..ends
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def wilcoxon_signed_rank(d: Iterable[float]) -> tuple[float, float, str]:
    """Two-sided Wilcoxon signed-rank test of paired differences `d`.

    Zero differences are dropped (scipy's default `zero_method="wilcox"`). The p-value is
    exact when at most 50 pairs remain with no ties and no zeros, else from the normal
    approximation with the tie correction (no continuity correction), as scipy does (scipy
    would instead run a permutation test for up to 13 pairs with ties or zeros).
    Returns `(statistic, p_value, method)`, the statistic being min(R+, R-).

    Example:
        >>> stat, p, method = wilcoxon_signed_rank([0.5, 1.2, 0.3, 2.0, 0.8, 1.1, -0.2])
        >>> method
        'exact'
    """
    arr = np.asarray(list(d), dtype=float)
    n_total = len(arr)
    has_zero = bool(np.any(arr == 0))
    arr = arr[arr != 0]
    n = len(arr)
    if n == 0:
        return 0.0, 1.0, "none"
    ranks = _rank_average(np.abs(arr))
    r_plus = float(ranks[arr > 0].sum())
    r_minus = float(ranks[arr < 0].sum())
    _, tie_counts = np.unique(np.abs(arr), return_counts=True)
    has_ties = bool(np.any(tie_counts > 1))
    statistic = min(r_plus, r_minus)
    if n_total <= EXACT_MAX_N and not has_ties and not has_zero:
        # Null distribution of R+: number of subsets of {1..n} summing to each value.
        max_sum = n * (n + 1) // 2
        counts = np.zeros(max_sum + 1, dtype=float)
        counts[0] = 1.0
        for k in range(1, n + 1):
            counts[k:] = counts[k:] + counts[:-k].copy()
        probs = counts / 2.0**n
        r = round(r_plus)
        p = 2.0 * min(float(probs[: r + 1].sum()), float(probs[r:].sum()))
        return statistic, min(1.0, p), "exact"
    mean = n * (n + 1) / 4.0
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float(np.sum(tie_counts**3 - tie_counts)) / 48.0
    if var <= 0:
        return statistic, 1.0, "normal"
    z = (r_plus - mean) / math.sqrt(var)
    return statistic, min(1.0, 2.0 * _norm_sf(abs(z))), "normal"


def bootstrap_delta_ci(
    a: np.ndarray,
    b: np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `mean(b) - mean(a)`, resampling pairs together.

    Deterministic for a given `seed`. Example:
        >>> bootstrap_delta_ci(np.array([0.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0]))
        (0.0, 1.0)
    """
    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    n = len(diffs)
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=float)
    # Chunks keep the (resamples x n) index matrix to a few million entries.
    chunk = max(1, 4_000_000 // n)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diffs[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


# --- pairing ----------------------------------------------------------------------------------


def _key_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _keyed(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    if key not in frame.columns:
        raise KeyError(f"the per-row table has no {key!r} column to pair rows by")
    out: pd.DataFrame = frame.reset_index(drop=True).copy()
    out["__key"] = [_key_text(v) for v in out[key]]
    out["__occurrence"] = out.groupby("__key").cumcount()
    return out


def _metric_columns(frame: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    """Metric name -> (value column, passed column)."""
    names: dict[str, tuple[str | None, str | None]] = {}
    for col in frame.columns:
        col = str(col)
        if col.endswith(_VALUE):
            name = col[: -len(_VALUE)]
            passed = name + _PASSED if name + _PASSED in frame.columns else None
            names[name] = (col, passed)
        elif col.endswith(_PASSED):
            name = col[: -len(_PASSED)]
            value: str | None = name + _VALUE
            if value not in frame.columns:
                # The flat table of `EvaluationResult.rows` keeps the value under the bare name.
                value = name if name in frame.columns else None
            names.setdefault(name, (value, col))
    return names


def _as_floats(series: pd.Series[Any]) -> np.ndarray:
    import pandas as pd

    out = np.full(len(series), np.nan)
    for i, v in enumerate(series.tolist()):
        if v is None or v is pd.NA:
            continue
        if isinstance(v, (bool, np.bool_)):
            out[i] = 1.0 if v else 0.0
        elif isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v)):
            out[i] = float(v)
    return out


def _errors(frame: pd.DataFrame, name: str) -> np.ndarray:
    col = name + _ERROR
    if col not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.array([isinstance(v, str) and v != "" for v in frame[col].tolist()], dtype=bool)


def _compare_metric(
    metric: str, a: np.ndarray, b: np.ndarray, *, lower_is_better: bool, alpha: float
) -> MetricComparison:
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n, n_missing = len(a), int((~ok).sum())
    if n == 0:
        return MetricComparison(
            metric, 0, n_missing, None, None, None, None, None, None, None,
            False, False, False, lower_is_better,
        )  # fmt: skip
    mean_a, mean_b = float(a.mean()), float(b.mean())
    delta = mean_b - mean_a
    ci_low, ci_high = bootstrap_delta_ci(a, b)
    binary = bool(np.all(np.isin(a, (0.0, 1.0))) and np.all(np.isin(b, (0.0, 1.0))))
    details: dict[str, float]
    if binary:
        worse = int(np.sum((a == 1) & (b == 0)))
        better = int(np.sum((a == 0) & (b == 1)))
        test, p = "mcnemar", mcnemar_exact(worse, better)
        details = {"a_only": float(worse), "b_only": float(better)}
    else:
        stat, p, method = wilcoxon_signed_rank(b - a)
        test = "wilcoxon"
        details = {"statistic": stat, "exact": float(method == "exact")}
    significant = p < alpha
    worse_direction = delta > 0 if lower_is_better else delta < 0
    return MetricComparison(
        metric, n, n_missing, mean_a, mean_b, delta, ci_low, ci_high, test, p,
        significant, significant and worse_direction, significant and not worse_direction
        and delta != 0, lower_is_better, details,
    )  # fmt: skip


def compare_frames(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    key: str = "inputs",
    lower_is_better: Collection[str] = (),
    metrics: Collection[str] | None = None,
    alpha: float = ALPHA,
) -> Comparison:
    """Compare two per-row result tables (run A the baseline, run B the candidate).

    Each table has a `key` column to pair rows by and, per metric, `<name>/value` (numbers;
    bools count as 0/1), optionally `<name>/passed` (bool or missing) and `<name>/error`. A
    row whose `<name>/error` is set, or whose value is missing, drops out of that metric. A
    metric with a numeric, non-binary value and a pass/fail column is compared twice: its
    value (Wilcoxon) and `<name>/passed` (McNemar). Metrics named in `lower_is_better` (or
    whose scorer, the part before the first `/`, is named there) regress when they go up.

    Example:
        >>> a = pd.DataFrame({"inputs": ["q1", "q2"], "match/value": [1.0, 1.0]})
        >>> b = pd.DataFrame({"inputs": ["q2", "q1"], "match/value": [0.0, 1.0]})
        >>> compare_frames(a, b)["match"].delta
        -0.5
    """
    ka, kb = _keyed(a, key), _keyed(b, key)
    pos_b = {k: i for i, k in enumerate(zip(kb["__key"], kb["__occurrence"], strict=True))}
    pairs = [
        (i, pos_b[k])
        for i, k in enumerate(zip(ka["__key"], ka["__occurrence"], strict=True))
        if k in pos_b
    ]
    ia = [i for i, _ in pairs]
    ib = [j for _, j in pairs]
    pa, pb = ka.iloc[ia].reset_index(drop=True), kb.iloc[ib].reset_index(drop=True)
    n_paired = len(pairs)
    n_only_a, n_only_b = len(ka) - n_paired, len(kb) - n_paired
    cols_a, cols_b = _metric_columns(ka), _metric_columns(kb)
    lower = set(lower_is_better)
    results: list[MetricComparison] = []
    for name in [n for n in cols_a if n in cols_b]:
        if metrics is not None and name not in metrics:
            continue
        value_a, passed_a = cols_a[name]
        value_b, passed_b = cols_b[name]
        err_a, err_b = _errors(pa, name), _errors(pb, name)
        label = name
        if value_a is not None and value_b is not None:
            va, vb = _as_floats(pa[value_a]), _as_floats(pb[value_b])
            va[err_a], vb[err_b] = np.nan, np.nan
            lower_better = name in lower or name.split("/")[0] in lower
            m = _compare_metric(name, va, vb, lower_is_better=lower_better, alpha=alpha)
            results.append(m)
            if m.test != "wilcoxon":
                continue  # binary values already are the pass/fail comparison
            label = name + _PASSED
        if passed_a is not None and passed_b is not None:
            fa, fb = _as_floats(pa[passed_a]), _as_floats(pb[passed_b])
            # A scoring error is a failed row, as the engine's verdict counts it.
            fa[err_a], fb[err_b] = 0.0, 0.0
            if not (np.all(np.isnan(fa)) or np.all(np.isnan(fb))):
                results.append(_compare_metric(label, fa, fb, lower_is_better=False, alpha=alpha))
    return Comparison(results, n_paired, n_only_a, n_only_b, alpha)


# --- runs -------------------------------------------------------------------------------------


def result_frame(result: EvaluationResult) -> pd.DataFrame:
    """The per-row table `compare_frames` expects, built from an `EvaluationResult`.

    A row whose `predict` failed has no scores; it gets the predict error under every score
    name, so that it is counted as missing rather than silently absent."""
    import pandas as pd

    names = list(dict.fromkeys(name for res in result.results for name in res.scores))
    records: list[dict[str, Any]] = []
    for res in result.results:
        record: dict[str, Any] = {"inputs": _key_text(res.row.inputs), "error": res.row.error}
        for name in names:
            score = res.scores.get(name)
            if score is None:
                record[name + _ERROR] = res.row.error
                continue
            record[name + _VALUE] = score.as_float()
            record[name + _PASSED] = score.passed
            record[name + _ERROR] = score.error
        records.append(record)
    frame: pd.DataFrame = pd.DataFrame.from_records(records)
    return frame


def _resolve(run: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(run, pd.DataFrame):
        return run
    if isinstance(run, str):
        from evaluators._results import load_results

        run = load_results(run)
    if hasattr(run, "results"):
        return result_frame(run)
    raise TypeError(f"cannot compare {type(run).__name__}: pass an EvaluationResult or a run id")


def compare(
    run_a: EvaluationResult | str | pd.DataFrame,
    run_b: EvaluationResult | str | pd.DataFrame,
    *,
    lower_is_better: Collection[str] = (),
    metrics: Collection[str] | None = None,
    alpha: float = ALPHA,
) -> Comparison:
    """Compare two evaluations (A the baseline, B the candidate), paired by row inputs.

    Each run is an `EvaluationResult`, the id of a run that `evaluate` stored, or a per-row
    table as `compare_frames` takes.

    Example:
        >>> cmp = compare(baseline_run_id, evaluate(data, predict=new_model, scorers=scorers))
        >>> if cmp.regressions:
        ...     print(cmp)
    """
    return compare_frames(
        _resolve(run_a),
        _resolve(run_b),
        lower_is_better=lower_is_better,
        metrics=metrics,
        alpha=alpha,
    )


__all__ = [
    "Comparison",
    "MetricComparison",
    "bootstrap_delta_ci",
    "compare",
    "compare_frames",
    "mcnemar_exact",
    "result_frame",
    "wilcoxon_signed_rank",
]
