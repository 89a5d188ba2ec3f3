"""Experiment tracking against an llmtrace server, end to end: `llmtrace.configure(store=
"http://...")` then the fluent API, and `TrackingClient("http://...")`, with a live uvicorn
server over a real database (SQLite, PostgreSQL, MariaDB). Runs, params, metrics, tags and
artifacts land on the server, and read back the same from the server's own store."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import llmtrace
from llmtrace.exceptions import InvalidParameterError, StoreError
from llmtrace.store import RestStore
from llmtrace.tracking import TrackingClient
from tests.server.conftest import LiveServer, free_port, start_server
from tests.tracking.conftest import reset_fluent_state


@pytest.fixture
def remote(migrated_db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server on the test database; its artifacts under `tmp_path/server-artifacts`."""
    live = start_server(migrated_db_url, artifacts=str(tmp_path / "server-artifacts"))
    yield live
    live.stop()


@pytest.fixture
def fluent_remote(
    remote: LiveServer, configure_tracing: Callable[..., str]
) -> Iterator[LiveServer]:
    """The fluent API configured with the server as its store."""
    configure_tracing(store=remote.url)
    yield remote
    reset_fluent_state()


def test_fluent_runs_on_a_server(fluent_remote: LiveServer, tmp_path: Path) -> None:
    assert isinstance(llmtrace.get_store(), RestStore)
    model = tmp_path / "model.txt"
    model.write_text("weights")
    with llmtrace.start_run(name="remote", experiment="remote-exp", tags={"team": "x"}) as run:
        llmtrace.log_params({"k": 5, "model": "gpt-4o-mini"})
        llmtrace.log_metric("loss", 0.5, step=0)
        llmtrace.log_metric("loss", 0.25, step=1)
        llmtrace.log_metrics({"acc": 0.9, "odd": math.nan})
        llmtrace.set_tag("stage", "dev")
        assert llmtrace.log_artifact(model, "models") == "models/model.txt"
        llmtrace.log_dict({"temperature": 0.2}, "config.json")
        with pytest.raises(InvalidParameterError, match="immutable"):
            llmtrace.log_param("k", 6)
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    got = llmtrace.get_run(run.run_id)
    assert got.params == {"k": "5", "model": "gpt-4o-mini"}
    assert got.metrics["loss"] == 0.25 and got.metrics["acc"] == 0.9
    assert math.isnan(got.metrics["odd"])
    assert got.tags == {"team": "x", "stage": "dev"}
    # The server's own store holds exactly that run.
    assert fluent_remote.store.get_run(run.run_id).info == got.info
    experiment = llmtrace.get_experiment_by_name("remote-exp")
    assert experiment is not None
    # Its artifacts live where the server keeps them, not under the client's LLMTRACE_HOME.
    assert experiment.artifact_location.startswith(str(fluent_remote.config.artifacts))
    found = llmtrace.search_runs(["remote-exp"], "metrics.loss < 0.3 and params.k = '5'")
    assert [r.run_id for r in found] == [run.run_id]
    assert [f.path for f in llmtrace.list_artifacts(run.run_id)] == ["config.json", "models"]
    local = llmtrace.download_artifacts(run.run_id, "models/model.txt", tmp_path / "dl")
    assert local.read_text() == "weights"
    server_copy = Path(got.info.artifact_uri) / "models" / "model.txt"
    assert server_copy.read_text() == "weights"


def test_traces_made_in_a_remote_run_are_linked_to_it(fluent_remote: LiveServer) -> None:
    @llmtrace.trace
    def answer(question: str) -> str:
        return question.upper()

    with llmtrace.start_run(experiment="traced") as run:
        answer("linked?")
    assert llmtrace.flush(10)
    traces = fluent_remote.store.search_traces(f"run_id = '{run.run_id}'")
    assert [t.name.rsplit(".", 1)[-1] for t in traces] == ["answer"]


def test_a_failing_block_and_async_logging(fluent_remote: LiveServer) -> None:
    with pytest.raises(ZeroDivisionError), llmtrace.start_run(experiment="failing") as failed:
        llmtrace.log_metric("before", 1.0)
        _ = 1 / 0
    assert fluent_remote.store.get_run(failed.run_id).info.status == "FAILED"
    with llmtrace.start_run(experiment="async", log_async=True) as run:
        for step in range(20):
            llmtrace.log_metric("loss", 1.0 / (step + 1), step=step)
        llmtrace.log_params({"batch": 32})
    history = fluent_remote.store.get_metric_history(run.run_id, "loss")
    assert [m.step for m in history] == list(range(20))
    assert fluent_remote.store.get_run(run.run_id).params == {"batch": "32"}
    with llmtrace.start_run(experiment="async", log_async=True) as bad:
        llmtrace.log_param("p", 1)
        llmtrace.log_param("p", 2)  # refused by the server, reported when the run ends
        with pytest.raises(InvalidParameterError):
            llmtrace.end_run()
    assert fluent_remote.store.get_run(bad.run_id).info.status == "FAILED"


def test_tracking_client_with_a_server_url(remote: LiveServer, tmp_path: Path) -> None:
    client = TrackingClient(remote.url)
    assert isinstance(client.store, RestStore)
    exp = client.create_experiment("client", tags={"owner": "ada"})
    assert client.get_experiment(exp).artifact_location == f"{remote.config.artifacts}/{exp}"
    run = client.create_run(exp, name="r1")
    client.log_batch(run.run_id, metrics=[("f1", 0.8)], params={"k": 3}, tags={"t": "v"})
    client.log_text(run.run_id, "notes", "notes.md")
    client.set_terminated(run.run_id)
    assert client.search_runs([exp], "metrics.f1 > 0.5")[0].info.status == "FINISHED"
    assert [f.path for f in client.list_artifacts(run.run_id)] == ["notes.md"]
    assert client.get_metric_history(run.run_id, "f1")[0].value == 0.8
    # An explicit artifact root is honoured (the server writes there).
    chosen = TrackingClient(remote.url, artifact_root=str(tmp_path / "chosen"))
    other = chosen.create_experiment("chosen root")
    assert chosen.get_experiment(other).artifact_location == f"{tmp_path / 'chosen'}/{other}"
    client.store.close()
    chosen.store.close()


def test_an_unreachable_server_is_a_store_error() -> None:
    client = TrackingClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="unreachable"):
        client.list_experiments()
    client.store.close()
