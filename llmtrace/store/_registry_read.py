"""Reading registry rows into entities, in batches (one query per kind of child row for a
whole page, never one per model or version)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa

from llmtrace.exceptions import NotFoundError
from llmtrace.store.models import (
    ModelAliasRow,
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
    StageTransitionRequestRow,
)
from llmtrace.store.registry_entities import ModelVersion, RegisteredModel, TransitionRequest

models_t = cast(sa.Table, RegisteredModelRow.__table__)
model_tags_t = cast(sa.Table, RegisteredModelTagRow.__table__)
versions_t = cast(sa.Table, ModelVersionRow.__table__)
version_tags_t = cast(sa.Table, ModelVersionTagRow.__table__)
aliases_t = cast(sa.Table, ModelAliasRow.__table__)
requests_t = cast(sa.Table, StageTransitionRequestRow.__table__)

# The columns of a version row with its model's name.
VERSION_COLUMNS = (*versions_t.c, models_t.c.name)
VERSIONS_FROM = versions_t.join(models_t, versions_t.c.model_id == models_t.c.model_id)


def model_row(conn: sa.Connection, name: str, *, lock: bool = False) -> Any:
    """The registered model's row (locked until commit with `lock`); NotFoundError if none."""
    query = sa.select(models_t).where(models_t.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFoundError(f"registered model {name!r} not found")
    return row


def version_row(conn: sa.Connection, model: Any, version: int) -> Any:
    """A version's row with its model's name; NotFoundError if the model has no such version."""
    row = conn.execute(
        sa.select(*VERSION_COLUMNS)
        .select_from(VERSIONS_FROM)
        .where(versions_t.c.model_id == model.model_id, versions_t.c.version == version)
    ).first()
    if row is None:
        raise NotFoundError(f"model {model.name!r} has no version {version}")
    return row


def versions(conn: sa.Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    """Entities of version rows (selected with `VERSION_COLUMNS`), with tags and aliases."""
    if not rows:
        return []
    ids = {r.model_id for r in rows}
    keys = {(r.model_id, r.version) for r in rows}
    tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for t in conn.execute(sa.select(version_tags_t).where(version_tags_t.c.model_id.in_(ids))):
        if (t.model_id, t.version) in keys:
            tags[(t.model_id, t.version)][t.key] = t.value
    aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
    query = sa.select(aliases_t).where(aliases_t.c.model_id.in_(ids)).order_by(aliases_t.c.alias)
    for a in conn.execute(query):
        aliases[(a.model_id, a.version)].append(a.alias)
    return [
        ModelVersion(
            name=r.name,
            version=r.version,
            source=r.source,
            run_id=r.run_id,
            stage=r.stage,
            description=r.description,
            created_by=r.created_by,
            created_at=r.created_at,
            updated_at=r.updated_at,
            tags=tags.get((r.model_id, r.version), {}),
            aliases=aliases.get((r.model_id, r.version), []),
        )
        for r in rows
    ]


def registered_models(conn: sa.Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    """Entities of model rows with tags, aliases and the latest version of each stage."""
    if not rows:
        return []
    ids = [r.model_id for r in rows]
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for t in conn.execute(sa.select(model_tags_t).where(model_tags_t.c.model_id.in_(ids))):
        tags[t.model_id][t.key] = t.value
    aliases: dict[str, dict[str, int]] = defaultdict(dict)
    query = sa.select(aliases_t).where(aliases_t.c.model_id.in_(ids)).order_by(aliases_t.c.alias)
    for a in conn.execute(query):
        aliases[a.model_id][a.alias] = a.version
    latest = (
        sa.select(
            versions_t.c.model_id, versions_t.c.stage, sa.func.max(versions_t.c.version).label("v")
        )
        .where(versions_t.c.model_id.in_(ids))
        .group_by(versions_t.c.model_id, versions_t.c.stage)
        .subquery()
    )
    latest_rows = conn.execute(
        sa.select(*VERSION_COLUMNS)
        .select_from(
            VERSIONS_FROM.join(
                latest,
                sa.and_(
                    latest.c.model_id == versions_t.c.model_id, latest.c.v == versions_t.c.version
                ),
            )
        )
        .order_by(versions_t.c.version)
    ).all()
    by_model: dict[str, list[ModelVersion]] = defaultdict(list)
    for v, row in zip(versions(conn, latest_rows), latest_rows, strict=True):
        by_model[row.model_id].append(v)
    return [
        RegisteredModel(
            name=r.name,
            description=r.description,
            requires_approval=bool(r.requires_approval),
            created_at=r.created_at,
            updated_at=r.updated_at,
            tags=tags.get(r.model_id, {}),
            aliases=aliases.get(r.model_id, {}),
            latest_versions=by_model.get(r.model_id, []),
        )
        for r in rows
    ]


def transition_request(row: Any, name: str) -> TransitionRequest:
    """The entity of a `stage_transition_requests` row."""
    return TransitionRequest(
        request_id=row.request_id,
        name=name,
        version=row.version,
        to_stage=row.to_stage,
        status=row.status,
        archive_existing_versions=bool(row.archive_existing),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        comment=row.comment,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_comment=row.decision_comment,
    )


__all__ = [
    "VERSIONS_FROM",
    "VERSION_COLUMNS",
    "aliases_t",
    "model_row",
    "model_tags_t",
    "models_t",
    "registered_models",
    "requests_t",
    "transition_request",
    "version_row",
    "version_tags_t",
    "versions",
    "versions_t",
]
