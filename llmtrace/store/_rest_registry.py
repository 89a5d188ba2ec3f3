"""The model-registry methods of `RestStore` over the server's REST API
(docs/rest-api-registry.md). Arguments are checked here with the checks `SqlStore` runs, so a
bad name, alias or stage fails the same way before any request is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmtrace.store._pagination import check_limit
from llmtrace.store._registry_values import (
    check_alias,
    check_model_name,
    check_registry_tags,
    check_request_status,
    check_source,
    check_stage,
    check_version,
)
from llmtrace.store._rest import RestClient
from llmtrace.store._rest_tracking import segment
from llmtrace.store._wire import datetime_from_wire
from llmtrace.store.registry_entities import (
    ModelVersion,
    ModelVersionList,
    RegisteredModel,
    RegisteredModelList,
    TransitionRequest,
)


def version_from_dict(data: Mapping[str, Any]) -> ModelVersion:
    """The inverse of `ModelVersion.to_dict`."""
    return ModelVersion(
        name=str(data["name"]),
        version=int(data["version"]),
        source=str(data["source"]),
        run_id=data.get("run_id"),
        stage=str(data.get("stage", "None")),
        description=data.get("description"),
        created_by=data.get("created_by"),
        created_at=datetime_from_wire(data.get("created_at")),
        updated_at=datetime_from_wire(data.get("updated_at")),
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
        aliases=[str(a) for a in data.get("aliases") or []],
    )


def model_from_dict(data: Mapping[str, Any]) -> RegisteredModel:
    """The inverse of `RegisteredModel.to_dict`."""
    return RegisteredModel(
        name=str(data["name"]),
        description=data.get("description"),
        requires_approval=bool(data.get("requires_approval")),
        created_at=datetime_from_wire(data.get("created_at")),
        updated_at=datetime_from_wire(data.get("updated_at")),
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
        aliases={str(k): int(v) for k, v in (data.get("aliases") or {}).items()},
        latest_versions=[version_from_dict(v) for v in data.get("latest_versions") or []],
    )


def request_from_dict(data: Mapping[str, Any]) -> TransitionRequest:
    """The inverse of `TransitionRequest.to_dict`."""
    return TransitionRequest(
        request_id=str(data["request_id"]),
        name=str(data["name"]),
        version=int(data["version"]),
        to_stage=str(data["to_stage"]),
        status=str(data["status"]),
        archive_existing_versions=bool(data.get("archive_existing_versions")),
        requested_by=data.get("requested_by"),
        requested_at=datetime_from_wire(data.get("requested_at")),
        comment=data.get("comment"),
        decided_by=data.get("decided_by"),
        decided_at=datetime_from_wire(data.get("decided_at")),
        decision_comment=data.get("decision_comment"),
    )


def _model_path(name: str) -> str:
    return f"/registered-models/{segment(check_model_name(name))}"


def _version_path(name: str, version: int | str) -> str:
    return f"{_model_path(name)}/versions/{check_version(version)}"


class RestRegistryMixin(RestClient):
    """The model registry over the server's REST API."""

    def create_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        requires_approval: bool = False,
    ) -> RegisteredModel:
        """Register a model name (AlreadyExistsError if taken)."""
        body = {
            "name": check_model_name(name),
            "description": description,
            "tags": check_registry_tags(tags),
            "requires_approval": bool(requires_approval),
        }
        return model_from_dict(self.request("POST", "/registered-models", json=body).json())

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage."""
        return model_from_dict(self.get_json(_model_path(name)))

    def search_registered_models(
        self, filter: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> RegisteredModelList:
        """A page of registered models, in name order, matching the filter."""
        check_limit(limit)
        page = self.get_json(
            "/registered-models", filter=filter, limit=limit, page_token=page_token
        )
        return RegisteredModelList(
            [model_from_dict(m) for m in page["registered_models"]], page.get("next_page_token")
        )

    def update_registered_model(
        self, name: str, *, description: str | None = None, requires_approval: bool | None = None
    ) -> RegisteredModel:
        """Change the description and/or whether stage changes need approval."""
        body = {"description": description, "requires_approval": requires_approval}
        response = self.request("PATCH", _model_path(name), json=body, retry=True)
        return model_from_dict(response.json())

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a registered model."""
        body = {"new_name": check_model_name(new_name)}
        return model_from_dict(self.request("PATCH", _model_path(name), json=body).json())

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with its versions, tags, aliases and requests."""
        self.request("DELETE", _model_path(name))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag on a registered model."""
        ((key, text),) = check_registry_tags({key: value}).items()
        path = f"{_model_path(name)}/tags/{segment(key)}"
        self.request("PUT", path, json={"value": text})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model."""
        self.request("DELETE", f"{_model_path(name)}/tags/{segment(key)}")

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
        body = {
            "source": check_source(source),
            "run_id": run_id,
            "description": description,
            "tags": check_registry_tags(tags),
            "created_by": created_by,
        }
        path = f"{_model_path(name)}/versions"
        return version_from_dict(self.request("POST", path, json=body).json())

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a registered model."""
        return version_from_dict(self.get_json(_version_path(name, version)))

    def search_model_versions(
        self, filter: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> ModelVersionList:
        """A page of versions matching the filter."""
        check_limit(limit)
        page = self.get_json("/model-versions", filter=filter, limit=limit, page_token=page_token)
        return ModelVersionList(
            [version_from_dict(v) for v in page["model_versions"]], page.get("next_page_token")
        )

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The highest version in each of `stages` (every stage by default)."""
        wanted = None
        if stages is not None:
            wanted = [check_stage(s) for s in ([stages] if isinstance(stages, str) else stages)]
            if not wanted:
                return []
        page = self.get_json(f"{_model_path(name)}/latest-versions", stages=wanted)
        return [version_from_dict(v) for v in page["model_versions"]]

    def update_model_version(
        self, name: str, version: int | str, *, description: str | None = None
    ) -> ModelVersion:
        """Change a version's description."""
        path = _version_path(name, version)
        response = self.request("PATCH", path, json={"description": description}, retry=True)
        return version_from_dict(response.json())

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version, its tags, requests and the aliases pointing at it."""
        self.request("DELETE", _version_path(name, version))

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a tag on a model version."""
        ((key, text),) = check_registry_tags({key: value}).items()
        path = f"{_version_path(name, version)}/tags/{segment(key)}"
        self.request("PUT", path, json={"value": text})

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag from a model version."""
        self.request("DELETE", f"{_version_path(name, version)}/tags/{segment(key)}")

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point an alias at a version."""
        path = f"{_model_path(name)}/aliases/{segment(check_alias(alias))}"
        self.request("PUT", path, json={"version": check_version(version)})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self.request("DELETE", f"{_model_path(name)}/aliases/{segment(check_alias(alias))}")

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at; `latest` is the highest version."""
        if alias.lower() != "latest":
            check_alias(alias)
        return version_from_dict(self.get_json(f"{_model_path(name)}/aliases/{segment(alias)}"))

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
        """Move a version to a stage now (ApprovalRequiredError if the model needs approval)."""
        body = {
            "stage": check_stage(stage),
            "archive_existing_versions": archive_existing_versions,
            "user": user,
            "comment": comment,
        }
        path = f"{_version_path(name, version)}/stage"
        return version_from_dict(self.request("POST", path, json=body).json())

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
        """Ask for a version to move to a stage."""
        body = {
            "stage": check_stage(stage),
            "archive_existing_versions": archive_existing_versions,
            "requested_by": requested_by,
            "comment": comment,
        }
        path = f"{_version_path(name, version)}/transition-requests"
        return request_from_dict(self.request("POST", path, json=body).json())

    def _decide(
        self, request_id: str, action: str, user: str | None, comment: str | None
    ) -> TransitionRequest:
        path = f"/transition-requests/{segment(request_id)}/{action}"
        body = {"user": user, "comment": comment}
        return request_from_dict(self.request("POST", path, json=body).json())

    def approve_transition_request(
        self, request_id: str, *, approved_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Approve a pending request: the version moves now."""
        return self._decide(request_id, "approve", approved_by, comment)

    def reject_transition_request(
        self, request_id: str, *, rejected_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Reject a pending request."""
        return self._decide(request_id, "reject", rejected_by, comment)

    def cancel_transition_request(
        self, request_id: str, *, cancelled_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Withdraw a pending request."""
        return self._decide(request_id, "cancel", cancelled_by, comment)

    def get_transition_request(self, request_id: str) -> TransitionRequest:
        """One transition request with its decision."""
        return request_from_dict(self.get_json(f"/transition-requests/{segment(request_id)}"))

    def search_transition_requests(
        self,
        name: str | None = None,
        *,
        version: int | str | None = None,
        status: str | None = "PENDING",
        limit: int = 100,
    ) -> list[TransitionRequest]:
        """Transition requests, newest first (pending ones by default)."""
        check_limit(limit)
        wanted = check_request_status(status)
        page = self.get_json(
            "/transition-requests",
            name=None if name is None else check_model_name(name),
            version=None if version is None else check_version(version),
            status=wanted or "ALL",
            limit=limit,
        )
        return [request_from_dict(r) for r in page["transition_requests"]]
