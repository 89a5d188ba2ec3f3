"""REST routes of the model registry, mounted under /api/v1: registered models, versions,
tags, aliases, stages and transition requests (docs/rest-api-registry.md).

With auth on, the user recorded on stage changes and decisions is the API key's name, not a
name the caller writes in the body: an approval on a shared server says which key gave it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from llmtrace.server._deps import get_principal, get_store
from llmtrace.server._registry_models import (
    AliasTarget,
    Decision,
    ModelVersionOut,
    ModelVersionPage,
    RegisteredModelCreate,
    RegisteredModelOut,
    RegisteredModelPage,
    RegisteredModelUpdate,
    StageChange,
    TagValue,
    TransitionRequestCreate,
    TransitionRequestList,
    TransitionRequestOut,
    VersionCreate,
    VersionUpdate,
    plain,
)
from llmtrace.server._tracking_models import json_response, no_content
from llmtrace.store import SqlStore

router = APIRouter(tags=["registry"])
StoreDep = Annotated[SqlStore, Depends(get_store)]
MODEL = "/registered-models/{name}"
VERSION = MODEL + "/versions/{version}"


def _user(request: Request, given: str | None) -> str | None:
    principal = get_principal(request)
    return principal.name if principal.key_id is not None else given


# --- registered models ------------------------------------------------------------------------


@router.post(
    "/registered-models",
    status_code=201,
    response_model=RegisteredModelOut,
    summary="Register a model name (409 if taken)",
)
def create_registered_model(body: RegisteredModelCreate, store: StoreDep) -> Response:
    """Create a registered model."""
    model = store.create_registered_model(
        body.name,
        description=body.description,
        tags=plain(body.tags),
        requires_approval=body.requires_approval,
    )
    return json_response(model.to_dict(), 201)


@router.get(
    "/registered-models", response_model=RegisteredModelPage, summary="Search registered models"
)
def search_registered_models(
    store: StoreDep,
    filter: str | None = None,
    limit: Annotated[int, Query()] = 100,
    page_token: str | None = None,
) -> Response:
    """A page of registered models in name order matching the filter."""
    found = store.search_registered_models(filter, limit=limit, page_token=page_token)
    return json_response(
        {
            "registered_models": [m.to_dict() for m in found],
            "next_page_token": found.next_page_token,
        }
    )


@router.get(MODEL, response_model=RegisteredModelOut, summary="One registered model")
def get_registered_model(name: str, store: StoreDep) -> Response:
    """A registered model with tags, aliases and the latest version per stage."""
    return json_response(store.get_registered_model(name).to_dict())


@router.patch(MODEL, response_model=RegisteredModelOut, summary="Update or rename a model")
def update_registered_model(name: str, body: RegisteredModelUpdate, store: StoreDep) -> Response:
    """Change the description or approval setting, and/or rename."""
    if body.description is not None or body.requires_approval is not None:
        store.update_registered_model(
            name, description=body.description, requires_approval=body.requires_approval
        )
    if body.new_name is not None and body.new_name != name:
        return json_response(store.rename_registered_model(name, body.new_name).to_dict())
    return json_response(store.get_registered_model(name).to_dict())


@router.delete(MODEL, status_code=204, summary="Delete a registered model and its versions")
def delete_registered_model(name: str, store: StoreDep) -> Response:
    """Delete the model, versions, tags, aliases and requests."""
    store.delete_registered_model(name)
    return no_content()


@router.put(MODEL + "/tags/{key}", status_code=204, summary="Set a tag on a model")
def set_registered_model_tag(name: str, key: str, body: TagValue, store: StoreDep) -> Response:
    """Set (or replace) a tag."""
    store.set_registered_model_tag(name, key, body.value)
    return no_content()


@router.delete(MODEL + "/tags/{key}", status_code=204, summary="Remove a tag from a model")
def delete_registered_model_tag(name: str, key: str, store: StoreDep) -> Response:
    """Remove a tag (204 also when it was not set)."""
    store.delete_registered_model_tag(name, key)
    return no_content()


@router.put(MODEL + "/aliases/{alias}", status_code=204, summary="Point an alias at a version")
def set_alias(name: str, alias: str, body: AliasTarget, store: StoreDep) -> Response:
    """Set or move an alias."""
    store.set_registered_model_alias(name, alias, body.version)
    return no_content()


@router.delete(MODEL + "/aliases/{alias}", status_code=204, summary="Remove an alias")
def delete_alias(name: str, alias: str, store: StoreDep) -> Response:
    """Remove an alias (404 if the model has none of that name)."""
    store.delete_registered_model_alias(name, alias)
    return no_content()


@router.get(
    MODEL + "/aliases/{alias}",
    response_model=ModelVersionOut,
    summary="The version an alias points at (`latest`: the newest)",
)
def get_by_alias(name: str, alias: str, store: StoreDep) -> Response:
    """Resolve an alias."""
    return json_response(store.get_model_version_by_alias(name, alias).to_dict())


@router.get(
    MODEL + "/latest-versions",
    response_model=ModelVersionPage,
    summary="The newest version in each stage",
)
def latest_versions(
    name: str, store: StoreDep, stages: Annotated[list[str] | None, Query()] = None
) -> Response:
    """The highest version in each stage asked for (all stages by default)."""
    found = store.get_latest_versions(name, stages or None)
    return json_response({"model_versions": [v.to_dict() for v in found], "next_page_token": None})


# --- versions ---------------------------------------------------------------------------------


@router.post(
    MODEL + "/versions",
    status_code=201,
    response_model=ModelVersionOut,
    summary="Add the next version of a model",
)
def create_model_version(
    name: str, body: VersionCreate, request: Request, store: StoreDep
) -> Response:
    """Create version N+1 of the model from `source` (a model URI)."""
    version = store.create_model_version(
        name,
        body.source,
        run_id=body.run_id,
        description=body.description,
        tags=plain(body.tags),
        created_by=_user(request, body.created_by),
    )
    return json_response(version.to_dict(), 201)


@router.get("/model-versions", response_model=ModelVersionPage, summary="Search model versions")
def search_model_versions(
    store: StoreDep,
    filter: str | None = None,
    limit: Annotated[int, Query()] = 100,
    page_token: str | None = None,
) -> Response:
    """A page of versions matching the filter, by model name then newest version first."""
    found = store.search_model_versions(filter, limit=limit, page_token=page_token)
    return json_response(
        {"model_versions": [v.to_dict() for v in found], "next_page_token": found.next_page_token}
    )


@router.get(VERSION, response_model=ModelVersionOut, summary="One model version")
def get_model_version(name: str, version: int, store: StoreDep) -> Response:
    """A version with its tags, aliases and stage."""
    return json_response(store.get_model_version(name, version).to_dict())


@router.patch(VERSION, response_model=ModelVersionOut, summary="Update a version")
def update_model_version(name: str, version: int, body: VersionUpdate, store: StoreDep) -> Response:
    """Change a version's description."""
    return json_response(
        store.update_model_version(name, version, description=body.description).to_dict()
    )


