"""Experiments: the experiments, a page of runs of one (the run filter language, any order,
chosen param and metric columns), a run's metric history and artifacts, and selected runs
compared: params side by side, a metric's history overlaid."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import _format as fmt
from dashboard import _paging, _store
from llmtrace import TrackingClient
from llmtrace.exceptions import LlmtraceError
from llmtrace.store import Experiment, Run, Store

PAGE_SIZES = (25, 50, 100, 200)
MAX_COMPARED = 10
MAX_ARTIFACTS = 500
MAX_POINTS = 5_000


def _experiments_table(experiments: list[Experiment]) -> pd.DataFrame:
    frame_: pd.DataFrame = pd.DataFrame(
        {
            "name": [e.name for e in experiments],
            "experiment_id": [e.experiment_id for e in experiments],
            "created": [fmt.when(e.created_at) for e in experiments],
            "tags": [fmt.tags(e.tags) for e in experiments],
            "artifact location": [e.artifact_location for e in experiments],
        }
    )
    return frame_


def runs_table(runs: list[Run], columns: list[str]) -> pd.DataFrame:
    """One row per run, with the chosen `params.<k>` / `metrics.<k>` columns."""
    data: dict[str, list[Any]] = {
        "run": [r.info.name or r.info.run_id for r in runs],
        "status": [r.info.status for r in runs],
        "started": [fmt.when(r.info.start_time) for r in runs],
        "duration": [fmt.ms(r.info.duration_ms) for r in runs],
        "user": [r.info.user_id or "" for r in runs],
    }
    for column in columns:
        kind, _, key = column.partition(".")
        source = "params" if kind == "params" else "metrics"
        data[column] = [getattr(r, source).get(key) for r in runs]
    data["run_id"] = [r.info.run_id for r in runs]
    frame_: pd.DataFrame = pd.DataFrame(data)
    return frame_


def params_diff(runs: list[Run]) -> pd.DataFrame:
    """Params as rows, runs as columns, and whether the values differ."""
    keys = sorted({k for r in runs for k in r.params})
    frame: pd.DataFrame = pd.DataFrame(
        {_label(r): [r.params.get(k) for k in keys] for r in runs},
        index=pd.Index(keys, name="param"),
    )
    frame["differs"] = [len({r.params.get(k) for r in runs}) > 1 for k in keys]
    return frame


def _label(run: Run) -> str:
    return f"{run.info.name or 'run'} ({run.info.run_id[:8]})"


def _history(store: Store, runs: list[Run], key: str) -> pd.DataFrame:
    """A metric's points by step, one column per run."""
    series = {}
    for run in runs:
        points = store.get_metric_history(run.info.run_id, key)
        # A chart of more points than pixels shows nothing more: keep every k-th (and the last).
        stride = -(-len(points) // MAX_POINTS)
        if stride > 1:
            points = [*points[::stride], points[-1]]
        series[_label(run)] = (
            pd.Series([p.value for p in points], index=[p.step for p in points], dtype=float)
            .groupby(level=0)
            .last()
        )
    frame: pd.DataFrame = pd.DataFrame(series)
    frame.index.name = "step"
    return frame


def _chart(store: Store, runs: list[Run], key: str) -> None:
    try:
        history = _history(store, runs, key)
    except LlmtraceError as exc:
        st.error(f"Cannot read the history of {key!r}: {exc}")
        return
    st.line_chart(history)


def _run_detail(store: Store, run: Run) -> None:
    st.subheader(f"Run {_label(run)}")
    left, right = st.columns(2)
    left.caption("Params")
    left.dataframe(
        pd.DataFrame({"param": list(run.params), "value": list(run.params.values())}),
        hide_index=True,
        width="stretch",
    )
    right.caption("Latest metrics")
    right.dataframe(
        pd.DataFrame({"metric": list(run.metrics), "value": list(run.metrics.values())}),
        hide_index=True,
        width="stretch",
    )
    if run.metrics:
        key = st.selectbox("Metric history", sorted(run.metrics), key="exp_history_metric")
        if key:
            _chart(store, [run], key)
    path = st.text_input("Artifacts folder", key="exp_artifact_path", placeholder="(root)")
    try:
        files = TrackingClient(store).list_artifacts(run.info.run_id, path.strip() or None)
    except (LlmtraceError, OSError, ValueError) as exc:
        st.error(f"Cannot list the artifacts: {exc}")
        return
    if not files:
        st.caption("No artifacts here.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "path": [f.path + ("/" if f.is_dir else "") for f in files[:MAX_ARTIFACTS]],
                "size (bytes)": [f.file_size for f in files[:MAX_ARTIFACTS]],
            }
        ),
        hide_index=True,
        width="stretch",
        key="exp_artifacts",
    )


