"""Model URIs: folders, `file://`, `runs:/` through a real store and artifact folder (SQLite,
and PostgreSQL when available), and `models:/` through an injected registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import llmtrace
from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.models import (
    ModelInfo,
    load_model,
    log_model,
    resolve_model_uri,
    save_model,
)
from llmtrace.tracking import TrackingClient, active_run, default_store
from tests.models.conftest import FakeRegistry


def answer(df: pd.DataFrame) -> list[str]:
    return [f"answer to {q}" for q in df["question"]]


def _log_and_load(artifact_path: str = "rag") -> tuple[ModelInfo, str]:
    with llmtrace.start_run(name="train") as run:
        info = log_model(answer, artifact_path, input_example={"question": "q"})
    assert info.run_id == run.run_id
    return info, run.run_id


def test_log_model_in_the_active_run_and_load_it_back(tracking: str, tmp_path: Path) -> None:
    info, run_id = _log_and_load()
    assert info.model_uri == f"runs:/{run_id}/rag"
    assert info.artifact_path == "rag" and info.flavor == "python"
    assert info.signature is not None and info.signature.inputs is not None
    files = {f.path for f in TrackingClient().list_artifacts(run_id, "rag")}
    assert {"rag/llmtrace-model.yaml", "rag/requirements.txt", "rag/input_example.json"} <= files

    model = load_model(info.model_uri, dst_path=tmp_path / "dl")
    assert model.predict("q1") == ["answer to q1"]
    assert model.model_uri == info.model_uri
    assert model.model_uuid == info.model_uuid
    assert model.descriptor.run_id == run_id
    assert model.descriptor.artifact_path == "rag"
    assert model.path.is_relative_to(tmp_path / "dl")


def test_log_model_without_a_run_starts_and_ends_one(tracking: str) -> None:
    assert active_run() is None
    info = log_model(answer, "model")
    assert active_run() is None
    run = llmtrace.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert load_model(info.model_uri).predict(pd.DataFrame({"question": ["x"]})) == ["answer to x"]


def test_log_model_into_an_explicit_run(tracking: str) -> None:
    client = TrackingClient()
    exp = client.create_experiment("models")
    run = client.create_run(exp, name="offline")
    info = log_model(answer, "nested/dir/", run_id=run.info.run_id)
    assert info.model_uri == f"runs:/{run.info.run_id}/nested/dir"
    assert load_model(info.model_uri).descriptor.run_id == run.info.run_id


def test_log_model_can_register_the_model(tracking: str) -> None:
    info = log_model(
        answer, "rag", registered_model_name="rag-bot", input_example={"question": "q"}
    )
    assert info.registered_model_version == 1
    again = log_model(
        answer, "rag", registered_model_name="rag-bot", input_example={"question": "q"}
    )
    assert again.registered_model_version == 2
    model = load_model("models:/rag-bot/2")
    assert (model.registered_name, model.registered_version) == ("rag-bot", 2)
    assert model.descriptor.run_id == again.run_id
    assert model.predict("q") == ["answer to q"]


def test_save_model_inside_a_run_records_its_id(tracking: str, tmp_path: Path) -> None:
    with llmtrace.start_run() as run:
        descriptor = save_model(tmp_path / "m", answer)
    assert descriptor.run_id == run.run_id
    assert descriptor.artifact_path is None


def test_unknown_run_or_path(tracking: str) -> None:
    _log_and_load()
    with pytest.raises(NotFoundError):
        load_model("runs:/0123456789abcdef0123456789abcdef/rag")
    with pytest.raises(InvalidParameterError, match="malformed run URI"):
        load_model("runs:/")


def test_runs_uri_on_postgresql(
    configure_tracing: Callable[..., str], migrated_postgresql_url: str, tmp_path: Path
) -> None:
    from tests.tracking.conftest import reset_fluent_state

    configure_tracing(store=migrated_postgresql_url, artifacts=str(tmp_path / "artifacts"))
    try:
        info, _ = _log_and_load()
        assert load_model(info.model_uri).predict("pg") == ["answer to pg"]
    finally:
        reset_fluent_state()


def test_local_paths_and_file_uris(tmp_path: Path) -> None:
    save_model(tmp_path / "my model", answer)
    for uri in (
        tmp_path / "my model",
        str(tmp_path / "my model"),
        (tmp_path / "my model").as_uri(),
    ):
        assert load_model(uri).predict({"question": "x"}) == ["answer to x"]
    with pytest.raises(NotFoundError, match="does not exist"):
        load_model(tmp_path / "missing")
    with pytest.raises(InvalidParameterError, match="cannot load a model from 's3://b/m'"):
        load_model("s3://b/m")


# --- models:/ through an injected registry ----------------------------------------------------


@pytest.fixture
def two_versions(tmp_path: Path, registry: FakeRegistry) -> FakeRegistry:
    save_model(tmp_path / "v1", lambda df: ["v1"] * len(df))
    save_model(tmp_path / "v2", lambda df: ["v2"] * len(df))
    save_model(tmp_path / "v3", lambda df: ["v3"] * len(df))
    registry.add("rag", str(tmp_path / "v1"), stage="Production")
    registry.add("rag", (tmp_path / "v2").as_uri(), stage="Staging")
    registry.add("rag", str(tmp_path / "v3"), stage="Production", run_id="abc")
    registry.aliases[("rag", "champion")] = 2
    return registry


@pytest.mark.parametrize(
    ("uri", "version", "call"),
    [
        ("models:/rag/1", 1, ("get_model_version", ("rag", 1))),
        ("models:/rag@champion", 2, ("get_model_version_by_alias", ("rag", "champion"))),
        ("models:/rag/Production", 3, ("get_latest_versions", ("rag", ["Production"]))),
        ("models:/rag/staging", 2, ("get_latest_versions", ("rag", ["Staging"]))),
        ("models:/rag/latest", 3, ("get_latest_versions", ("rag", None))),
    ],
)
def test_models_uris_resolve_through_the_registry(
    two_versions: FakeRegistry, uri: str, version: int, call: tuple[str, object]
) -> None:
    model = load_model(uri, store=two_versions)
    assert two_versions.calls == [call]
    assert model.registered_name == "rag"
    assert model.registered_version == version
    assert model.model_uri == uri
    assert model.predict("q") == [f"v{version}"]
    assert "'rag' v" in repr(model)


def test_resolve_model_uri_reports_source_and_run(two_versions: FakeRegistry) -> None:
    resolved = resolve_model_uri("models:/rag/3", store=two_versions)
    assert (resolved.registered_name, resolved.registered_version, resolved.run_id) == (
        "rag",
        3,
        "abc",
    )
    assert resolve_model_uri("runs:/r1/model").run_id == "r1"
    assert resolve_model_uri("some/dir").source == "some/dir"


def test_models_uri_errors(two_versions: FakeRegistry) -> None:
    with pytest.raises(NotFoundError, match="v9"):
        load_model("models:/rag/9", store=two_versions)
    with pytest.raises(NotFoundError, match="alias 'gone'"):
        load_model("models:/rag@gone", store=two_versions)
    with pytest.raises(NotFoundError, match="has no version in stage 'Archived'"):
        load_model("models:/rag/archived", store=two_versions)
    with pytest.raises(InvalidParameterError, match="malformed model URI"):
        load_model("models:/rag", store=two_versions)
    with pytest.raises(InvalidParameterError, match="has no model registry"):
        load_model("models:/rag/1", store=object())


def test_models_uri_pointing_at_another_models_uri(two_versions: FakeRegistry) -> None:
    two_versions.add("alias-of-rag", "models:/rag@champion")
    model = load_model("models:/alias-of-rag/1", store=two_versions)
    assert (model.registered_name, model.registered_version) == ("rag", 2)
    two_versions.add("loop", "models:/loop/1")
    with pytest.raises(InvalidParameterError, match="too many models:/ indirections"):
        load_model("models:/loop/1", store=two_versions)


def test_models_uri_with_a_runs_source_downloads_through_the_real_store(tracking: str) -> None:
    info, run_id = _log_and_load("rag")
    registry = FakeRegistry(delegate=default_store())
    registry.add("rag", info.model_uri, run_id=run_id)
    model = load_model("models:/rag/1", store=registry)
    assert model.predict("q") == ["answer to q"]
    assert (model.registered_name, model.registered_version) == ("rag", 1)


# REGISTRY INTEGRATION: the same URIs through the real registry of the SQL store (the fake
# above keeps the resolver's own tests independent of it).
def test_models_uris_through_the_real_registry(tracking: str) -> None:
    store = default_store()
    info, run_id = _log_and_load("rag")
    store.create_registered_model("rag")
    first = store.create_model_version("rag", info.model_uri, run_id=run_id)
    second = store.create_model_version("rag", info.model_uri, run_id=run_id)
    store.set_registered_model_alias("rag", "champion", first.version)
    store.transition_model_version_stage("rag", second.version, "Production")
    expected = {
        f"models:/rag/{first.version}": first.version,
        "models:/rag@champion": first.version,
        "models:/rag/production": second.version,
        "models:/rag/latest": second.version,
    }
    for uri, version in expected.items():
        model = load_model(uri)
        assert (model.registered_name, model.registered_version) == ("rag", version), uri
        assert model.predict("q") == ["answer to q"]
    with pytest.raises(NotFoundError):
        load_model("models:/rag/Staging")
    with pytest.raises(NotFoundError):
        load_model("models:/unknown/1")
