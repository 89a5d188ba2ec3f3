"""The model registry on every backend and through the server: models, versions, tags,
aliases, search, stages, and the approval workflow."""

from __future__ import annotations

import threading

import pytest

from llmtrace.exceptions import (
    AlreadyExistsError,
    ApprovalRequiredError,
    FilterSyntaxError,
    InvalidParameterError,
    InvalidStateError,
    NotFoundError,
)
from llmtrace.store import SqlStore, Store


@pytest.fixture
def store(any_store: Store) -> Store:
    """Each `Store` implementation (tests/conftest.py `any_store`)."""
    return any_store


def test_models_versions_tags_and_aliases(store: Store) -> None:
    model = store.create_registered_model("rag-bot", description="QA", tags={"team": "search"})
    assert (model.name, model.description, model.tags) == ("rag-bot", "QA", {"team": "search"})
    with pytest.raises(AlreadyExistsError, match="'rag-bot' already exists"):
        store.create_registered_model("rag-bot")
    v1 = store.create_model_version("rag-bot", "runs:/aaa/model", run_id="aaa", tags={"k": 1})
    v2 = store.create_model_version("rag-bot", "runs:/bbb/model", run_id="bbb")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.tags == {"k": "1"} and v1.uri == "models:/rag-bot/1" and v1.stage == "None"
    store.set_registered_model_alias("rag-bot", "champion", 1)
    store.set_registered_model_alias("rag-bot", "champion", 2)  # an alias moves
    assert store.get_model_version_by_alias("rag-bot", "champion").version == 2
    assert store.get_model_version_by_alias("rag-bot", "latest").version == 2
    assert store.get_model_version("rag-bot", 2).aliases == ["champion"]
    assert store.get_registered_model("rag-bot").aliases == {"champion": 2}
    store.set_model_version_tag("rag-bot", 2, "eval", "passed")
    store.set_registered_model_tag("rag-bot", "owner", "ana")
    store.delete_registered_model_tag("rag-bot", "team")
    assert store.get_registered_model("rag-bot").tags == {"owner": "ana"}
    assert store.get_model_version("rag-bot", 2).tags == {"eval": "passed"}
    store.delete_model_version("rag-bot", 2)  # its alias goes with it
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        store.get_model_version_by_alias("rag-bot", "champion")
    assert store.create_model_version("rag-bot", "runs:/ccc/model").version == 3
    with pytest.raises(NotFoundError, match="has no version 2"):
        store.get_model_version("rag-bot", 2)
    renamed = store.rename_registered_model("rag-bot", "qa-bot")
    assert [v.version for v in renamed.latest_versions] == [3]
    with pytest.raises(NotFoundError, match="registered model 'rag-bot' not found"):
        store.get_registered_model("rag-bot")
    store.delete_registered_model("qa-bot")
    assert list(store.search_registered_models()) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.create_registered_model("a/b"), "invalid model name"),
        (lambda s: s.create_registered_model("a@b"), "invalid model name"),
        (lambda s: s.set_registered_model_alias("m", "latest", 1), "reserved"),
        (lambda s: s.set_registered_model_alias("m", "3", 1), "invalid alias"),
        (lambda s: s.get_model_version("m", 0), "positive integer"),
        (lambda s: s.transition_model_version_stage("m", 1, "prod"), "unknown stage"),
        (lambda s: s.create_model_version("m", ""), "needs a source"),
    ],
)
def test_bad_arguments(store: Store, call: object, message: str) -> None:
    store.create_registered_model("m")
    store.create_model_version("m", "runs:/x/model")
    with pytest.raises(InvalidParameterError, match=message):
        call(store)  # type: ignore[operator]


def test_search_with_the_filter_language_and_pages(store: Store) -> None:
    for i in range(5):
        store.create_registered_model(f"model-{i}", tags={"team": "a" if i % 2 else "b"})
        for _ in range(i + 1):
            store.create_model_version(f"model-{i}", f"runs:/r{i}/model", run_id=f"r{i}")
    assert [m.name for m in store.search_registered_models("tags.team = 'a'")] == [
        "model-1",
        "model-3",
    ]
    assert [m.name for m in store.search_registered_models("name like '%-4'")] == ["model-4"]
    names: list[str] = []
    token = None
    while True:
        page = store.search_registered_models(limit=2, page_token=token)
        names += [m.name for m in page]
        token = page.next_page_token
        if token is None:
            break
    assert names == [f"model-{i}" for i in range(5)]
    found = store.search_model_versions("name = 'model-4' and version >= 4")
    assert [(v.name, v.version) for v in found] == [("model-4", 5), ("model-4", 4)]
    seen: list[tuple[str, int]] = []
    token = None
    while True:
        versions = store.search_model_versions("run_id in ('r3', 'r4')", limit=3, page_token=token)
        seen += [(v.name, v.version) for v in versions]
        token = versions.next_page_token
        if token is None:
            break
    assert seen == [("model-3", v) for v in (4, 3, 2, 1)] + [
        ("model-4", v) for v in range(5, 0, -1)
    ]
    with pytest.raises(FilterSyntaxError, match="unknown field 'colour'"):
        store.search_model_versions("colour = 'red'")
    with pytest.raises(FilterSyntaxError, match="unknown stage"):
        store.search_model_versions("stage = 'prod'")


