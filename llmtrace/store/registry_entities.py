"""Typed results of the model registry: `RegisteredModel`, `ModelVersion`,
`TransitionRequest`, and their pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmtrace.store.entities import Page, json_ready

# A version's stage; "None" (a string) is the stage of a version never promoted.
STAGES = ("None", "Staging", "Production", "Archived")
# A transition request is PENDING until approved, rejected or cancelled.
REQUEST_STATUSES = ("PENDING", "APPROVED", "REJECTED", "CANCELLED")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class ModelVersion:
    """One version of a registered model: where its files are (`source`, a model URI such as
    `runs:/<run_id>/model`), the run that produced it, its stage, tags and aliases."""

    name: str
    version: int
    source: str
    run_id: str | None = None
    stage: str = "None"
    description: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        """`models:/<name>/<version>`."""
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return json_ready(self)


@dataclass
class RegisteredModel:
    """A registered model: its description, tags, aliases (`{"champion": 3}`), whether stage
    changes need approval, and the latest version in each stage."""

    name: str
    description: str | None = None
    requires_approval: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "description": self.description,
            "requires_approval": self.requires_approval,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "latest_versions": [v.to_dict() for v in self.latest_versions],
        }


@dataclass
class TransitionRequest:
    """A request to move a model version to a stage, and its decision: who asked, when and
    why; who approved, rejected or cancelled it, when and why."""

    request_id: str
    name: str
    version: int
    to_stage: str
    status: str = "PENDING"
    archive_existing_versions: bool = False
    requested_by: str | None = None
    requested_at: datetime | None = None
    comment: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return json_ready(self)


class RegisteredModelList(Page[RegisteredModel]):
    """A page of registered models; `next_page_token` fetches the next page."""


class ModelVersionList(Page[ModelVersion]):
    """A page of model versions; `next_page_token` fetches the next page."""


__all__ = [
    "REQUEST_STATUSES",
    "STAGES",
    "ModelVersion",
    "ModelVersionList",
    "RegisteredModel",
    "RegisteredModelList",
    "TransitionRequest",
]
