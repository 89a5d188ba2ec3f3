"""The Experiments page under AppTest, over real runs (params, metric histories, artifacts)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from llmtrace import TrackingClient
from llmtrace.store import SqlStore
from tests.server.conftest import live_server

__all__ = ["live_server"]

App = Callable[[str], AppTest]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [
        str(getattr(node, "value", ""))
        for kind in ("markdown", "caption", "error", "title", "subheader", "info")
        for node in getattr(at, kind)
    ]
    return "\n".join(parts)


@pytest.fixture
def runs(migrated_sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    """Experiment `tuning` with runs lr-0.1, lr-0.01, lr-0.001 (oldest first): param `lr`,
    `optimizer` (the same for all), metric `accuracy` over 3 steps; lr-0.01 has an artifact."""
    store = SqlStore(migrated_sqlite_url)
    client = TrackingClient(store, tmp_path / "artifacts")
    experiment = client.create_experiment("tuning")
    ids = {}
    for i, (lr, final) in enumerate(((0.1, 0.4), (0.01, 0.9), (0.001, 0.7))):
        run = client.create_run(experiment, name=f"lr-{lr}", start_time=T0 + timedelta(minutes=i))
        run_id = run.info.run_id
        client.log_params(run_id, {"lr": lr, "optimizer": "adam"})
        for step in range(3):
            client.log_metric(run_id, "accuracy", final * (step + 1) / 3, step=step)
        client.set_terminated(run_id)
        ids[f"lr-{lr}"] = run_id
    client.log_text(ids["lr-0.01"], "hello", "notes/readme.txt")
    store.close()
    return ids


def open_page(url: str, app: App) -> AppTest:
    at = no_exception(app(url).run())
    at.switch_page("pages/experiments.py")
    return no_exception(at.run())


def test_renders_on_an_empty_store(migrated_sqlite_url: str, app: App) -> None:
    assert "No experiments yet" in texts(open_page(migrated_sqlite_url, app))


def test_lists_filters_and_orders_runs(
    migrated_sqlite_url: str, runs: dict[str, str], app: App
) -> None:
    at = open_page(migrated_sqlite_url, app)
    assert list(at.dataframe[0].value["name"]) == ["tuning"]
    table = at.dataframe[1].value
    assert list(table["run"]) == ["lr-0.001", "lr-0.01", "lr-0.1"]
    assert list(table["metrics.accuracy"]) == pytest.approx([0.7, 0.9, 0.4])
    at.multiselect(key="exp_columns").select("params.lr").run()
    assert list(no_exception(at).dataframe[1].value["params.lr"]) == ["0.001", "0.01", "0.1"]
    at.text_input(key="exp_filter").input("metrics.accuracy > 0.5").run()
    at.text_input(key="exp_order").input("metrics.accuracy desc").run()
    assert list(no_exception(at).dataframe[1].value["run"]) == ["lr-0.01", "lr-0.001"]
    at.text_input(key="exp_filter").input("metrics.accuracy >").run()
    assert "The run search failed" in texts(no_exception(at))
    at.text_input(key="exp_filter").input("params.lr = 'none'").run()
    assert "No runs match." in texts(no_exception(at))


def test_pages_through_runs(migrated_sqlite_url: str, runs: dict[str, str], app: App) -> None:
    store = SqlStore(migrated_sqlite_url)
    client = TrackingClient(store)
    experiment = store.list_experiments()[0].experiment_id
    for i in range(30):
        client.create_run(experiment, name=f"bulk-{i:02d}", start_time=T0 - timedelta(hours=i))
    store.close()
    at = open_page(migrated_sqlite_url, app)
    assert len(at.dataframe[1].value) == 25
    at.button(key="exp_next").click().run()
    second = no_exception(at).dataframe[1].value
    assert len(second) == 8 and list(second["run"])[-1] == "bulk-29"
    assert at.button(key="exp_next").disabled


def test_one_run_shows_history_and_artifacts(
    migrated_sqlite_url: str, runs: dict[str, str], app: App
) -> None:
    at = open_page(migrated_sqlite_url, app)
    at.multiselect(key="exp_selected").select(runs["lr-0.01"]).run()
    no_exception(at)
    assert at.selectbox(key="exp_history_metric").value == "accuracy"
    assert len(at.get("arrow_line_chart")) >= 1 or at.get("vega_lite_chart")
    frames = [d.value for d in at.dataframe]
    artifacts = next(f for f in frames if "path" in f.columns)
    assert list(artifacts["path"]) == ["notes/"]
    at.text_input(key="exp_artifact_path").input("notes").run()
    frames = [d.value for d in no_exception(at).dataframe]
    artifacts = next(f for f in frames if "path" in f.columns)
    assert list(artifacts["path"]) == ["notes/readme.txt"]
    assert list(artifacts["size (bytes)"]) == [5]
    at.text_input(key="exp_artifact_path").input("../../etc").run()
    assert "Cannot list the artifacts" in texts(no_exception(at))


def test_compares_runs(migrated_sqlite_url: str, runs: dict[str, str], app: App) -> None:
    at = open_page(migrated_sqlite_url, app)
    at.multiselect(key="exp_selected").select(runs["lr-0.1"]).select(runs["lr-0.01"]).run()
    no_exception(at)
    assert "2 runs compared" in texts(at)
    frames = [d.value for d in at.dataframe]
    diff = next(f for f in frames if "differs" in f.columns)
    assert list(diff.index) == ["lr"]  # `optimizer` is the same: hidden
    at.checkbox(key="exp_diff_only").uncheck().run()
    frames = [d.value for d in no_exception(at).dataframe]
    diff = next(f for f in frames if "differs" in f.columns)
    assert list(diff.index) == ["lr", "optimizer"]
    assert at.selectbox(key="exp_overlay_metric").value == "accuracy"


def test_works_against_a_server(
    migrated_sqlite_url: str, runs: dict[str, str], app: App, live_server: Any
) -> None:
    at = open_page(live_server(migrated_sqlite_url).url, app)
    assert list(at.dataframe[1].value["run"]) == ["lr-0.001", "lr-0.01", "lr-0.1"]
    at.multiselect(key="exp_selected").select(runs["lr-0.01"]).run()
    frames = [d.value for d in no_exception(at).dataframe]
    assert list(next(f for f in frames if "path" in f.columns)["path"]) == ["notes/"]
