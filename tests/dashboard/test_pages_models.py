"""The Models page under AppTest, over a real registry: models, versions, the approval queue
(approve and reject buttons, the four-eyes refusal shown) and the prompt registry's diff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from llmtrace.store import SqlStore
from tests.server.conftest import live_server

__all__ = ["live_server"]

App = Callable[[str], AppTest]


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [
        str(getattr(node, "value", ""))
        for kind in ("markdown", "caption", "error", "title", "header", "info", "success", "code")
        for node in getattr(at, kind)
    ]
    return "\n".join(parts)


@pytest.fixture
def registry(migrated_sqlite_url: str) -> dict[str, str]:
    """`rag-bot` (approval required) with versions 1-2, alias champion -> 1, and requests by
    alice: v2 -> Production, v1 -> Archived; `other` with one version. Prompt `greet` v1-v2."""
    store = SqlStore(migrated_sqlite_url)
    store.create_registered_model("rag-bot", description="the bot", requires_approval=True)
    store.create_model_version("rag-bot", "runs:/r1/model", created_by="alice")
    store.create_model_version("rag-bot", "runs:/r2/model", created_by="alice")
    store.set_registered_model_alias("rag-bot", "champion", 1)
    store.create_registered_model("other")
    store.create_model_version("other", "runs:/r3/model")
    promote = store.create_transition_request("rag-bot", 2, "Production", requested_by="alice")
    archive = store.create_transition_request("rag-bot", 1, "Archived", requested_by="alice")
    store.create_prompt_version("greet", "Hello {{name}}!", commit_message="first")
    store.create_prompt_version("greet", "Hello {{name}}, welcome!", commit_message="warmer")
    store.close()
    return {"promote": promote.request_id, "archive": archive.request_id}


def open_page(url: str, app: App) -> AppTest:
    at = no_exception(app(url).run())
    at.switch_page("pages/models.py")
    return no_exception(at.run())


def test_renders_on_an_empty_store(migrated_sqlite_url: str, app: App) -> None:
    at = open_page(migrated_sqlite_url, app)
    shown = texts(at)
    assert "No request is waiting for a decision." in shown
    assert "No registered models yet." in shown
    assert "No prompts registered yet." in shown


def test_lists_models_and_versions(
    migrated_sqlite_url: str, registry: dict[str, str], app: App
) -> None:
    at = open_page(migrated_sqlite_url, app)
    models = at.dataframe[0].value
    assert list(models["name"]) == ["other", "rag-bot"]
    assert list(models["aliases"]) == ["", "champion→v1"]
    at.selectbox(key="models_model").select("rag-bot").run()
    versions = no_exception(at).dataframe[1].value
    assert list(versions["version"]) == [2, 1]
    assert list(versions["aliases"]) == ["", "champion"]
    assert list(versions["stage"]) == ["None", "None"]
    at.text_input(key="models_filter").input("name like 'rag%'").run()
    assert list(no_exception(at).dataframe[0].value["name"]) == ["rag-bot"]
    at.text_input(key="models_filter").input("name like").run()
    assert "The model search failed" in texts(no_exception(at))


def test_approve_and_reject_requests(
    migrated_sqlite_url: str, registry: dict[str, str], app: App
) -> None:
    at = open_page(migrated_sqlite_url, app)
    assert "v2 → **Production**" in texts(at)
    # Four eyes: the requester cannot approve; the refusal is shown, nothing changes.
    at.text_input(key="models_user").input("alice").run()
    at.button(key=f"approve_{registry['promote']}").click().run()
    no_exception(at)
    assert "cannot approve it too" in "\n".join(e.value for e in at.error)
    store = SqlStore(migrated_sqlite_url)
    try:
        assert store.get_transition_request(registry["promote"]).status == "PENDING"
        at.text_input(key="models_user").input("bob").run()
        at.text_input(key="models_comment").input("eval looks good").run()
        at.button(key=f"approve_{registry['promote']}").click().run()
        no_exception(at)
        assert "Approved: rag-bot v2 → Production." in [s.value for s in at.success]
        decided = store.get_transition_request(registry["promote"])
        assert (decided.status, decided.decided_by, decided.decision_comment) == (
            "APPROVED",
            "bob",
            "eval looks good",
        )
        assert store.get_model_version("rag-bot", 2).stage == "Production"
        at.button(key=f"reject_{registry['archive']}").click().run()
        no_exception(at)
        assert store.get_transition_request(registry["archive"]).status == "REJECTED"
        assert "No request is waiting for a decision." in texts(at)
    finally:
        store.close()


def test_prompt_versions_and_diff(
    migrated_sqlite_url: str, registry: dict[str, str], app: App
) -> None:
    at = open_page(migrated_sqlite_url, app)
    frames = [d.value for d in at.dataframe]
    prompts = next(f for f in frames if "latest version" in f.columns)
    assert list(prompts["name"]) == ["greet"]
    versions = next(f for f in frames if "message" in f.columns)
    assert list(versions["message"]) == ["warmer", "first"]
    diff = at.code[-1].value
    assert "--- greet v1" in diff and "+++ greet v2" in diff
    assert "-Hello {{name}}!" in diff and "+Hello {{name}}, welcome!" in diff
    at.selectbox(key="prompts_from").select(2).run()
    assert "(identical templates)" in no_exception(at).code[-1].value


def test_approves_through_a_server(
    migrated_sqlite_url: str, registry: dict[str, str], app: App, live_server: Any
) -> None:
    live = live_server(migrated_sqlite_url)
    at = open_page(live.url, app)
    at.text_input(key="models_user").input("alice").run()
    at.button(key=f"approve_{registry['promote']}").click().run()
    assert "cannot approve it too" in "\n".join(e.value for e in no_exception(at).error)
    at.text_input(key="models_user").input("bob").run()
    at.button(key=f"approve_{registry['promote']}").click().run()
    assert "Approved: rag-bot v2 → Production." in [s.value for s in no_exception(at).success]
