"""Evaluations: the runs `evaluators.evaluate` stored, a run's rows with every score (or only
its failures), and a run compared with a baseline run, paired by input, with the statistical
test of each metric (`evaluators.compare_frames`) and regressions highlighted."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import _eval_view as ev
from dashboard import _paging, _store
from evaluators import compare_frames, load_table
from llmtrace.exceptions import LlmtraceError
from llmtrace.store import Run, Store

RUNS_PER_PAGE = 50
ROWS_PER_PAGE = 50
NONE = "—"
LINK = st.column_config.LinkColumn("trace", display_text="open", width="small")


@st.cache_data(ttl=300, max_entries=32, show_spinner="Loading the evaluation…")
def _table(url: str, run_id: str, _store: Store) -> pd.DataFrame:
    """A run's per-row table (artifacts of a finished run do not change; `url` keys the
    store)."""
    return load_table(run_id, store=_store)


def _load(url: str, store: Store, run_id: str) -> pd.DataFrame | None:
    try:
        return _table(url, run_id, store)
    except (LlmtraceError, OSError, ValueError, KeyError) as exc:
        st.error(f"Cannot read the rows of run `{run_id}`: {exc}")
        return None


def _highlight(column: str, colour: str) -> Any:
    def style(row: pd.Series) -> list[str]:
        on = bool(row.get(column, False))
        return [f"background-color: {colour}" if on else "" for _ in row]

    return style


def _summary(run: Run, names: list[str]) -> None:
    cols = st.columns(max(1, min(len(names), 4)))
    for i, name in enumerate(names):
        mean = run.metrics.get(f"{name}/mean")
        rate = run.metrics.get(f"{name}/pass_rate")
        cols[i % len(cols)].metric(
            name,
            "-" if mean is None else f"{mean:.3f}",
            None if rate is None else f"pass rate {rate:.0%}",
            delta_color="off",
        )


def _rows(run: Run, table: pd.DataFrame) -> None:
    st.subheader(f"Rows of {run.info.name or run.info.run_id}")
    _summary(run, ev.score_names(table))
    only_failures = st.checkbox("Only failures", key="evals_failures")
    shown = table[ev.failed_mask(table)] if only_failures else table
    st.caption(f"{len(shown)} of {len(table)} rows")
    if shown.empty:
        st.info("No failing rows." if only_failures else "The run has no rows.")
        return
    start, stop = _paging.slice_rows("evals_rows", len(shown), ROWS_PER_PAGE)
    st.dataframe(
        ev.rows_view(shown.iloc[start:stop]),
        hide_index=True,
        width="stretch",
        column_config={"trace": LINK},
        key="evals_rows_table",
    )


def _compare(run: Run, table: pd.DataFrame, baseline: Run, base: pd.DataFrame) -> None:
    a, b = baseline.info.name or baseline.info.run_id, run.info.name or run.info.run_id
    st.subheader(f"{b} against {a}")
    try:
        comparison = compare_frames(base, table)
    except (KeyError, ValueError, TypeError) as exc:
        st.error(f"Cannot compare these runs: {exc}")
        return
    st.caption(
        f"{comparison.n_paired} rows paired by input ({comparison.n_only_a} only in {a}, "
        f"{comparison.n_only_b} only in {b}); Δ = {b} - {a}; McNemar's exact test for "
        "pass/fail scores, Wilcoxon signed-rank for numeric ones, alpha "
        f"{comparison.alpha}"
    )
    if comparison.regressions:
        st.error("Regressions: " + ", ".join(m.metric for m in comparison.regressions))
    else:
        st.success("No significant regression.")
    metrics = comparison.to_pandas()
    st.dataframe(
        metrics.style.apply(_highlight("regressed", "#f8d7da"), axis=1),
        hide_index=True,
        width="stretch",
        key="evals_comparison",
    )
    pairs = ev.side_by_side(base, table)
    if st.checkbox("Only rows that regressed", key="evals_regressed"):
        pairs = pairs[pairs["regressed"]]
    if pairs.empty:
        st.info("No paired rows to show.")
        return
    start, stop = _paging.slice_rows("evals_pairs", len(pairs), ROWS_PER_PAGE)
    st.dataframe(
        pairs.iloc[start:stop].style.apply(_highlight("regressed", "#f8d7da"), axis=1),
        hide_index=True,
        width="stretch",
        key="evals_pairs_table",
    )


def main() -> None:
    """Render the page."""
    store = _store.get_store()
    url = _store.store_url() or ""
    st.title("Evaluations")
    try:
        experiments = {e.experiment_id: e.name for e in store.list_experiments()}
    except LlmtraceError as exc:
        st.error(f"Cannot list the experiments: {exc}")
        return
    stack = _paging.tokens("evals", RUNS_PER_PAGE)
    runs: list[Run] = []
    next_token = None
    if experiments:
        try:
            page = store.search_runs(
                list(experiments),
                ev.EVALUATION_FILTER,
                order_by=["start_time desc"],
                limit=RUNS_PER_PAGE,
                page_token=stack[-1],
            )
        except LlmtraceError as exc:
            st.error(f"Cannot list the evaluation runs: {exc}")
            return
        runs, next_token = list(page), page.next_page_token
    if not runs:
        st.info(
            "No evaluation runs yet: `evaluators.evaluate(data, predict, scorers=[...])` "
            "stores one per call."
        )
        return
    st.dataframe(
        ev.runs_table(runs, experiments), hide_index=True, width="stretch", key="evals_runs"
    )
    _paging.pager("evals", stack, next_token)
    by_id = {r.info.run_id: r for r in runs}

    def label(run_id: str) -> str:
        if run_id == NONE:
            return NONE
        run = by_id[run_id]
        return f"{run.info.name or run_id} · {experiments.get(run.info.experiment_id, '')}"

    run_id = st.selectbox("Run", list(by_id), format_func=label, key="evals_run")
    if run_id is None or run_id not in by_id:
        return
    table = _load(url, store, run_id)
    if table is None:
        return
    _rows(by_id[run_id], table)
    others = [r for r in by_id if r != run_id]
    if not others:
        return
    base_id = st.selectbox(
        "Compare with a baseline run", [NONE, *others], format_func=label, key="evals_baseline"
    )
    if base_id and base_id != NONE:
        base = _load(url, store, base_id)
        if base is not None:
            _compare(by_id[run_id], table, by_id[base_id], base)


main()
