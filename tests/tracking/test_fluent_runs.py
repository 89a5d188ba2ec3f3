"""The fluent API: run lifecycle, nesting, logging, experiments and search."""

from __future__ import annotations

import asyncio
import math
import threading
from pathlib import Path

import pytest

import llmtrace
from llmtrace.exceptions import (
    AlreadyExistsError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
)
from llmtrace.tracking import RunStateError


def test_a_run_in_a_with_block(tracking: str) -> None:
    with llmtrace.start_run(name="baseline", tags={"team": "search"}, description="first") as run:
        assert run.run_id == run.info.run_id and len(run.run_id) == 32
        assert llmtrace.active_run() is run
        assert llmtrace.get_run(run.run_id).info.status == "RUNNING"
        llmtrace.log_param("k", 5)
        llmtrace.log_metric("f1", 0.8)
    assert llmtrace.active_run() is None
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    stored = llmtrace.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.duration_ms is not None and stored.info.duration_ms >= 0
    assert stored.info.name == "baseline"
    assert stored.params == {"k": "5"}
    assert stored.metrics == {"f1": 0.8}
    assert stored.tags == {"team": "search", "llmtrace.note": "first"}
    default = llmtrace.get_experiment_by_name("Default")
    assert default is not None and stored.info.experiment_id == default.experiment_id


def test_a_generated_name_and_the_user(tracking: str) -> None:
    with llmtrace.start_run() as run:
        pass
    assert run.info.name.count("-") == 2
    assert run.info.user_id


def test_the_block_raising_ends_the_run_failed(tracking: str) -> None:
    with pytest.raises(ZeroDivisionError), llmtrace.start_run() as run:
        llmtrace.log_metric("x", 1)
        _ = 1 / 0
    assert llmtrace.get_run(run.run_id).info.status == "FAILED"
    assert llmtrace.active_run() is None


def test_keyboard_interrupt_ends_the_run_killed(tracking: str) -> None:
    with pytest.raises(KeyboardInterrupt), llmtrace.start_run() as run:
        raise KeyboardInterrupt
    assert llmtrace.get_run(run.run_id).info.status == "KILLED"


def test_nested_runs_have_their_parent(tracking: str) -> None:
    with llmtrace.start_run(name="sweep") as parent:
        with llmtrace.start_run(name="trial-1", nested=True) as child:
            assert llmtrace.active_run() is child
            llmtrace.log_metric("loss", 0.5)
            with llmtrace.start_run(name="fold-1", nested=True) as grandchild:
                pass
        assert llmtrace.active_run() is parent
        llmtrace.log_metric("best", 0.5)
    assert llmtrace.get_run(child.run_id).info.parent_run_id == parent.run_id
    assert llmtrace.get_run(grandchild.run_id).info.parent_run_id == child.run_id
    assert llmtrace.get_run(parent.run_id).info.parent_run_id is None
    assert llmtrace.get_run(parent.run_id).metrics == {"best": 0.5}
    assert llmtrace.get_run(child.run_id).metrics == {"loss": 0.5}
    children = llmtrace.search_runs(filter=f"parent_run_id = '{parent.run_id}'")
    assert [r.run_id for r in children] == [child.run_id]


def test_a_second_run_without_nested_is_a_clear_error(tracking: str) -> None:
    with llmtrace.start_run(name="outer") as outer:
        with pytest.raises(RunStateError, match=r"already active: pass nested=True"):
            llmtrace.start_run()
        assert llmtrace.active_run() is outer
        llmtrace.log_metric("still", 1)
    assert llmtrace.get_run(outer.run_id).info.status == "FINISHED"
    runs = llmtrace.search_runs()
    assert [r.run_id for r in runs] == [outer.run_id]


