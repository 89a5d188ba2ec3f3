"""The registry from a user's side: `llmtrace.registry.register_model` from a run, the
`llmtrace models` commands on a database and on a server, and who a server records as acting
when auth is on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import llmtrace
from llmtrace import registry
from llmtrace.cli import main
from llmtrace.exceptions import InvalidParameterError, InvalidStateError, NotFoundError
from llmtrace.store import RestStore
from tests.server.conftest import LiveServer


def test_register_a_model_logged_by_a_run(tracking: str, tmp_path: Path) -> None:
    with llmtrace.start_run(experiment="registry") as run:
        model_dir = tmp_path / "model"
        model_dir.mkdir()
        (model_dir / "weights.txt").write_text("42")
        llmtrace.log_artifacts(str(model_dir), artifact_path="model")
    v1 = registry.register_model(f"runs:/{run.run_id}/model", "answerer", tags={"f1": 0.8})
    assert (v1.name, v1.version, v1.run_id, v1.source) == (
        "answerer",
        1,
        run.run_id,
        f"runs:/{run.run_id}/model",
    )
    assert v1.created_by  # the login name or $LLMTRACE_USER
    # Registering the same files again under another name, through a models:/ URI.
    copy = registry.register_model("models:/answerer/1", "answerer-copy")
    assert (copy.source, copy.run_id) == (v1.source, run.run_id)
    registry.set_model_alias("answerer", "champion", 1)
    assert registry.get_model_version_by_alias("answerer", "champion").version == 1
    with pytest.raises(NotFoundError, match="run"):
        registry.register_model("runs:/" + "0" * 32 + "/model", "answerer")
    with pytest.raises(InvalidParameterError, match="no artifact path"):
        registry.register_model(f"runs:/{run.run_id}", "answerer")
    with pytest.raises(InvalidParameterError, match="no such path"):
        registry.register_model(str(tmp_path / "missing"), "answerer")


def test_fluent_approvals_record_the_user(
    tracking: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    registry.create_registered_model("guarded", requires_approval=True)
    registry.register_model(str(tmp_path), "guarded")
    monkeypatch.setenv("LLMTRACE_USER", "ana")
    request = registry.request_transition("guarded", 1, "Production", comment="ready")
    assert request.requested_by == "ana"
    assert [r.request_id for r in registry.pending_transitions()] == [request.request_id]
    with pytest.raises(InvalidStateError):
        registry.approve_transition(request.request_id)  # ana cannot approve her own
    monkeypatch.setenv("LLMTRACE_USER", "ben")
    approved = registry.approve_transition(request.request_id, comment="ok")
    assert approved.decided_by == "ben"
    assert registry.get_latest_versions("guarded", ["Production"])[0].version == 1


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("where", ["database", "server"])
def test_models_commands(
    where: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    live_server: Callable[..., LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    if where == "server":
        url = live_server(url).url
    store = ["--store", url]

    def cli(*args: str) -> tuple[int, str, str]:
        return run_cli(capsys, *store, "models", *args)

    assert cli("create", "bot", "--requires-approval")[0] == 0
    code, out, err = cli("register", str(tmp_path), "bot", "--tag", "team=qa", "--json")
    assert code == 0, err
    assert json.loads(out)["version"] == 1
    code, out, _ = cli("request", "bot", "1", "production", "--user", "ana", "--json")
    request_id = json.loads(out)["request_id"]
    code, out, err = cli("stage", "bot", "1", "Staging")
    assert code == 1 and "requires approval" in err
    code, out, _ = cli("requests")
    assert request_id in out and "PENDING" in out
    code, out, err = cli("approve", request_id, "--user", "ana")
    assert code == 1 and "cannot approve" in err
    code, out, err = cli("approve", request_id, "--user", "ben", "--comment", "ok")
    assert code == 0 and "APPROVED" in out, err
    assert cli("alias", "bot", "champion", "1")[0] == 0
    code, out, _ = cli("show", "bot")
    assert "Production: v1" in out and "@champion=v1" in out and "team=qa" not in out
    code, out, _ = cli("versions", "--filter", "stage = 'production'", "--json")
    assert [json.loads(line)["version"] for line in out.splitlines()] == [1]
    code, out, _ = cli("requests", "bot", "--all")
    assert "APPROVED" in out
    code, out, err = cli("list", "--filter", "name = ")
    assert code == 2 and "error:" in err
    assert cli("delete", "bot")[0] == 0
    code, _, err = cli("show", "bot")
    assert code == 1 and "not found" in err


def test_a_server_with_auth_records_the_key_name(
    live_server: Callable[..., LiveServer],
) -> None:
    live = live_server(auth=True)
    _, alice = live.store.create_api_key("alice-laptop")
    _, bob = live.store.create_api_key("bob-ci")
    with RestStore(live.url, api_key=alice) as as_alice, RestStore(live.url, api_key=bob) as as_bob:
        as_alice.create_registered_model("m", requires_approval=True)
        version = as_alice.create_model_version("m", "runs:/x/model", created_by="someone-else")
        assert version.created_by == "alice-laptop"
        request = as_alice.create_transition_request("m", 1, "Production", requested_by="bob-ci")
        assert request.requested_by == "alice-laptop"
        with pytest.raises(InvalidStateError, match="cannot approve"):
            as_alice.approve_transition_request(request.request_id, approved_by="bob-ci")
        approved = as_bob.approve_transition_request(request.request_id)
        assert approved.decided_by == "bob-ci"
