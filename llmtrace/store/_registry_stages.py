"""Stages of model versions and their approval workflow, on SQL (part of `SqlStore`).

A stage change is either direct (`transition_model_version_stage`, refused with
`ApprovalRequiredError` when the registered model requires approval) or requested
(`create_transition_request`) and then approved, rejected or cancelled. Every change that
happens leaves a request row with its decision, so the history of a version's stages — who,
when, why — is `search_transition_requests(name, version=v, status=None)`. Whoever requested a
transition cannot approve it (when both are named). Moving a version to Staging or Production
with `archive_existing_versions` archives the versions that were in that stage.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from llmtrace.exceptions import ApprovalRequiredError, InvalidStateError, NotFoundError
from llmtrace.store._engine import write_connection
from llmtrace.store._pagination import check_limit
from llmtrace.store._registry_read import (
    model_row,
    models_t,
    requests_t,
    transition_request,
    version_row,
    versions,
    versions_t,
)
from llmtrace.store._registry_values import (
    check_model_name,
    check_request_status,
    check_stage,
    check_version,
)
from llmtrace.store.registry_entities import ModelVersion, TransitionRequest

_ARCHIVING_STAGES = ("Staging", "Production")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _apply(
    conn: sa.Connection, model: Any, version: int, stage: str, archive: bool, now: datetime
) -> None:
    """Move `version` to `stage`; with `archive`, archive the others that were in it."""
    of_model = versions_t.c.model_id == model.model_id
    conn.execute(
        versions_t.update()
        .where(of_model, versions_t.c.version == version)
        .values(stage=stage, updated_at=now)
    )
    if archive and stage in _ARCHIVING_STAGES:
        conn.execute(
            versions_t.update()
            .where(of_model, versions_t.c.version != version, versions_t.c.stage == stage)
            .values(stage="Archived", updated_at=now)
        )
    conn.execute(
        models_t.update().where(models_t.c.model_id == model.model_id).values(updated_at=now)
    )


def _request_row(conn: sa.Connection, request_id: str, *, lock: bool = False) -> Any:
    query = sa.select(requests_t).where(requests_t.c.request_id == request_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFoundError(f"transition request {request_id!r} not found")
    return row


class RegistryStagesMixin:
    """Stage transitions and their requests (mixed into `SqlStore` through `RegistryMixin`)."""

    engine: sa.Engine

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
        """Move a version to a stage (None, Staging, Production, Archived) now.

        Raises `ApprovalRequiredError` when the registered model requires approval: then use
        `create_transition_request` and have another person approve it.
        """
        check_model_name(name)
        number = check_version(version)
        to_stage = check_stage(stage)
        now = _now()
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            if model.requires_approval:
                raise ApprovalRequiredError(
                    f"model {name!r} requires approval for stage changes: create a transition "
                    f"request for version {number} to {to_stage} and have it approved"
                )
            _apply(conn, model, number, to_stage, archive_existing_versions, now)
            conn.execute(
                requests_t.insert(),
                {
                    "request_id": uuid.uuid4().hex,
                    "model_id": model.model_id,
                    "version": number,
                    "to_stage": to_stage,
                    "archive_existing": bool(archive_existing_versions),
                    "status": "APPROVED",
                    "requested_by": user,
                    "requested_at": now,
                    "comment": comment,
                    "decided_by": user,
                    "decided_at": now,
                    "decision_comment": "direct transition (no approval required)",
                },
            )
            return versions(conn, [version_row(conn, model, number)])[0]

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
        check_model_name(name)
        number = check_version(version)
        to_stage = check_stage(stage)
        now = _now()
        request_id = uuid.uuid4().hex
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            current = version_row(conn, model, number)
            if current.stage == to_stage:
                raise InvalidStateError(f"version {number} of {name!r} is in {to_stage} already")
            conn.execute(
                requests_t.insert(),
                {
                    "request_id": request_id,
                    "model_id": model.model_id,
                    "version": number,
                    "to_stage": to_stage,
                    "archive_existing": bool(archive_existing_versions),
                    "status": "PENDING",
                    "requested_by": requested_by,
                    "requested_at": now,
                    "comment": comment,
                },
            )
            return transition_request(_request_row(conn, request_id), name)

    def approve_transition_request(
        self, request_id: str, *, approved_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Approve a pending request: the version moves to the requested stage now."""
        return self._decide(request_id, "APPROVED", approved_by, comment)

    def reject_transition_request(
        self, request_id: str, *, rejected_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Reject a pending request: nothing moves."""
        return self._decide(request_id, "REJECTED", rejected_by, comment)

    def cancel_transition_request(
        self, request_id: str, *, cancelled_by: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Withdraw a pending request: nothing moves."""
        return self._decide(request_id, "CANCELLED", cancelled_by, comment)

    def _decide(
        self, request_id: str, status: str, user: str | None, comment: str | None
    ) -> TransitionRequest:
        now = _now()
        with write_connection(self.engine) as conn:
            first = _request_row(conn, request_id)
            # Lock order as everywhere: the model, then the rows under it.
            model = conn.execute(
                sa.select(models_t).where(models_t.c.model_id == first.model_id).with_for_update()
            ).first()
            if model is None:  # pragma: no cover - requests go with their model
                raise NotFoundError(f"transition request {request_id!r} not found")
            row = _request_row(conn, request_id, lock=True)
            if row.status != "PENDING":
                raise InvalidStateError(
                    f"transition request {request_id} is {row.status.lower()} already"
                )
            if status == "APPROVED" and user is not None and user == row.requested_by:
                raise InvalidStateError(
                    f"{user!r} requested this transition and cannot approve it too"
                )
            if status == "APPROVED":
                _apply(conn, model, row.version, row.to_stage, bool(row.archive_existing), now)
            conn.execute(
                requests_t.update()
                .where(requests_t.c.request_id == request_id)
                .values(status=status, decided_by=user, decided_at=now, decision_comment=comment)
            )
            return transition_request(_request_row(conn, request_id), model.name)

    def get_transition_request(self, request_id: str) -> TransitionRequest:
        """One transition request with its decision."""
        with self.engine.connect() as conn:
            row = _request_row(conn, request_id)
            name = conn.execute(
                sa.select(models_t.c.name).where(models_t.c.model_id == row.model_id)
            ).scalar_one()
            return transition_request(row, name)

    def search_transition_requests(
        self,
        name: str | None = None,
        *,
        version: int | str | None = None,
        status: str | None = "PENDING",
        limit: int = 100,
    ) -> list[TransitionRequest]:
        """Transition requests, newest first: pending ones by default (`status=None`: all,
        which is the stage history), of one model and version if given."""
        check_limit(limit)
        wanted = check_request_status(status)
        query = (
            sa.select(requests_t, models_t.c.name)
            .select_from(requests_t.join(models_t, requests_t.c.model_id == models_t.c.model_id))
            .order_by(requests_t.c.requested_at.desc(), requests_t.c.request_id)
            .limit(limit)
        )
        if name is not None:
            query = query.where(models_t.c.name == check_model_name(name))
        if version is not None:
            query = query.where(requests_t.c.version == check_version(version))
        if wanted is not None:
            query = query.where(requests_t.c.status == wanted)
        with self.engine.connect() as conn:
            return [transition_request(r, r.name) for r in conn.execute(query)]
