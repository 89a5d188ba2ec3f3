"""`TrackingClient` with explicit ids, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmtrace
from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store import Metric, Param, SqlStore


@pytest.fixture
def client(migrated_db_url: str, tmp_path: Path) -> Iterator[llmtrace.TrackingClient]:
    store = SqlStore(migrated_db_url, migrate=False)
    yield llmtrace.TrackingClient(store, artifact_root=str(tmp_path / "art"))
    store.close()


@pytest.mark.backends
def test_the_whole_cycle(client: llmtrace.TrackingClient, tmp_path: Path) -> None:
    exp_id = client.create_experiment("client-exp", tags={"team": "ml"})
    assert client.get_experiment(exp_id).artifact_location.startswith(str(tmp_path / "art"))
    client.set_experiment_tags(exp_id, {"owner": "ada"})
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"owner": "ada"}

    parent = client.create_run(exp_id, name="parent", tags={"kind": "sweep"})
    child = client.create_run(exp_id, name="child", parent_run_id=parent.run_id)
    assert child.info.parent_run_id == parent.run_id
    client.log_batch(
        child.run_id,
        metrics=[Metric("loss", 0.5, 0), Metric("loss", 0.25, 1), ("acc", math.inf)],
        params=[Param("lr", "0.1"), ("layers", 4)],
        tags={"stage": "dev"},
    )
    client.log_metric(child.run_id, "loss", math.nan, step=2)
    client.log_metrics(child.run_id, {"p": 0.1, "r": 0.2}, step=3)
    client.log_param(child.run_id, "opt", "adam")
    client.log_params(child.run_id, {"bs": 32})
    client.set_tag(child.run_id, "x", 1)
    client.set_tags(child.run_id, {"y": 2})
    client.delete_tag(child.run_id, "stage")
    with pytest.raises(InvalidParameterError, match="'lr'"):
        client.log_batch(child.run_id, params={"lr": "0.2"}, metrics=[Metric("never", 1.0)])
    run = client.get_run(child.run_id)
    assert run.params == {"lr": "0.1", "layers": "4", "opt": "adam", "bs": "32"}
    assert math.isnan(run.metrics["loss"]) and run.metrics["acc"] == math.inf
    assert "never" not in run.metrics
    assert run.tags == {"x": "1", "y": "2"}
    assert [m.value for m in client.get_metric_history(child.run_id, "loss")][:2] == [0.5, 0.25]

    client.log_text(child.run_id, "hello", "notes/hello.txt")
    assert [f.path for f in client.list_artifacts(child.run_id, "notes")] == ["notes/hello.txt"]
    local = client.download_artifacts(child.run_id, "notes/hello.txt", tmp_path / "dl")
    assert local.read_text() == "hello"

    info = client.set_terminated(child.run_id, "FAILED")
    assert info.status == "FAILED" and info.end_time is not None
    client.set_terminated(parent.run_id)
    found = client.search_runs([exp_id], "status = 'FAILED'")
    assert [r.run_id for r in found] == [child.run_id]
    assert len(client.search_runs(exp_id)) == 2
    client.update_run(parent.run_id, name="renamed")
    assert client.get_run(parent.run_id).info.name == "renamed"
    client.delete_run(child.run_id)
    assert [r.run_id for r in client.search_runs([exp_id])] == [parent.run_id]
    client.restore_run(child.run_id)
    client.rename_experiment(exp_id, "client-exp-2")
    experiment = client.get_experiment_by_name("client-exp-2")
    assert experiment is not None and experiment.experiment_id == exp_id
    client.delete_experiment(exp_id)
    assert [e.experiment_id for e in client.list_experiments(view="deleted")] == [exp_id]
    client.restore_experiment(exp_id)
    assert exp_id in [e.experiment_id for e in client.list_experiments()]


def test_a_store_url_and_unknown_runs(migrated_sqlite_url: str, tmp_path: Path) -> None:
    client = llmtrace.TrackingClient(migrated_sqlite_url, artifact_root=tmp_path)
    with pytest.raises(NotFoundError):
        client.get_run("0" * 32)
    with pytest.raises(NotFoundError):
        client.list_artifacts("0" * 32)
    with pytest.raises(NotFoundError):
        client.log_metric("0" * 32, "x", 1.0)
    assert "TrackingClient(store=SqlStore(" in repr(client)
    client.store.close()


def test_the_default_client_uses_the_configured_store(tracking: str) -> None:
    with llmtrace.start_run() as run:
        pass
    client = llmtrace.TrackingClient()
    assert client.get_run(run.run_id).info.status == "FINISHED"
    assert client.store is llmtrace.get_store()
