"""The model registry on SQL: methods of `SqlStore` for registered models, their versions,
tags and aliases (stage transitions and approvals are in `_registry_stages`).

Every write locks the registered model's row first (`SELECT ... FOR UPDATE`; `BEGIN IMMEDIATE`
on SQLite), so concurrent registrations of one model get consecutive version numbers and an
alias never points at a version being deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from llmtrace.exceptions import AlreadyExistsError, InvalidParameterError, NotFoundError
from llmtrace.store._engine import write_connection
from llmtrace.store._pagination import check_limit, decode_token, encode_token, query_fingerprint
from llmtrace.store._registry_filter import compile_model_filter, compile_version_filter
from llmtrace.store._registry_read import (
    VERSION_COLUMNS,
    VERSIONS_FROM,
    aliases_t,
    model_row,
    model_tags_t,
    models_t,
    registered_models,
    requests_t,
    version_row,
    version_tags_t,
    versions,
    versions_t,
)
from llmtrace.store._registry_stages import RegistryStagesMixin
from llmtrace.store._registry_values import (
    check_alias,
    check_model_name,
    check_registry_tags,
    check_source,
    check_stage,
    check_version,
)
from llmtrace.store.registry_entities import (
    ModelVersion,
    ModelVersionList,
    RegisteredModel,
    RegisteredModelList,
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _touch(conn: sa.Connection, model_id: str, now: datetime) -> None:
    conn.execute(models_t.update().where(models_t.c.model_id == model_id).values(updated_at=now))


class RegistryMixin(RegistryStagesMixin):
    """Registered models, versions, tags and aliases (mixed into `SqlStore`)."""

    engine: sa.Engine

    # --- registered models --------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        requires_approval: bool = False,
    ) -> RegisteredModel:
        """Register a model name (AlreadyExistsError if taken). With `requires_approval`,
        stage changes of its versions need an approved transition request.

        Example:
            >>> store.create_registered_model("rag-bot", requires_approval=True)
        """
        check_model_name(name)
        checked = check_registry_tags(tags)
        now = _now()
        model_id = uuid.uuid4().hex
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    models_t.insert(),
                    {
                        "model_id": model_id,
                        "name": name,
                        "description": description,
                        "requires_approval": bool(requires_approval),
                        "last_version": 0,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                if checked:
                    conn.execute(
                        model_tags_t.insert(),
                        [{"model_id": model_id, "key": k, "value": v} for k, v in checked.items()],
                    )
        except IntegrityError:
            raise AlreadyExistsError(f"a registered model named {name!r} already exists") from None
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage."""
        check_model_name(name)
        with self.engine.connect() as conn:
            return registered_models(conn, [model_row(conn, name)])[0]

    def search_registered_models(
        self,
        filter: str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> RegisteredModelList:
        """A page of registered models in name order matching the filter
        (`name like 'rag%' and tags.team = 'search'`)."""
        check_limit(limit)
        where = compile_model_filter(filter)
        fingerprint = query_fingerprint("registered_models", filter)
        query = sa.select(models_t).order_by(models_t.c.name).limit(limit + 1)
        if where is not None:
            query = query.where(where)
        if page_token:
            (after,) = decode_token(page_token, fingerprint, 1, "filter")
            query = query.where(models_t.c.name > after)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            items = registered_models(conn, rows[:limit])
        token = encode_token([items[-1].name], fingerprint) if len(rows) > limit else None
        return RegisteredModelList(items, token)

    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        requires_approval: bool | None = None,
    ) -> RegisteredModel:
        """Change the description and/or whether stage changes need approval."""
        check_model_name(name)
        values: dict[str, Any] = {"updated_at": _now()}
        if description is not None:
            values["description"] = description
        if requires_approval is not None:
            values["requires_approval"] = bool(requires_approval)
        with write_connection(self.engine) as conn:
            row = model_row(conn, name, lock=True)
            conn.execute(models_t.update().where(models_t.c.model_id == row.model_id), values)
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a registered model (its versions, aliases and requests follow). Sources of
        versions are not touched; `models:/<old name>/...` URIs stop resolving."""
        check_model_name(name)
        check_model_name(new_name)
        try:
            with write_connection(self.engine) as conn:
                row = model_row(conn, name, lock=True)
                conn.execute(
                    models_t.update()
                    .where(models_t.c.model_id == row.model_id)
                    .values(name=new_name, updated_at=_now())
                )
        except IntegrityError:
            raise AlreadyExistsError(
                f"a registered model named {new_name!r} already exists"
            ) from None
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with its versions, tags, aliases and requests (the model
        files themselves, in run artifacts, stay)."""
        check_model_name(name)
        with write_connection(self.engine) as conn:
            row = model_row(conn, name, lock=True)
            # Children first and explicitly: no reliance on each backend's cascade setting.
            for table in (requests_t, version_tags_t, aliases_t, versions_t, model_tags_t):
                conn.execute(table.delete().where(table.c.model_id == row.model_id))
            conn.execute(models_t.delete().where(models_t.c.model_id == row.model_id))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag on a registered model."""
        check_model_name(name)
        ((key, text),) = check_registry_tags({key: value}).items()
        with write_connection(self.engine) as conn:
            row = model_row(conn, name, lock=True)
            where = sa.and_(model_tags_t.c.model_id == row.model_id, model_tags_t.c.key == key)
            conn.execute(model_tags_t.delete().where(where))
            conn.execute(
                model_tags_t.insert(), {"model_id": row.model_id, "key": key, "value": text}
            )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model (nothing happens if it is not set)."""
        check_model_name(name)
        with write_connection(self.engine) as conn:
            row = model_row(conn, name, lock=True)
            conn.execute(
                model_tags_t.delete().where(
                    model_tags_t.c.model_id == row.model_id, model_tags_t.c.key == key
                )
            )

    # --- versions -----------------------------------------------------------------------------

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
        """Add the next version (1, 2, ...) of a registered model, its files at `source` (a
        model URI such as `runs:/<run_id>/model`), produced by `run_id`.

        Example:
            >>> store.create_model_version("rag-bot", "runs:/4f2a.../model", run_id="4f2a...")
        """
        check_model_name(name)
        check_source(source)
        checked = check_registry_tags(tags)
        if run_id is not None and (not isinstance(run_id, str) or not 0 < len(run_id) <= 32):
            raise InvalidParameterError(f"invalid run id {run_id!r}")
        now = _now()
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            version = int(model.last_version or 0) + 1
            conn.execute(
                versions_t.insert(),
                {
                    "model_id": model.model_id,
                    "version": version,
                    "source": source,
                    "run_id": run_id,
                    "stage": "None",
                    "description": description,
                    "created_by": created_by,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if checked:
                conn.execute(
                    version_tags_t.insert(),
                    [
                        {"model_id": model.model_id, "version": version, "key": k, "value": v}
                        for k, v in checked.items()
                    ],
                )
            conn.execute(
                models_t.update()
                .where(models_t.c.model_id == model.model_id)
                .values(last_version=version, updated_at=now)
            )
            return versions(conn, [version_row(conn, model, version)])[0]

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a registered model (NotFoundError if either is missing)."""
        check_model_name(name)
        number = check_version(version)
        with self.engine.connect() as conn:
            return versions(conn, [version_row(conn, model_row(conn, name), number)])[0]

    def search_model_versions(
        self,
        filter: str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> ModelVersionList:
        """A page of versions (by model name, newest version first) matching the filter
        (`name = 'rag-bot' and stage = 'Production'`, `run_id = '...'`, `tags.k = 'v'`)."""
        check_limit(limit)
        where = compile_version_filter(filter)
        fingerprint = query_fingerprint("model_versions", filter)
        query = (
            sa.select(*VERSION_COLUMNS)
            .select_from(VERSIONS_FROM)
            .order_by(models_t.c.name, versions_t.c.version.desc())
            .limit(limit + 1)
        )
        if where is not None:
            query = query.where(where)
        if page_token:
            name, version = decode_token(page_token, fingerprint, 2, "filter")
            query = query.where(
                sa.or_(
                    models_t.c.name > name,
                    sa.and_(models_t.c.name == name, versions_t.c.version < version),
                )
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            items = versions(conn, rows[:limit])
        token = None
        if len(rows) > limit:
            token = encode_token([items[-1].name, items[-1].version], fingerprint)
        return ModelVersionList(items, token)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The highest version in each of `stages` (every stage by default), lowest first."""
        found = self.get_registered_model(name).latest_versions
        if stages is None:
            return found
        wanted = {check_stage(s) for s in ([stages] if isinstance(stages, str) else stages)}
        return [v for v in found if v.stage in wanted]

    def update_model_version(
        self, name: str, version: int | str, *, description: str | None = None
    ) -> ModelVersion:
        """Change a version's description."""
        check_model_name(name)
        number = check_version(version)
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            if description is not None:
                conn.execute(
                    versions_t.update()
                    .where(versions_t.c.model_id == model.model_id, versions_t.c.version == number)
                    .values(description=description, updated_at=_now())
                )
        return self.get_model_version(name, number)

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version, its tags, requests and the aliases pointing at it."""
        check_model_name(name)
        number = check_version(version)
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            for table in (requests_t, version_tags_t, aliases_t, versions_t):
                conn.execute(
                    table.delete().where(
                        table.c.model_id == model.model_id, table.c.version == number
                    )
                )
            _touch(conn, model.model_id, _now())

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a tag on a model version."""
        check_model_name(name)
        number = check_version(version)
        ((key, text),) = check_registry_tags({key: value}).items()
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            match = sa.and_(
                version_tags_t.c.model_id == model.model_id,
                version_tags_t.c.version == number,
                version_tags_t.c.key == key,
            )
            conn.execute(version_tags_t.delete().where(match))
            conn.execute(
                version_tags_t.insert(),
                {"model_id": model.model_id, "version": number, "key": key, "value": text},
            )

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag from a model version (nothing happens if it is not set)."""
        check_model_name(name)
        number = check_version(version)
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            conn.execute(
                version_tags_t.delete().where(
                    version_tags_t.c.model_id == model.model_id,
                    version_tags_t.c.version == number,
                    version_tags_t.c.key == key,
                )
            )

    # --- aliases ------------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point `alias` (e.g. "champion") at a version, moving it if it pointed elsewhere."""
        check_model_name(name)
        check_alias(alias)
        number = check_version(version)
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            version_row(conn, model, number)
            match = sa.and_(aliases_t.c.model_id == model.model_id, aliases_t.c.alias == alias)
            conn.execute(aliases_t.delete().where(match))
            conn.execute(
                aliases_t.insert(),
                {"model_id": model.model_id, "alias": alias, "version": number},
            )
            _touch(conn, model.model_id, _now())

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias (NotFoundError if the model has no such alias)."""
        check_model_name(name)
        check_alias(alias)
        with write_connection(self.engine) as conn:
            model = model_row(conn, name, lock=True)
            result = conn.execute(
                aliases_t.delete().where(
                    aliases_t.c.model_id == model.model_id, aliases_t.c.alias == alias
                )
            )
            if not result.rowcount:
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            _touch(conn, model.model_id, _now())

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at; `latest` is the highest version."""
        check_model_name(name)
        with self.engine.connect() as conn:
            model = model_row(conn, name)
            if alias.lower() == "latest":
                number = conn.execute(
                    sa.select(sa.func.max(versions_t.c.version)).where(
                        versions_t.c.model_id == model.model_id
                    )
                ).scalar()
                if number is None:
                    raise NotFoundError(f"model {name!r} has no versions")
            else:
                check_alias(alias)
                number = conn.execute(
                    sa.select(aliases_t.c.version).where(
                        aliases_t.c.model_id == model.model_id, aliases_t.c.alias == alias
                    )
                ).scalar()
                if number is None:
                    raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            return versions(conn, [version_row(conn, model, int(number))])[0]
