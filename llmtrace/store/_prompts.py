"""The prompt registry on SQL: methods of `SqlStore`, and the argument checks that `RestStore`
runs too (so that both raise the same errors before touching anything).

A prompt is a name; its versions are numbered 1, 2, 3... and immutable; aliases
(`production`) point at versions, and `latest` always means the highest. Every write locks the
prompt's row first (`SELECT ... FOR UPDATE`; `BEGIN IMMEDIATE` on SQLite), so writers of one
prompt are serialised: two processes registering a version at once get two numbers, never the
same one, and an alias can never point at a version being deleted. Rows other than the
prompt's are read with plain reads after that lock (a locking read of a missing key would take
gap locks on MySQL/MariaDB, and deadlock concurrent inserts). Deadlocks and lock timeouts retry
the whole transaction.

Example:
    >>> store.create_prompt_version("qa", "Answer briefly: {{ question }}").version
    1
    >>> store.set_prompt_alias("qa", "production", 1)
    >>> store.get_prompt_version_by_alias("qa", "production").format(question="2+2?")
    'Answer briefly: 2+2?'
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from llmtrace.exceptions import (
    AlreadyExistsError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
)
from llmtrace.store._engine import SQLITE_BEGIN
from llmtrace.store._pagination import check_limit, decode_token, encode_token, query_fingerprint
from llmtrace.store._prompt_filter import compile_prompt_filter
from llmtrace.store._prompt_template import Template, check_template, extract_variables
from llmtrace.store._tracking import WRITE_ATTEMPTS, _is_transient
from llmtrace.store._tracking_values import TagsLike, check_tags
from llmtrace.store.models import PromptAliasRow, PromptRow, PromptVersionRow
from llmtrace.store.prompt_entities import Prompt, PromptList, PromptVersion, PromptVersionList

T = TypeVar("T")

prompts_t: sa.Table = PromptRow.__table__  # type: ignore[assignment]
versions_t: sa.Table = PromptVersionRow.__table__  # type: ignore[assignment]
aliases_t: sa.Table = PromptAliasRow.__table__  # type: ignore[assignment]

LATEST = "latest"
MAX_NAME_LENGTH = 255
MAX_VERSION = 2**31 - 1
# TEXT columns on MySQL/MariaDB hold 65,535 bytes.
_MAX_TEXT_BYTES = 65_535
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_SCAN_BATCH = 500
_CREATE_ATTEMPTS = 5


# --- argument checks (shared with RestStore) ---------------------------------------------------


def check_prompt_name(name: Any) -> str:
    """A valid prompt name: 1-255 letters, digits, '_', '-' or '.', starting with a letter or
    digit (names appear in `prompts:/name/3` and `prompts:/name@alias` URIs)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        shown = name if not isinstance(name, str) or len(name) <= 80 else name[:77] + "..."
        raise InvalidParameterError(
            f"invalid prompt name {shown!r}: use 1 to {MAX_NAME_LENGTH} letters, digits, '_', "
            "'-' or '.', starting with a letter or digit"
        )
    return name


def check_alias(alias: Any, *, writing: bool) -> str:
    """A valid alias: 1-255 letters, digits, '_' or '-', starting with a letter or '_' (so it
    is never mistaken for a version number). `latest` is reserved: it can be read, never set."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or len(alias) > MAX_NAME_LENGTH:
        shown = alias if not isinstance(alias, str) or len(alias) <= 80 else alias[:77] + "..."
        raise InvalidParameterError(
            f"invalid prompt alias {shown!r}: use 1 to {MAX_NAME_LENGTH} letters, digits, '_' "
            "or '-', starting with a letter or '_'"
        )
    if writing and alias == LATEST:
        raise InvalidParameterError(
            "the alias 'latest' is reserved: it always means the highest version"
        )
    return alias


def check_version(version: Any) -> int:
    """A version number: an integer from 1."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidParameterError(f"a prompt version must be an integer, got {version!r}")
    if not 1 <= version <= MAX_VERSION:
        raise InvalidParameterError(f"prompt versions start at 1, got {version}")
    return version