def test_start_and_end_without_with(tracking: str) -> None:
    run = llmtrace.start_run(name="manual")
    llmtrace.log_param("a", 1)
    child = llmtrace.start_run(nested=True)
    llmtrace.end_run()
    assert llmtrace.active_run() is run
    llmtrace.end_run("KILLED")
    assert llmtrace.active_run() is None
    llmtrace.end_run()  # no active run: nothing to do
    assert llmtrace.get_run(run.run_id).info.status == "KILLED"
    assert llmtrace.get_run(child.run_id).info.status == "FINISHED"
    again = llmtrace.start_run()
    with pytest.raises(InvalidParameterError, match="unknown run status"):
        llmtrace.end_run("DONE")
    assert llmtrace.active_run() is again  # a typo leaves the run active
    llmtrace.end_run("failed")
    assert llmtrace.get_run(again.run_id).info.status == "FAILED"


def test_ending_a_parent_ends_the_children_left_open(tracking: str) -> None:
    with pytest.raises(ValueError), llmtrace.start_run() as parent:
        child = llmtrace.start_run(nested=True)  # never ended by the code
        raise ValueError("boom")
    assert llmtrace.active_run() is None
    assert llmtrace.get_run(child.run_id).info.status == "FAILED"
    assert llmtrace.get_run(parent.run_id).info.status == "FAILED"


def test_end_run_inside_the_block_then_exit(tracking: str) -> None:
    with llmtrace.start_run() as run:
        llmtrace.end_run("KILLED")
        assert llmtrace.active_run() is None
    assert llmtrace.get_run(run.run_id).info.status == "KILLED"


