"""The model-registry part of the `Store` protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from llmtrace.store.registry_entities import (
    ModelVersion,
    ModelVersionList,
    RegisteredModel,
    RegisteredModelList,
    TransitionRequest,
)


class RegistryStore(Protocol):
    """Storage of the model registry (`SqlStore` and `RestStore` implement it)."""

    def create_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        requires_approval: bool = False,
    ) -> RegisteredModel:
        """Register a model name (AlreadyExistsError if taken)."""
        ...

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage."""
        ...

    def search_registered_models(
        self, filter: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> RegisteredModelList:
        """A page of registered models, in name order, matching the filter."""
        ...

    def update_registered_model(
        self, name: str, *, description: str | None = None, requires_approval: bool | None = None
    ) -> RegisteredModel:
        """Change the description and/or whether stage changes need approval."""
        ...

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a registered model (its versions, aliases and requests follow)."""
        ...

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with its versions, tags, aliases and requests."""
        ...

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag on a registered model."""
        ...

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model (nothing happens if it is not set)."""
        ...

    def create_model_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        created_by: str | None = None,
    ) -> ModelVersion:
        """Add the next version of a registered model, its files at `source`."""
        ...

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a registered model (NotFoundError if either is missing)."""
        ...

    def search_model_versions(
        self, filter: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> ModelVersionList:
        """A page of versions (by model name, newest version first)."""
        ...

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The highest version in each of `stages` (every stage by default), lowest first."""
        ...

    def update_model_version(
        self, name: str, version: int | str, *, description: str | None = None
    ) -> ModelVersion:
        """Change a version's description."""
        ...

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version, its tags, requests and the aliases pointing at it."""
        ...

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a tag on a model version."""
        ...

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag from a model version (nothing happens if it is not set)."""
        ...

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point an alias (e.g. "champion") at a version."""
        ...

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias (NotFoundError if the model has no such alias)."""
        ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at; `latest` is the highest version."""
        ...

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        *,
        archive_existing_versions: bool = False,
        user: str | None = None,
        comment: str | None = None,
    ) -> ModelVersion:
        """Move a version to a stage (None, Staging, Production, Archived)."""
        ...

    def create_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        *,
        archive_existing_versions: bool = False,
        requested_by: str | None = None,
        comment: str | None = None,
    ) -> TransitionRequest:
        """Ask for a version to move to a stage; it moves when the request is approved."""
        ...

    def approve_transition_request(
        self, request_id: str, *, approved_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Approve a pending request: the version moves to the requested stage now."""
        ...

    def reject_transition_request(
        self, request_id: str, *, rejected_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Reject a pending request: nothing moves."""
        ...

    def cancel_transition_request(
        self, request_id: str, *, cancelled_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Withdraw a pending request: nothing moves."""
        ...

    def get_transition_request(self, request_id: str) -> TransitionRequest:
        """One transition request with its decision."""
        ...

    def search_transition_requests(
        self,
        name: str | None = None,
        *,
        version: int | str | None = None,
        status: str | None = "PENDING",
        limit: int = 100,
    ) -> list[TransitionRequest]:
        """Transition requests, newest first (pending ones by default)."""
        ...
