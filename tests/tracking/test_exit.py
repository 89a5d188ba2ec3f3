"""At interpreter exit, runs left active are ended (FAILED after an uncaught exception) and
queued async log calls are written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import llmtrace
from llmtrace.store import SqlStore

_SCRIPT = textwrap.dedent(
    """
    import sys
    import llmtrace

    crash = sys.argv[1] == "crash"
    run = llmtrace.start_run(name=sys.argv[1], log_async=True)
    child = llmtrace.start_run(nested=True)
    for step in range(300):
        llmtrace.log_metric("loss", 1.0 / (step + 1), step=step)
    print(run.run_id, child.run_id, flush=True)
    if crash:
        raise RuntimeError("training crashed")
    """
)


def _run_script(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess[str], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTRACE_")}
    env.update(
        LLMTRACE_HOME=str(tmp_path / "home"),
        LLMTRACE_STORE=f"sqlite:///{tmp_path / 'exit.db'}",
    )
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    run_id, child_id = proc.stdout.split()
    return proc, run_id, child_id


def test_runs_left_active_end_at_exit(tmp_path: Path) -> None:
    crashed, crash_id, crash_child = _run_script(tmp_path, "crash")
    assert crashed.returncode == 1 and "training crashed" in crashed.stderr
    finished, ok_id, ok_child = _run_script(tmp_path, "normal")
    assert finished.returncode == 0, finished.stderr
    store = SqlStore(f"sqlite:///{tmp_path / 'exit.db'}")
    try:
        client = llmtrace.TrackingClient(store)
        assert client.get_run(crash_id).info.status == "FAILED"
        assert client.get_run(crash_child).info.status == "FAILED"
        assert client.get_run(ok_id).info.status == "FINISHED"
        assert client.get_run(ok_child).info.status == "FINISHED"
        for run_id in (crash_child, ok_child):
            assert len(client.get_metric_history(run_id, "loss")) == 300
    finally:
        store.close()
