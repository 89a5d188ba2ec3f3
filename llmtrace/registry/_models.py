"""The model registry, the fluent way: `register_model`, aliases, stages and approvals on the
configured store (a database or an llmtrace server).

Example:
    >>> version = llmtrace.register_model(f"runs:/{run_id}/model", "rag-bot")
    >>> llmtrace.set_model_alias("rag-bot", "champion", version.version)
    >>> model = llmtrace.models.load_model("models:/rag-bot@champion")
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmtrace.exceptions import AlreadyExistsError, InvalidParameterError
from llmtrace.store import Store
from llmtrace.store.registry_entities import (
    ModelVersion,
    ModelVersionList,
    RegisteredModel,
    RegisteredModelList,
    TransitionRequest,
)
from llmtrace.tracking import default_store

_RUNS_URI = re.compile(r"runs:/(?P<run_id>[^/]+)(?:/(?P<path>.*))?")
_MODELS_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))")


def current_user() -> str | None:
    """Who the registry records as acting: `$LLMTRACE_USER`, else the login name."""
    user = os.environ.get("LLMTRACE_USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return None


def _source_of(model_uri: str, store: Store) -> tuple[str, str | None]:
    """The source and run id to record for a model URI."""
    runs = _RUNS_URI.fullmatch(model_uri)
    if runs:
        if not runs.group("path"):
            raise InvalidParameterError(
                f"{model_uri!r} names no artifact path: use runs:/<run_id>/<path>"
            )
        store.get_run(runs.group("run_id"))  # NotFoundError for an unknown run
        return model_uri, runs.group("run_id")
    models = _MODELS_URI.fullmatch(model_uri)
    if models:
        name = models.group("name")
        if models.group("alias"):
            version = store.get_model_version_by_alias(name, models.group("alias"))
        else:
            version = store.get_model_version(name, models.group("version"))
        return version.source, version.run_id
    if "://" in model_uri and not model_uri.startswith("file://"):
        return model_uri, None  # remote storage (s3://...): recorded as given
    path = Path(model_uri.removeprefix("file://")).expanduser().resolve()
    if not path.exists():
        raise InvalidParameterError(f"no model at {model_uri!r} (no such path)")
    return str(path), None


def register_model(
    model_uri: str,
    name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Register the model at `model_uri` as the next version of `name` (the registered model
    is created if needed). `runs:/<run_id>/<path>` links the version to its run; a
    `models:/...` URI registers the same files again (under another name, say); a local path
    is recorded as an absolute path, so it must be reachable wherever the model is loaded.

    Example:
        >>> v = llmtrace.register_model(f"runs:/{run.info.run_id}/model", "rag-bot")
        >>> v.version, v.uri
        (1, 'models:/rag-bot/1')
    """
    return register_in(default_store(), model_uri, name, description=description, tags=tags)


def register_in(
    store: Store,
    model_uri: str,
    name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    user: str | None = None,
) -> ModelVersion:
    """`register_model` on a given store (what the CLI uses)."""
    source, run_id = _source_of(model_uri, store)
    with contextlib.suppress(AlreadyExistsError):
        store.create_registered_model(name)
    return store.create_model_version(
        name,
        source,
        run_id=run_id,
        description=description,
        tags=tags,
        created_by=user or current_user(),
    )


def create_registered_model(
    name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    requires_approval: bool = False,
) -> RegisteredModel:
    """Create a registered model; with `requires_approval`, its stage changes need an
    approved transition request."""
    return default_store().create_registered_model(
        name, description=description, tags=tags, requires_approval=requires_approval
    )


def get_registered_model(name: str) -> RegisteredModel:
    """A registered model with tags, aliases and the latest version per stage."""
    return default_store().get_registered_model(name)


def search_registered_models(
    filter: str | None = None, *, limit: int = 100, page_token: str | None = None
) -> RegisteredModelList:
    """Registered models matching the filter (`name like 'rag%' and tags.team = 'x'`)."""
    return default_store().search_registered_models(filter, limit=limit, page_token=page_token)


def get_model_version(name: str, version: int | str) -> ModelVersion:
    """One version of a registered model."""
    return default_store().get_model_version(name, version)


def search_model_versions(
    filter: str | None = None, *, limit: int = 100, page_token: str | None = None
) -> ModelVersionList:
    """Model versions matching the filter (`name = 'rag-bot' and stage = 'Production'`)."""
    return default_store().search_model_versions(filter, limit=limit, page_token=page_token)


def get_latest_versions(name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
    """The highest version in each stage (or in the stages given)."""
    return default_store().get_latest_versions(name, stages)


def set_model_alias(name: str, alias: str, version: int | str) -> None:
    """Point an alias (`champion`) at a version: `models:/<name>@<alias>` loads it."""
    default_store().set_registered_model_alias(name, alias, version)


def delete_model_alias(name: str, alias: str) -> None:
    """Remove an alias."""
    default_store().delete_registered_model_alias(name, alias)


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion:
    """The version an alias points at (`latest`: the highest version)."""
    return default_store().get_model_version_by_alias(name, alias)


def transition_model_version_stage(
    name: str,
    version: int | str,
    stage: str,
    *,
    archive_existing_versions: bool = False,
    comment: str | None = None,
) -> ModelVersion:
    """Move a version to a stage now; `ApprovalRequiredError` if the model requires approval
    (then `request_transition` and have someone else approve it)."""
    return default_store().transition_model_version_stage(
        name,
        version,
        stage,
        archive_existing_versions=archive_existing_versions,
        user=current_user(),
        comment=comment,
    )


def request_transition(
    name: str,
    version: int | str,
    stage: str,
    *,
    archive_existing_versions: bool = False,
    comment: str | None = None,
) -> TransitionRequest:
    """Request a stage change; it happens when another person approves it."""
    return default_store().create_transition_request(
        name,
        version,
        stage,
        archive_existing_versions=archive_existing_versions,
        requested_by=current_user(),
        comment=comment,
    )


def approve_transition(request_id: str, *, comment: str | None = None) -> TransitionRequest:
    """Approve a pending transition request (not your own): the version moves now."""
    return default_store().approve_transition_request(
        request_id, approved_by=current_user(), comment=comment
    )


def reject_transition(request_id: str, *, comment: str | None = None) -> TransitionRequest:
    """Reject a pending transition request."""
    return default_store().reject_transition_request(
        request_id, rejected_by=current_user(), comment=comment
    )


def pending_transitions(name: str | None = None) -> list[TransitionRequest]:
    """Transition requests waiting for a decision (of one model, or all)."""
    return default_store().search_transition_requests(name, status="PENDING")


__all__ = [
    "approve_transition",
    "create_registered_model",
    "current_user",
    "delete_model_alias",
    "get_latest_versions",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "pending_transitions",
    "register_in",
    "register_model",
    "reject_transition",
    "request_transition",
    "search_model_versions",
    "search_registered_models",
    "set_model_alias",
    "transition_model_version_stage",
]
