"""`llmtrace --store http://... experiments list / runs list|show|compare` against a live
server: the output is exactly what the same commands print on the server's database, and user
mistakes end in one `error:` line with the same exit code."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import llmtrace
from llmtrace._config import Settings
from llmtrace.cli import main
from llmtrace.store import Metric
from llmtrace.tracing import _runtime
from llmtrace.tracking import TrackingClient
from tests.server._tracking_helpers import remote_store
from tests.server.conftest import LiveServer

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
_SETTINGS_ENV = sorted(
    f.metadata["env"] for f in dataclasses.fields(Settings) if f.metadata.get("env")
)


@pytest.fixture(autouse=True)
def isolated_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in _SETTINGS_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("LLMTRACE_API_KEY", raising=False)
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    yield
    llmtrace.shutdown()
    _runtime.reset()


@pytest.fixture
def seeded(server: LiveServer, migrated_db_url: str) -> dict[str, str]:
    """Two experiments (one deleted) and three runs, written through the server."""
    store = remote_store(server.url)
    client = TrackingClient(store=store)
    rag = client.create_experiment("rag", tags={"team": "search"})
    ids = {"rag": rag}
    for i, name in enumerate(("base", "better", "odd")):
        run = client.create_run(rag, name=name, start_time=T0 + timedelta(minutes=i)).run_id
        value = float("nan") if name == "odd" else 0.5 + i / 10
        client.log_batch(run, metrics=[Metric("acc", value, 1)], params={"lr": f"0.0{i + 1}"})
        client.set_terminated(run, end_time=T0 + timedelta(minutes=i, seconds=30))
        ids[name] = run
    client.log_text(ids["base"], "hello", "notes/readme.txt")
    old = client.create_experiment("old")
    client.create_run(old, name="gone", start_time=T0)
    client.delete_experiment(old)
    store.close()
    ids["db"] = migrated_db_url
    return ids


def _cli(capsys: pytest.CaptureFixture[str], store: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(["--store", store, *args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "args",
    [
        ("experiments", "list"),
        ("experiments", "list", "--view", "all", "--json"),
        ("runs", "list"),
        ("runs", "list", "-e", "rag", "--order-by", "metrics.acc desc", "-c", "params.lr"),
        ("runs", "list", "--filter", "metrics.acc > 0.55", "--json"),
        ("runs", "list", "--view", "all", "--limit", "2"),
        ("runs", "show", "{base}"),
        ("runs", "show", "{base}", "--json"),
        ("runs", "compare", "{base}", "{better}", "{odd}"),
        # Mistakes: one error line, the same exit code.
        ("runs", "list", "--filter", "metrics.acc >"),
        ("runs", "list", "-e", "nope"),
        ("runs", "show", "0000"),
        ("runs", "list", "--order-by", "colour"),
    ],
)
def test_the_same_output_through_the_server(
    capsys: pytest.CaptureFixture[str],
    server: LiveServer,
    seeded: dict[str, str],
    args: tuple[str, ...],
) -> None:
    argv = [a.format(**seeded) for a in args]
    remote = _cli(capsys, server.url, *argv)
    local = _cli(capsys, seeded["db"], *argv)
    assert remote == local
    code, out, err = remote
    if code == 0:
        assert out.strip() and "error" not in err
    else:
        assert [line for line in err.splitlines() if line.startswith("error:")], err
        assert "Traceback" not in err


def test_listing_runs_page_by_page(
    capsys: pytest.CaptureFixture[str], server: LiveServer, seeded: dict[str, str]
) -> None:
    code, out, err = _cli(capsys, server.url, "runs", "list", "--limit", "2", "--json")
    assert code == 0 and len(out.splitlines()) == 2
    token = err.split("--page-token ")[1].strip()
    code, out, err = _cli(
        capsys, server.url, "runs", "list", "--limit", "2", "--json", "--page-token", token
    )
    assert code == 0 and len(out.splitlines()) == 1 and "more:" not in err
    code, out, _ = _cli(capsys, server.url, "runs", "show", seeded["base"])
    assert "notes/readme.txt" in out  # listed through the server's artifact routes