def test_stages_archive_on_promote_and_history(store: Store) -> None:
    store.create_registered_model("m")
    for _ in range(3):
        store.create_model_version("m", "runs:/x/model")
    store.transition_model_version_stage("m", 1, "production", user="ana")
    store.transition_model_version_stage("m", 2, "Staging")
    moved = store.transition_model_version_stage(
        "m", 3, "Production", archive_existing_versions=True, comment="better F1"
    )
    assert moved.stage == "Production"
    stages = {v.version: v.stage for v in store.search_model_versions("name = 'm'")}
    assert stages == {1: "Archived", 2: "Staging", 3: "Production"}
    latest = store.get_latest_versions("m", ["Production", "Staging"])
    assert sorted((v.stage, v.version) for v in latest) == [("Production", 3), ("Staging", 2)]
    history = store.search_transition_requests("m", version=1, status=None)
    assert [(r.to_stage, r.status, r.requested_by) for r in history] == [
        ("Production", "APPROVED", "ana")
    ]


def test_approval_workflow(store: Store) -> None:
    store.create_registered_model("guarded", requires_approval=True)
    store.create_model_version("guarded", "runs:/x/model")
    store.create_model_version("guarded", "runs:/y/model")
    with pytest.raises(ApprovalRequiredError, match="requires approval"):
        store.transition_model_version_stage("guarded", 1, "Production")
    first = store.create_transition_request(
        "guarded", 1, "Production", requested_by="ana", comment="ship it"
    )
    assert first.status == "PENDING" and store.get_model_version("guarded", 1).stage == "None"
    assert [r.request_id for r in store.search_transition_requests()] == [first.request_id]
    with pytest.raises(InvalidStateError, match="cannot approve it too"):
        store.approve_transition_request(first.request_id, approved_by="ana")
    approved = store.approve_transition_request(
        first.request_id, approved_by="ben", comment="checked the eval"
    )
    assert (approved.status, approved.decided_by, approved.decision_comment) == (
        "APPROVED",
        "ben",
        "checked the eval",
    )
    assert approved.decided_at is not None
    assert store.get_model_version("guarded", 1).stage == "Production"
    with pytest.raises(InvalidStateError, match="approved already"):
        store.reject_transition_request(first.request_id, rejected_by="ben")
    second = store.create_transition_request(
        "guarded", 2, "Production", archive_existing_versions=True, requested_by="ana"
    )
    rejected = store.reject_transition_request(second.request_id, rejected_by="ben")
    assert rejected.status == "REJECTED" and store.get_model_version("guarded", 2).stage == "None"
    third = store.create_transition_request(
        "guarded", 2, "Production", archive_existing_versions=True
    )
    store.approve_transition_request(third.request_id, approved_by="ben")
    assert {v.version: v.stage for v in store.search_model_versions("name = 'guarded'")} == {
        1: "Archived",
        2: "Production",
    }
    cancelled = store.create_transition_request("guarded", 1, "Staging", requested_by="ana")
    assert store.cancel_transition_request(cancelled.request_id).status == "CANCELLED"
    assert store.search_transition_requests("guarded") == []
    assert len(store.search_transition_requests("guarded", status=None)) == 4
    with pytest.raises(InvalidStateError, match="in Production already"):
        store.create_transition_request("guarded", 2, "production")
    with pytest.raises(NotFoundError):
        store.get_transition_request("0" * 32)


def test_concurrent_registrations_get_consecutive_versions(migrated_db_url: str) -> None:
    store = SqlStore(migrated_db_url)
    try:
        store.create_registered_model("busy")
        got: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def register() -> None:
            try:
                for _ in range(5):
                    version = store.create_model_version("busy", "runs:/x/model").version
                    with lock:
                        got.append(version)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=register) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(got) == list(range(1, 21))
    finally:
        store.close()
