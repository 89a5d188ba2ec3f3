"""Wire models of the model-registry routes (request bodies; responses are the entities'
`to_dict()`, described by the response models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisteredModelCreate(_Body):
    """`POST /registered-models`."""

    name: str
    description: str | None = None
    tags: dict[str, Scalar] | None = None
    requires_approval: bool = False


class RegisteredModelUpdate(_Body):
    """`PATCH /registered-models/{name}`: description, approval setting, or a new name."""

    description: str | None = None
    requires_approval: bool | None = None
    new_name: str | None = None


class TagValue(_Body):
    """A tag's value."""

    value: Scalar = ""


class AliasTarget(_Body):
    """`PUT /registered-models/{name}/aliases/{alias}`."""

    version: int = Field(strict=True, ge=1)


class VersionCreate(_Body):
    """`POST /registered-models/{name}/versions`."""

    source: str
    run_id: str | None = None
    description: str | None = None
    tags: dict[str, Scalar] | None = None
    created_by: str | None = None


class VersionUpdate(_Body):
    """`PATCH /registered-models/{name}/versions/{version}`."""

    description: str | None = None


class StageChange(_Body):
    """`POST .../versions/{version}/stage`: a direct stage change (refused with 409
    APPROVAL_REQUIRED when the model requires approval)."""

    stage: str
    archive_existing_versions: bool = False
    user: str | None = None
    comment: str | None = None


class TransitionRequestCreate(_Body):
    """`POST .../versions/{version}/transition-requests`."""

    stage: str
    archive_existing_versions: bool = False
    requested_by: str | None = None
    comment: str | None = None


class Decision(_Body):
    """`POST /transition-requests/{id}/approve|reject|cancel`."""

    user: str | None = None
    comment: str | None = None


class ModelVersionOut(BaseModel):
    """A model version (see `ModelVersion.to_dict`)."""

    name: str
    version: int
    source: str
    run_id: str | None
    stage: str
    description: str | None
    created_by: str | None
    created_at: str | None
    updated_at: str | None
    tags: dict[str, str]
    aliases: list[str]


class RegisteredModelOut(BaseModel):
    """A registered model (see `RegisteredModel.to_dict`)."""

    name: str
    description: str | None
    requires_approval: bool
    created_at: str | None
    updated_at: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_versions: list[ModelVersionOut]


class RegisteredModelPage(BaseModel):
    """A page of registered models."""

    registered_models: list[RegisteredModelOut]
    next_page_token: str | None


class ModelVersionPage(BaseModel):
    """A page of model versions."""

    model_versions: list[ModelVersionOut]
    next_page_token: str | None


class TransitionRequestOut(BaseModel):
    """A transition request (see `TransitionRequest.to_dict`)."""

    request_id: str
    name: str
    version: int
    to_stage: str
    status: str
    archive_existing_versions: bool
    requested_by: str | None
    requested_at: str | None
    comment: str | None
    decided_by: str | None
    decided_at: str | None
    decision_comment: str | None


class TransitionRequestList(BaseModel):
    """Transition requests, newest first."""

    transition_requests: list[TransitionRequestOut]


def plain(tags: dict[str, Any] | None) -> dict[str, Any] | None:
    """Tags as given (values are turned into text by the store)."""
    return None if tags is None else dict(tags)