def test_logging_needs_an_active_run(tracking: str, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    calls = {
        "log_param": lambda: llmtrace.log_param("a", 1),
        "log_params": lambda: llmtrace.log_params({"a": 1}),
        "log_metric": lambda: llmtrace.log_metric("a", 1),
        "log_metrics": lambda: llmtrace.log_metrics({"a": 1}),
        "set_tag": lambda: llmtrace.set_tag("a", 1),
        "set_tags": lambda: llmtrace.set_tags({"a": 1}),
        "log_artifact": lambda: llmtrace.log_artifact(tmp_path / "f.txt"),
        "log_artifacts": lambda: llmtrace.log_artifacts(tmp_path),
        "log_dict": lambda: llmtrace.log_dict({}, "d.json"),
        "log_text": lambda: llmtrace.log_text("", "t.txt"),
        "log_table": lambda: llmtrace.log_table({"a": [1]}, "t.json"),
        "log_figure": lambda: llmtrace.log_figure(object(), "f.png"),
    }
    for name, call in calls.items():
        with pytest.raises(RunStateError, match=rf"{name} needs an active run"):
            call()


def test_params_metrics_and_tags(tracking: str) -> None:
    with llmtrace.start_run() as run:
        llmtrace.log_params({"model": "gpt-4o-mini", "temperature": 0.2, "k": 5})
        llmtrace.log_param("k", 5)  # same value again: fine
        with pytest.raises(InvalidParameterError, match="'k'"):
            llmtrace.log_param("k", 6)
        for step, loss in enumerate([1.0, 0.5, 0.25]):
            llmtrace.log_metric("loss", loss, step=step)
        llmtrace.log_metrics({"nan": math.nan, "inf": math.inf, "ninf": -math.inf}, step=1)
        llmtrace.log_metric("at", 1.5, timestamp_ms=1_700_000_000_000)
        llmtrace.set_tag("stage", "dev")
        llmtrace.set_tags({"stage": "prod", "owner": "ada"})
        with pytest.raises(InvalidParameterError, match="must be a number"):
            llmtrace.log_metric("bad", "0.5")  # type: ignore[arg-type]
    stored = llmtrace.get_run(run.run_id)
    assert stored.params == {"model": "gpt-4o-mini", "temperature": "0.2", "k": "5"}
    assert stored.metrics["loss"] == 0.25
    assert math.isnan(stored.metrics["nan"])
    assert stored.metrics["inf"] == math.inf and stored.metrics["ninf"] == -math.inf
    assert stored.tags == {"stage": "prod", "owner": "ada"}
    history = llmtrace.TrackingClient().get_metric_history(run.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    (at,) = llmtrace.TrackingClient().get_metric_history(run.run_id, "at")
    assert at.timestamp_ms == 1_700_000_000_000


def test_experiments(tracking: str) -> None:
    exp_id = llmtrace.create_experiment("rag-tuning", tags={"team": "search"})
    exp = llmtrace.get_experiment_by_name("rag-tuning")
    assert exp is not None and exp.experiment_id == exp_id and exp.tags == {"team": "search"}
    with pytest.raises(AlreadyExistsError):
        llmtrace.create_experiment("rag-tuning")
    assert llmtrace.set_experiment("rag-tuning").experiment_id == exp_id
    with llmtrace.start_run() as run:
        pass
    assert run.info.experiment_id == exp_id
    llmtrace.set_experiment_tags({"owner": "ada"})
    llmtrace.set_experiment_tags({"team": "core"}, experiment_id=exp_id)
    renamed = llmtrace.TrackingClient().get_experiment(exp_id)
    assert renamed.tags == {"team": "core", "owner": "ada"}
    llmtrace.rename_experiment(exp_id, "rag-tuning-v2")
    assert llmtrace.get_experiment_by_name("rag-tuning") is None
    # set_experiment remembers the id, so a rename does not send runs elsewhere.
    with llmtrace.start_run() as run2:
        pass
    assert run2.info.experiment_id == exp_id
    llmtrace.delete_experiment(exp_id)
    with pytest.raises(RunStateError, match="is deleted: restore it"):
        llmtrace.start_run(experiment="rag-tuning-v2")
    assert llmtrace.search_runs(["rag-tuning-v2"]) == []
    assert len(llmtrace.search_runs(["rag-tuning-v2"], view="deleted")) == 2
    llmtrace.restore_experiment(exp_id)
    assert len(llmtrace.search_runs(["rag-tuning-v2"])) == 2


def test_start_run_finds_or_creates_the_experiment(tracking: str) -> None:
    with llmtrace.start_run(experiment="created-on-the-fly") as run:
        pass
    exp = llmtrace.get_experiment_by_name("created-on-the-fly")
    assert exp is not None and run.info.experiment_id == exp.experiment_id
    with llmtrace.start_run(experiment=exp.experiment_id) as by_id:
        pass
    assert by_id.info.experiment_id == exp.experiment_id
    assert llmtrace.get_experiment_by_name(exp.experiment_id) is None
    # Artifacts of a new experiment go under the configured root.
    root = Path(tracking.removeprefix("sqlite:///")).parent / "artifacts"
    assert exp.artifact_location.startswith(str(root))
    assert run.info.artifact_uri == f"{exp.artifact_location}/{run.run_id}/artifacts"


def test_resume_a_run(tracking: str) -> None:
    with llmtrace.start_run(name="first") as run:
        llmtrace.log_metric("loss", 1.0, step=0)
    with llmtrace.start_run(run_id=run.run_id, tags={"resumed": "yes"}) as again:
        assert llmtrace.get_run(run.run_id).info.status == "RUNNING"
        assert llmtrace.get_run(run.run_id).info.end_time is None
        llmtrace.log_metric("loss", 0.5, step=1)
    assert again.run_id == run.run_id
    stored = llmtrace.get_run(run.run_id)
    assert stored.info.status == "FINISHED" and stored.metrics == {"loss": 0.5}
    assert stored.tags == {"resumed": "yes"}
    with pytest.raises(RunStateError, match="belongs to experiment"):
        llmtrace.start_run(run_id=run.run_id, experiment="elsewhere")
    llmtrace.delete_run(run.run_id)
    with pytest.raises(RunStateError, match="is deleted: restore it"):
        llmtrace.start_run(run_id=run.run_id)
    with pytest.raises(NotFoundError):
        llmtrace.start_run(run_id="0" * 32)
    assert llmtrace.active_run() is None


def test_delete_and_restore_runs(tracking: str) -> None:
    with llmtrace.start_run() as run:
        pass
    llmtrace.delete_run(run.run_id)
    assert llmtrace.search_runs() == []
    assert [r.run_id for r in llmtrace.search_runs(view="deleted")] == [run.run_id]
    assert llmtrace.get_run(run.run_id).info.lifecycle_stage == "deleted"
    llmtrace.restore_run(run.run_id)
    assert [r.run_id for r in llmtrace.search_runs()] == [run.run_id]


def test_logging_to_a_run_deleted_meanwhile_fails(tracking: str) -> None:
    with pytest.raises(NotFoundError), llmtrace.start_run() as run:
        llmtrace.delete_run(run.run_id)
        llmtrace.log_metric("x", 1)


def test_search_runs(tracking: str) -> None:
    llmtrace.set_experiment("search")
    ids = {}
    for k in (1, 3, 5, 7):
        with llmtrace.start_run(name=f"k={k}") as run:
            llmtrace.log_param("k", k)
            llmtrace.log_metric("f1", k / 10)
            llmtrace.set_tag("parity", "odd" if k % 2 else "even")
        ids[k] = run.run_id
    with llmtrace.start_run(experiment="other") as other:
        llmtrace.log_metric("f1", 0.99)
    found = llmtrace.search_runs(filter="metrics.f1 > 0.2", order_by=["metrics.f1 desc"])
    assert [r.run_id for r in found] == [ids[7], ids[5], ids[3]]
    by_name = llmtrace.search_runs("search", "params.k = '5' or name = 'k=1'", order_by="name")
    assert [r.info.name for r in by_name] == ["k=1", "k=5"]
    both = llmtrace.search_runs(["search", "other"], order_by=["metrics.f1 desc"], limit=2)
    assert [r.run_id for r in both] == [other.run_id, ids[7]]
    assert both.next_page_token is not None
    rest = llmtrace.search_runs(
        ["search", "other"], order_by=["metrics.f1 desc"], limit=2, page_token=both.next_page_token
    )
    assert [r.run_id for r in rest] == [ids[5], ids[3]]
    frame = llmtrace.search_runs(order_by="metrics.f1").to_pandas()
    assert list(frame["metrics.f1"]) == [0.1, 0.3, 0.5, 0.7]
    assert list(frame["params.k"]) == ["1", "3", "5", "7"]
    with pytest.raises(NotFoundError, match="'nope' not found"):
        llmtrace.search_runs(["nope"])
    with pytest.raises(InvalidQueryError):
        llmtrace.search_runs(filter="metrics.f1 >")


def test_search_runs_of_the_default_experiment_before_any_run(tracking: str) -> None:
    assert llmtrace.search_runs() == []
    assert llmtrace.get_experiment_by_name("Default") is None


def test_runs_are_per_context_in_threads_and_tasks(tracking: str) -> None:
    with llmtrace.start_run() as run:
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.append(llmtrace.active_run()))
        thread.start()
        thread.join()
        assert seen == [None]
        with llmtrace.ContextThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(llmtrace.log_metric, "from_worker", 1.0).result()
    assert llmtrace.get_run(run.run_id).metrics == {"from_worker": 1.0}

    async def job(i: int) -> str:
        with llmtrace.start_run(name=f"task-{i}") as task_run:
            await asyncio.sleep(0.01)
            llmtrace.log_metric("i", i)
        return task_run.run_id

    async def main() -> list[str]:
        return list(await asyncio.gather(job(1), job(2)))

    first, second = asyncio.run(main())
    assert llmtrace.get_run(first).metrics == {"i": 1.0}
    assert llmtrace.get_run(second).metrics == {"i": 2.0}