@router.delete(VERSION, status_code=204, summary="Delete a version")
def delete_model_version(name: str, version: int, store: StoreDep) -> Response:
    """Delete a version with its tags, requests and aliases."""
    store.delete_model_version(name, version)
    return no_content()


@router.put(VERSION + "/tags/{key}", status_code=204, summary="Set a tag on a version")
def set_version_tag(name: str, version: int, key: str, body: TagValue, store: StoreDep) -> Response:
    """Set (or replace) a version tag."""
    store.set_model_version_tag(name, version, key, body.value)
    return no_content()


@router.delete(VERSION + "/tags/{key}", status_code=204, summary="Remove a tag from a version")
def delete_version_tag(name: str, version: int, key: str, store: StoreDep) -> Response:
    """Remove a version tag (204 also when it was not set)."""
    store.delete_model_version_tag(name, version, key)
    return no_content()


# --- stages and approvals ---------------------------------------------------------------------


@router.post(
    VERSION + "/stage",
    response_model=ModelVersionOut,
    summary="Move a version to a stage now (409 APPROVAL_REQUIRED if the model needs approval)",
)
def transition_stage(
    name: str, version: int, body: StageChange, request: Request, store: StoreDep
) -> Response:
    """A direct stage change, recorded in the version's stage history."""
    moved = store.transition_model_version_stage(
        name,
        version,
        body.stage,
        archive_existing_versions=body.archive_existing_versions,
        user=_user(request, body.user),
        comment=body.comment,
    )
    return json_response(moved.to_dict())


@router.post(
    VERSION + "/transition-requests",
    status_code=201,
    response_model=TransitionRequestOut,
    summary="Request a stage change (it happens when approved)",
)
def create_transition_request(
    name: str, version: int, body: TransitionRequestCreate, request: Request, store: StoreDep
) -> Response:
    """Create a pending transition request."""
    created = store.create_transition_request(
        name,
        version,
        body.stage,
        archive_existing_versions=body.archive_existing_versions,
        requested_by=_user(request, body.requested_by),
        comment=body.comment,
    )
    return json_response(created.to_dict(), 201)


@router.get(
    "/transition-requests",
    response_model=TransitionRequestList,
    summary="Transition requests, newest first (pending by default; status=ALL for every one)",
)
def search_transition_requests(
    store: StoreDep,
    name: str | None = None,
    version: int | None = None,
    status: str = "PENDING",
    limit: Annotated[int, Query()] = 100,
) -> Response:
    """Pending requests (the approval queue), or the history with `status=ALL`."""
    found = store.search_transition_requests(
        name, version=version, status=None if status.upper() == "ALL" else status, limit=limit
    )
    return json_response({"transition_requests": [r.to_dict() for r in found]})


@router.get(
    "/transition-requests/{request_id}",
    response_model=TransitionRequestOut,
    summary="One transition request",
)
def get_transition_request(request_id: str, store: StoreDep) -> Response:
    """A request with its decision."""
    return json_response(store.get_transition_request(request_id).to_dict())


def _decision_route(action: str) -> None:
    method = {
        "approve": "approve_transition_request",
        "reject": "reject_transition_request",
        "cancel": "cancel_transition_request",
    }[action]
    keyword = {"approve": "approved_by", "reject": "rejected_by", "cancel": "cancelled_by"}[action]

    def decide(request_id: str, body: Decision, request: Request, store: StoreDep) -> Response:
        decided = getattr(store, method)(
            request_id, comment=body.comment, **{keyword: _user(request, body.user)}
        )
        return json_response(decided.to_dict())

    decide.__name__ = f"{action}_transition_request"
    decide.__doc__ = f"{action.capitalize()} a pending request (409 if decided already)."
    router.post(
        f"/transition-requests/{{request_id}}/{action}",
        response_model=TransitionRequestOut,
        summary=f"{action.capitalize()} a pending transition request",
    )(decide)


for _action in ("approve", "reject", "cancel"):
    _decision_route(_action)


__all__ = ["router"]