def _compare(store: Store, runs: list[Run]) -> None:
    st.subheader(f"{len(runs)} runs compared")
    diff = params_diff(runs)
    if st.checkbox("Only params that differ", value=True, key="exp_diff_only"):
        diff = diff[diff["differs"]]
    st.dataframe(diff, width="stretch", key="exp_params_diff")
    keys = sorted({k for r in runs for k in r.metrics})
    if keys:
        key = st.selectbox("Metric to overlay", keys, key="exp_overlay_metric")
        if key:
            _chart(store, runs, key)


def main() -> None:
    """Render the page."""
    store = _store.get_store()
    st.title("Experiments")
    try:
        experiments = store.list_experiments()
    except LlmtraceError as exc:
        st.error(f"Cannot list the experiments: {exc}")
        return
    if not experiments:
        st.info("No experiments yet: `llmtrace.start_run()` logs runs into one.")
        return
    st.dataframe(_experiments_table(experiments), hide_index=True, width="stretch")
    by_id = {e.experiment_id: e for e in experiments}
    experiment_id = st.selectbox(
        "Experiment", list(by_id), format_func=lambda i: by_id[i].name, key="exp_experiment"
    )
    cols = st.columns([4, 2, 1])
    text = cols[0].text_input(
        "Run filter",
        key="exp_filter",
        placeholder="metrics.accuracy > 0.8 and params.model = 'gpt-4o'",
        help="metrics.<k>, params.<k>, tags.<k>, status, start_time, name...; and/or/not.",
    )
    order = cols[1].text_input("Order by", value="start_time desc", key="exp_order")
    limit = int(cols[2].selectbox("Per page", PAGE_SIZES, key="exp_limit") or PAGE_SIZES[0])
    query = (experiment_id, text.strip(), order.strip(), limit)
    stack = _paging.tokens("exp", query)
    try:
        page = store.search_runs(
            [str(experiment_id)],
            text.strip() or None,
            order_by=[order.strip()] if order.strip() else None,
            limit=limit,
            page_token=stack[-1],
        )
    except LlmtraceError as exc:
        st.error(f"The run search failed: {exc}")
        return
    runs = list(page)
    if not runs:
        st.info("No runs match." if text.strip() else "This experiment has no runs yet.")
        _paging.pager("exp", stack, None)
        return
    available = sorted({f"params.{k}" for r in runs for k in r.params}) + sorted(
        {f"metrics.{k}" for r in runs for k in r.metrics}
    )
    default = [c for c in available if c.startswith("metrics.")][:4]
    chosen = st.multiselect("Columns", available, default=default, key="exp_columns")
    st.dataframe(runs_table(runs, chosen), hide_index=True, width="stretch", key="exp_runs")
    _paging.pager("exp", stack, page.next_page_token)
    by_run = {r.info.run_id: r for r in runs}
    selected = st.multiselect(
        f"Runs to open or compare (up to {MAX_COMPARED})",
        list(by_run),
        format_func=lambda i: _label(by_run[i]),
        max_selections=MAX_COMPARED,
        key="exp_selected",
    )
    picked = [by_run[i] for i in selected if i in by_run]
    if len(picked) == 1:
        _run_detail(store, picked[0])
    elif len(picked) > 1:
        _compare(store, picked)


main()
