"""REST routes of the prompt registry, mounted under /api/v1 (docs/prompts.md).

    POST   /prompts                                  create a prompt (201; 409 if it exists)
    GET    /prompts?filter=&limit=&page_token=       search prompts, name order
    GET    /prompts/{name}                           a prompt
    PATCH  /prompts/{name}                           change description, merge tags
    DELETE /prompts/{name}                           delete it with its versions (204)
    POST   /prompts/{name}/versions                  register the next version (201)
    GET    /prompts/{name}/versions                  versions, newest first
    GET    /prompts/{name}/versions/{version}        a version
    DELETE /prompts/{name}/versions/{version}        delete a version (204)
    GET    /prompts/{name}/aliases/{alias}           the version an alias (or `latest`) names
    PUT    /prompts/{name}/aliases/{alias}           point an alias at a version (204)
    DELETE /prompts/{name}/aliases/{alias}           remove an alias (204)

Store calls block, so the routes are plain `def`s (FastAPI runs them in its thread pool).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from llmtrace.server._deps import get_store
from llmtrace.server._prompt_models import (
    AliasSet,
    PromptCreate,
    PromptOut,
    PromptPage,
    PromptUpdate,
    PromptVersionCreate,
    PromptVersionOut,
    PromptVersionPage,
)
from llmtrace.server._tracking_models import json_response, no_content
from llmtrace.store import SqlStore

router = APIRouter(tags=["prompts"])
StoreDep = Annotated[SqlStore, Depends(get_store)]


@router.post("/prompts", status_code=201, response_model=PromptOut, summary="Create a prompt")
def create_prompt(body: PromptCreate, store: StoreDep) -> Response:
    """Register a prompt name without versions (409 if the name is taken)."""
    prompt = store.create_prompt(body.name, body.description, body.tags)
    return json_response(prompt.to_dict(), 201)


@router.get("/prompts", response_model=PromptPage, summary="Search prompts")
def search_prompts(
    store: StoreDep, filter: str | None = None, limit: int = 100, page_token: str | None = None
) -> Response:
    """Prompts in name order matching the filter (name, description, created_at, updated_at,
    tags.<key>), a page at a time."""
    page = store.search_prompts(filter, limit=limit, page_token=page_token)
    return json_response({"prompts": page.to_dict(), "next_page_token": page.next_page_token})


@router.get("/prompts/{name}", response_model=PromptOut, summary="A prompt")
def get_prompt(name: str, store: StoreDep) -> Response:
    """A prompt with its highest version and aliases."""
    return json_response(store.get_prompt(name).to_dict())


@router.patch("/prompts/{name}", response_model=PromptOut, summary="Update a prompt")
def update_prompt(name: str, body: PromptUpdate, store: StoreDep) -> Response:
    """Change the description (null leaves it) and merge tags (an empty value removes one)."""
    prompt = store.update_prompt(name, description=body.description, tags=body.tags)
    return json_response(prompt.to_dict())


@router.delete(
    "/prompts/{name}", status_code=204, response_class=Response, summary="Delete a prompt"
)
def delete_prompt(name: str, store: StoreDep) -> Response:
    """Delete a prompt with all its versions and aliases."""
    store.delete_prompt(name)
    return no_content()


@router.post(
    "/prompts/{name}/versions",
    status_code=201,
    response_model=PromptVersionOut,
    summary="Register a prompt version",
)
def create_prompt_version(name: str, body: PromptVersionCreate, store: StoreDep) -> Response:
    """Register the next version (highest + 1), creating the prompt if needed."""
    version = store.create_prompt_version(
        name,
        body.template_value(),
        template_type=body.template_type,
        commit_message=body.commit_message,
        tags=body.tags,
        config=body.config,
        created_by=body.created_by,
    )
    return json_response(version.to_dict(), 201)


@router.get(
    "/prompts/{name}/versions", response_model=PromptVersionPage, summary="A prompt's versions"
)
def list_prompt_versions(
    name: str, store: StoreDep, limit: int = 100, page_token: str | None = None
) -> Response:
    """A page of versions, newest first."""
    page = store.list_prompt_versions(name, limit=limit, page_token=page_token)
    return json_response({"versions": page.to_dict(), "next_page_token": page.next_page_token})


@router.get(
    "/prompts/{name}/versions/{version}", response_model=PromptVersionOut, summary="A version"
)
def get_prompt_version(name: str, version: int, store: StoreDep) -> Response:
    """One version of a prompt."""
    return json_response(store.get_prompt_version(name, version).to_dict())


@router.delete(
    "/prompts/{name}/versions/{version}",
    status_code=204,
    response_class=Response,
    summary="Delete a prompt version",
)
def delete_prompt_version(name: str, version: int, store: StoreDep) -> Response:
    """Delete a version and the aliases pointing at it."""
    store.delete_prompt_version(name, version)
    return no_content()


@router.get(
    "/prompts/{name}/aliases/{alias}",
    response_model=PromptVersionOut,
    summary="The version an alias points at",
)
def get_prompt_version_by_alias(name: str, alias: str, store: StoreDep) -> Response:
    """The version `alias` names; `latest` is the highest version."""
    return json_response(store.get_prompt_version_by_alias(name, alias).to_dict())


@router.put(
    "/prompts/{name}/aliases/{alias}",
    status_code=204,
    response_class=Response,
    summary="Set a prompt alias",
)
def set_prompt_alias(name: str, alias: str, body: AliasSet, store: StoreDep) -> Response:
    """Point an alias at an existing version (404 if the version does not exist)."""
    store.set_prompt_alias(name, alias, body.version)
    return no_content()


@router.delete(
    "/prompts/{name}/aliases/{alias}",
    status_code=204,
    response_class=Response,
    summary="Delete a prompt alias",
)
def delete_prompt_alias(name: str, alias: str, store: StoreDep) -> Response:
    """Remove an alias (404 if it is not set)."""
    store.delete_prompt_alias(name, alias)
    return no_content()


__all__ = ["router"]
