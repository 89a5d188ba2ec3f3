"""REST routes of experiments: create, get (by id or name), list, rename, delete, restore,
tags. Mounted under /api/v1 by `_api_tracking`.

Store calls block, so the routes are plain `def`s (FastAPI runs them in its thread pool).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from llmtrace._config import Settings
from llmtrace.exceptions import NotFoundError
from llmtrace.server._deps import get_config, get_store
from llmtrace.server._tracking_models import (
    ExperimentCreate,
    ExperimentCreated,
    ExperimentOut,
    ExperimentPage,
    ExperimentRename,
    TagValue,
    json_response,
    no_content,
    page_of,
    pairs,
)
from llmtrace.store import SqlStore

router = APIRouter(tags=["experiments"])
StoreDep = Annotated[SqlStore, Depends(get_store)]


def artifact_root(request: Request) -> str:
    """Where experiments created without an artifact location keep their artifacts: the
    server's `artifacts` setting, else `LLMTRACE_ARTIFACTS`, else `$LLMTRACE_HOME/artifacts`
    (of the server's machine)."""
    configured = get_config(request).artifacts
    settings = Settings(artifacts=configured) if configured else Settings.from_env()
    return settings.artifact_root()


@router.post(
    "/experiments",
    status_code=201,
    response_model=ExperimentCreated,
    summary="Create an experiment (409 if the name is taken)",
)
def create_experiment(body: ExperimentCreate, request: Request, store: StoreDep) -> Response:
    """Create an experiment. Without `artifact_location` its artifacts go to a folder named
    after its id under the server's artifact root."""
    experiment_id = body.experiment_id or uuid.uuid4().hex
    location = body.artifact_location
    if location is None:
        location = f"{artifact_root(request).rstrip('/')}/{experiment_id}"
    created = store.create_experiment(
        body.name,
        artifact_location=location,
        tags=pairs(body.tags),
        experiment_id=experiment_id,
    )
    return json_response({"experiment_id": created}, 201)


@router.get("/experiments", response_model=ExperimentPage, summary="List experiments")
def list_experiments(
    store: StoreDep,
    view: str = "active",
    limit: Annotated[int, Query()] = 1000,
    page_token: str | None = None,
) -> Response:
    """Experiments of a view ("active", "deleted" or "all"), oldest first, in pages."""
    found = store.list_experiments(view=view)
    items, token = page_of(found, limit, page_token, "experiments", view)
    return json_response({"experiments": [e.to_dict() for e in items], "next_page_token": token})


@router.get(
    "/experiments/by-name",
    response_model=ExperimentOut,
    summary="The experiment with exactly this name (404 if none)",
)
def get_experiment_by_name(store: StoreDep, name: Annotated[str, Query()]) -> Response:
    """The experiment named `name`, active or deleted."""
    found = store.get_experiment_by_name(name)
    if found is None:
        raise NotFoundError(f"no experiment named {name!r}")
    return json_response(found.to_dict())


@router.get("/experiments/{experiment_id}", response_model=ExperimentOut, summary="An experiment")
def get_experiment(experiment_id: str, store: StoreDep) -> Response:
    """One experiment, active or deleted."""
    return json_response(store.get_experiment(experiment_id).to_dict())


@router.patch(
    "/experiments/{experiment_id}",
    status_code=204,
    response_class=Response,
    summary="Rename an experiment",
)
def rename_experiment(experiment_id: str, body: ExperimentRename, store: StoreDep) -> Response:
    """Rename an active experiment (409 if the name is taken)."""
    store.rename_experiment(experiment_id, body.name)
    return no_content()


@router.delete(
    "/experiments/{experiment_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an experiment (soft)",
)
def delete_experiment(experiment_id: str, store: StoreDep) -> Response:
    """Mark an experiment deleted; its runs read as deleted until it is restored."""
    store.delete_experiment(experiment_id)
    return no_content()


@router.post(
    "/experiments/{experiment_id}/restore",
    status_code=204,
    response_class=Response,
    summary="Restore a deleted experiment",
)
def restore_experiment(experiment_id: str, store: StoreDep) -> Response:
    """Make a deleted experiment active again."""
    store.restore_experiment(experiment_id)
    return no_content()


@router.put(
    "/experiments/{experiment_id}/tags/{key:path}",
    status_code=204,
    response_class=Response,
    summary="Set an experiment tag",
)
def set_experiment_tag(experiment_id: str, key: str, body: TagValue, store: StoreDep) -> Response:
    """Set (or replace) a tag of an active experiment. The key is the rest of the path,
    percent-encoded."""
    store.set_experiment_tag(experiment_id, key, body.value)
    return no_content()


@router.delete(
    "/experiments/{experiment_id}/tags/{key:path}",
    status_code=204,
    response_class=Response,
    summary="Delete an experiment tag",
)
def delete_experiment_tag(experiment_id: str, key: str, store: StoreDep) -> Response:
    """Remove a tag of an active experiment (no error if it was not set)."""
    store.delete_experiment_tag(experiment_id, key)
    return no_content()


__all__ = ["artifact_root", "router"]