def check_text(value: Any, what: str, max_bytes: int = _MAX_TEXT_BYTES) -> str | None:
    """Optional text that fits its column (bytes, as MySQL counts), without NUL."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterError(f"{what} must be a string, got {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidParameterError(f"{what} is not valid Unicode (lone surrogate)") from None
    if "\x00" in value:
        raise InvalidParameterError(f"{what} must not contain NUL characters")
    if size > max_bytes:
        raise InvalidParameterError(f"{what} is {size} bytes long (max {max_bytes})")
    return value


def _json_text(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{what} is not JSON-serialisable: {exc}") from None
    return check_text(text, f"{what} (as JSON)") or ""


def check_prompt_tags(tags: TagsLike | None) -> dict[str, str]:
    """Tags as {key: text}, checked like run tags, small enough for their column."""
    checked = check_tags(tags, "prompt tag")
    for key, value in checked.items():
        check_text(key, f"prompt tag key {key[:40]!r}")
        check_text(value, f"prompt tag {key[:40]!r}")
    _json_text(checked, "prompt tags")
    return checked


def check_config(config: Any) -> dict[str, Any] | None:
    """Model settings: a JSON object (or None)."""
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise InvalidParameterError(f"config must be a dict, got {type(config).__name__}")
    checked = {str(k): v for k, v in config.items()}
    _json_text(checked, "config")
    return checked


# --- rows -> entities ----------------------------------------------------------------------------


def _prompt(row: Any, latest: int | None = None, aliases: dict[str, int] | None = None) -> Prompt:
    return Prompt(
        name=row.name,
        description=row.description,
        tags=json.loads(row.tags or "{}"),
        created_at=row.created_at,
        updated_at=row.updated_at,
        latest_version=latest,
        aliases=dict(sorted((aliases or {}).items())),
    )


def _version(name: str, row: Any, aliases: list[str]) -> PromptVersion:
    template_type = row.template_type
    template: Template = json.loads(row.template) if template_type == "chat" else row.template
    return PromptVersion(
        name=name,
        version=row.version,
        template=template,
        template_type=template_type,
        variables=json.loads(row.variables or "[]"),
        config=None if row.config is None else json.loads(row.config),
        commit_message=row.commit_message,
        tags=json.loads(row.tags or "{}"),
        aliases=sorted(aliases),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f"prompt {name!r} not found")


class PromptsMixin:
    """Prompts, their versions and aliases (mixed into `SqlStore`)."""

    engine: sa.Engine

    def _prompt_write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` in one write transaction, again after a deadlock or lock timeout."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
                    with conn.begin():
                        return work(conn)
            except DBAPIError as exc:
                if not _is_transient(exc) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _lock_prompt(conn: sa.Connection, name: str) -> Any:
        q = sa.select(prompts_t).where(prompts_t.c.name == name).with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise _not_found(name)
        return row

    @staticmethod
    def _read_prompt(conn: sa.Connection, name: str) -> Any:
        row = conn.execute(sa.select(prompts_t).where(prompts_t.c.name == name)).first()
        if row is None:
            raise _not_found(name)
        return row

    @staticmethod
    def _aliases_of(conn: sa.Connection, prompt_id: str) -> dict[str, int]:
        q = sa.select(aliases_t.c.alias, aliases_t.c.version)
        rows = conn.execute(q.where(aliases_t.c.prompt_id == prompt_id))
        return {alias: version for alias, version in rows}

    @staticmethod
    def _latest_of(conn: sa.Connection, prompt_id: str) -> int | None:
        q = sa.select(sa.func.max(versions_t.c.version)).where(versions_t.c.prompt_id == prompt_id)
        latest: int | None = conn.execute(q).scalar()
        return latest

    def _load_version(self, conn: sa.Connection, name: str, prompt_id: str, version: int) -> Any:
        q = sa.select(versions_t).where(
            versions_t.c.prompt_id == prompt_id, versions_t.c.version == version
        )
        row = conn.execute(q).first()
        if row is None:
            raise NotFoundError(f"prompt {name!r} has no version {version}")
        aliases = [a for a, v in self._aliases_of(conn, prompt_id).items() if v == version]
        return _version(name, row, aliases)

    # --- prompts -------------------------------------------------------------------------------

    def create_prompt(
        self, name: str, description: str | None = None, tags: TagsLike | None = None
    ) -> Prompt:
        """Register a prompt name (without versions yet); AlreadyExistsError if it exists.
        `create_prompt_version` creates the prompt itself when needed.

        Example:
            >>> store.create_prompt("qa", description="answers questions", tags={"team": "x"})
        """
        check_prompt_name(name)
        text = check_text(description, "prompt description")
        tag_map = check_prompt_tags(tags)
        now = _now()
        row = {
            "prompt_id": uuid.uuid4().hex,
            "name": name,
            "description": text,
            "tags": _json_text(tag_map, "prompt tags"),
            "last_version": 0,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(prompts_t.insert(), row)
        except IntegrityError:
            raise AlreadyExistsError(f"a prompt named {name!r} already exists") from None
        return Prompt(name, text, tag_map, now, now, None, {})

    def get_prompt(self, name: str) -> Prompt:
        """The prompt called `name`, with its latest version and aliases (NotFoundError if
        there is none)."""
        check_prompt_name(name)
        with self.engine.connect() as conn:
            row = self._read_prompt(conn, name)
            latest = self._latest_of(conn, row.prompt_id)
            return _prompt(row, latest, self._aliases_of(conn, row.prompt_id))

    def search_prompts(
        self, filter: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> PromptList:
        """A page of prompts in name order matching the filter, e.g.
        `name like 'qa-%' and tags.team = 'search'` (fields: name, description, created_at,
        updated_at, tags.<key>). Raises FilterSyntaxError for a malformed filter.

        Example:
            >>> page = store.search_prompts("tags.team = 'search'", limit=50)
            >>> more = store.search_prompts("tags.team = 'search'", page_token=page.next_page_token)
        """
        check_limit(limit)
        matches = compile_prompt_filter(filter)
        fingerprint = query_fingerprint("prompts", filter)
        after: str | None = None
        if page_token:
            (after,) = decode_token(page_token, fingerprint, 1, "filter")
            if not isinstance(after, str) or "\x00" in after:
                raise InvalidQueryError(f"invalid page token {page_token!r}")
        found: list[tuple[Any, Prompt]] = []
        with self.engine.connect() as conn:
            while len(found) <= limit:
                q = sa.select(prompts_t).order_by(prompts_t.c.name).limit(_SCAN_BATCH)
                if after is not None:
                    q = q.where(prompts_t.c.name > after)
                rows = conn.execute(q).all()
                for row in rows:
                    after = row.name
                    prompt = _prompt(row)
                    if matches is None or matches(prompt):
                        found.append((row, prompt))
                        if len(found) > limit:
                            break
                if len(rows) < _SCAN_BATCH:
                    break
            page = found[:limit]
            ids = [row.prompt_id for row, _ in page]
            latest: dict[str, int] = {}
            aliases: dict[str, dict[str, int]] = {}
            if ids:
                q_latest = (
                    sa.select(versions_t.c.prompt_id, sa.func.max(versions_t.c.version))
                    .where(versions_t.c.prompt_id.in_(ids))
                    .group_by(versions_t.c.prompt_id)
                )
                latest = {prompt_id: top for prompt_id, top in conn.execute(q_latest)}
                q_alias = sa.select(aliases_t).where(aliases_t.c.prompt_id.in_(ids))
                for alias_row in conn.execute(q_alias):
                    aliases.setdefault(alias_row.prompt_id, {})[alias_row.alias] = alias_row.version
        items = [
            _prompt(row, latest.get(row.prompt_id), aliases.get(row.prompt_id)) for row, _ in page
        ]
        token = encode_token([items[-1].name], fingerprint) if len(found) > limit else None
        return PromptList(items, token)

    def update_prompt(
        self, name: str, *, description: str | None = None, tags: TagsLike | None = None
    ) -> Prompt:
        """Change a prompt's description (None leaves it) and merge `tags` into its tags (a
        tag given with an empty value is removed); returns the prompt as updated."""
        check_prompt_name(name)
        text = check_text(description, "prompt description")
        new_tags = check_prompt_tags(tags)

        def work(conn: sa.Connection) -> None:
            row = self._lock_prompt(conn, name)
            values: dict[str, Any] = {"updated_at": _now()}
            if text is not None:
                values["description"] = text
            if new_tags:
                merged = {**json.loads(row.tags or "{}"), **new_tags}
                kept = {k: v for k, v in merged.items() if v != ""}
                values["tags"] = _json_text(kept, "prompt tags")
            q = prompts_t.update().where(prompts_t.c.prompt_id == row.prompt_id)
            conn.execute(q.values(values))

        self._prompt_write(work)
        return self.get_prompt(name)

    def delete_prompt(self, name: str) -> None:
        """Delete a prompt with all its versions and aliases (NotFoundError if unknown)."""
        check_prompt_name(name)

        def work(conn: sa.Connection) -> None:
            row = self._lock_prompt(conn, name)
            for table in (aliases_t, versions_t, prompts_t):
                conn.execute(table.delete().where(table.c.prompt_id == row.prompt_id))

        self._prompt_write(work)

    # --- versions ------------------------------------------------------------------------------

    def create_prompt_version(
        self,
        name: str,
        template: Template,
        *,
        template_type: str | None = None,
        commit_message: str | None = None,
        tags: TagsLike | None = None,
        config: Mapping[str, Any] | None = None,
        created_by: str | None = None,
    ) -> PromptVersion:
        """Register a new version of prompt `name` (created if needed): number = highest + 1.

        `template` is a string ("text") or a list of `{"role", "content"}` messages ("chat");
        its `{{ variables }}` are extracted now. `config` keeps model settings with it.

        Example:
            >>> pv = store.create_prompt_version(
            ...     "qa", [{"role": "system", "content": "Be brief."},
            ...            {"role": "user", "content": "{{ question }}"}],
            ...     commit_message="chat form", config={"model": "gpt-4o-mini"})
            >>> pv.version, pv.variables
            (2, ['question'])
        """
        check_prompt_name(name)
        checked, kind = check_template(template, template_type)
        variables = extract_variables(checked)
        message = check_text(commit_message, "commit message")
        tag_map = check_prompt_tags(tags)
        settings = check_config(config)
        author = check_text(created_by, "created_by", MAX_NAME_LENGTH)
        row: dict[str, Any] = {
            "template_type": kind,
            "template": checked if kind == "text" else json.dumps(checked),
            "variables": _json_text(variables, "variables"),
            "config": None if settings is None else _json_text(settings, "config"),
            "commit_message": message,
            "tags": _json_text(tag_map, "prompt tags"),
            "created_by": author,
        }

        def work(conn: sa.Connection) -> PromptVersion:
            prompt = conn.execute(
                sa.select(prompts_t.c.prompt_id, prompts_t.c.last_version)
                .where(prompts_t.c.name == name)
                .with_for_update()
            ).first()
            if prompt is None:
                raise _not_found(name)
            # Never a deleted version's number: `prompts:/name/3` means one text or nothing.
            latest = max(prompt.last_version or 0, self._latest_of(conn, prompt.prompt_id) or 0)
            now = _now()
            version = latest + 1
            values = {**row, "prompt_id": prompt.prompt_id, "version": version, "created_at": now}
            conn.execute(versions_t.insert(), values)
            q = prompts_t.update().where(prompts_t.c.prompt_id == prompt.prompt_id)
            conn.execute(q.values(updated_at=now, last_version=version))
            return _version(name, SimpleNamespace(**values), [])

        for attempt in range(_CREATE_ATTEMPTS):
            self._ensure_prompt(name)
            try:
                return self._prompt_write(work)
            except NotFoundError:  # deleted between the two transactions: create it again
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                continue
            except IntegrityError:  # pragma: no cover - the lock makes numbers unique
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _ensure_prompt(self, name: str) -> None:
        """Create prompt `name` (no description, no tags) unless it exists."""
        with self.engine.connect() as conn:
            q = sa.select(prompts_t.c.prompt_id).where(prompts_t.c.name == name)
            if conn.execute(q).first() is not None:
                return
        with contextlib.suppress(AlreadyExistsError):  # created concurrently: fine
            self.create_prompt(name)

    def get_prompt_version(self, name: str, version: int) -> PromptVersion:
        """One version of a prompt (NotFoundError if the prompt or the version is missing)."""
        check_prompt_name(name)
        check_version(version)
        with self.engine.connect() as conn:
            row = self._read_prompt(conn, name)
            result: PromptVersion = self._load_version(conn, name, row.prompt_id, version)
            return result

    def get_prompt_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        """The version an alias points at; `latest` is the highest version (NotFoundError if
        the prompt, the alias, or any version is missing)."""
        check_prompt_name(name)
        check_alias(alias, writing=False)
        with self.engine.connect() as conn:
            row = self._read_prompt(conn, name)
            if alias == LATEST:
                version = self._latest_of(conn, row.prompt_id)
                if version is None:
                    raise NotFoundError(f"prompt {name!r} has no versions yet")
            else:
                q = sa.select(aliases_t.c.version).where(
                    aliases_t.c.prompt_id == row.prompt_id, aliases_t.c.alias == alias
                )
                version = conn.execute(q).scalar()
                if version is None:
                    raise NotFoundError(f"prompt {name!r} has no alias {alias!r}")
            result: PromptVersion = self._load_version(conn, name, row.prompt_id, version)
            return result

    def list_prompt_versions(
        self, name: str, *, limit: int = 100, page_token: str | None = None
    ) -> PromptVersionList:
        """A page of a prompt's versions, newest first (NotFoundError if the prompt is
        unknown)."""
        check_prompt_name(name)
        check_limit(limit)
        fingerprint = query_fingerprint("prompt_versions", name)
        with self.engine.connect() as conn:
            prompt = self._read_prompt(conn, name)
            q = (
                sa.select(versions_t)
                .where(versions_t.c.prompt_id == prompt.prompt_id)
                .order_by(versions_t.c.version.desc())
                .limit(limit + 1)
            )
            if page_token:
                (before,) = decode_token(page_token, fingerprint, 1, "prompt name")
                if not isinstance(before, int) or not 1 <= before <= MAX_VERSION:
                    raise InvalidQueryError(f"invalid page token {page_token!r}")
                q = q.where(versions_t.c.version < before)
            rows = conn.execute(q).all()
            aliases = self._aliases_of(conn, prompt.prompt_id)
        by_version: dict[int, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(version, []).append(alias)
        items = [_version(name, r, by_version.get(r.version, [])) for r in rows[:limit]]
        token = encode_token([items[-1].version], fingerprint) if len(rows) > limit else None
        return PromptVersionList(items, token)

    def delete_prompt_version(self, name: str, version: int) -> None:
        """Delete one version, and the aliases pointing at it (NotFoundError if missing)."""
        check_prompt_name(name)
        check_version(version)

        def work(conn: sa.Connection) -> None:
            prompt = self._lock_prompt(conn, name)
            where = (versions_t.c.prompt_id == prompt.prompt_id, versions_t.c.version == version)
            if not conn.execute(versions_t.delete().where(*where)).rowcount:
                raise NotFoundError(f"prompt {name!r} has no version {version}")
            conn.execute(
                aliases_t.delete().where(
                    aliases_t.c.prompt_id == prompt.prompt_id, aliases_t.c.version == version
                )
            )
            q = prompts_t.update().where(prompts_t.c.prompt_id == prompt.prompt_id)
            conn.execute(q.values(updated_at=_now()))

        self._prompt_write(work)

    # --- aliases -------------------------------------------------------------------------------

    def set_prompt_alias(self, name: str, alias: str, version: int) -> None:
        """Point `alias` at an existing version (moving it if it pointed elsewhere).

        Example:
            >>> store.set_prompt_alias("qa", "production", 3)
        """
        check_prompt_name(name)
        check_alias(alias, writing=True)
        check_version(version)

        def work(conn: sa.Connection) -> None:
            prompt = self._lock_prompt(conn, name)
            exists = conn.execute(
                sa.select(versions_t.c.version).where(
                    versions_t.c.prompt_id == prompt.prompt_id, versions_t.c.version == version
                )
            ).first()
            if exists is None:
                raise NotFoundError(
                    f"prompt {name!r} has no version {version} for alias {alias!r} to point at"
                )
            key = (aliases_t.c.prompt_id == prompt.prompt_id, aliases_t.c.alias == alias)
            if conn.execute(aliases_t.update().where(*key).values(version=version)).rowcount:
                return
            stored = conn.execute(sa.select(aliases_t.c.version).where(*key)).first()
            if stored is None:  # MySQL counts only changed rows: an unchanged alias is 0 too
                conn.execute(
                    aliases_t.insert(),
                    {"prompt_id": prompt.prompt_id, "alias": alias, "version": version},
                )

        self._prompt_write(work)

    def delete_prompt_alias(self, name: str, alias: str) -> None:
        """Remove an alias (NotFoundError if the prompt has no such alias)."""
        check_prompt_name(name)
        check_alias(alias, writing=True)

        def work(conn: sa.Connection) -> None:
            prompt = self._lock_prompt(conn, name)
            q = aliases_t.delete().where(
                aliases_t.c.prompt_id == prompt.prompt_id, aliases_t.c.alias == alias
            )
            if not conn.execute(q).rowcount:
                raise NotFoundError(f"prompt {name!r} has no alias {alias!r}")

        self._prompt_write(work)


__all__ = [
    "LATEST",
    "PromptsMixin",
    "check_alias",
    "check_config",
    "check_prompt_name",
    "check_prompt_tags",
    "check_text",
    "check_version",
]
