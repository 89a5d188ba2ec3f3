"""API keys of the llmtrace server, stored hashed.

A key's secret is `llmt_<key_id>_<43 url-safe characters>` (256 random bits). Only its SHA-256
is stored: a slow password hash buys nothing for secrets that random, and SHA-256 keeps a cache
miss cheap. `key_id` is public (listed, logged, used to revoke) and lets authentication fetch
the one candidate row by primary key, then compare hashes in constant time.

Example:
    >>> key, secret = store.create_api_key("ci", scope="read")
    >>> store.authenticate_api_key(secret).key_id == key.key_id
    True
    >>> store.revoke_api_key(key.key_id).active
    False
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store._engine import SQLITE_BEGIN
from llmtrace.store.models import API_KEY_SCOPES, ApiKeyRow

logger = logging.getLogger("llmtrace")

api_keys_t: sa.Table = ApiKeyRow.__table__  # type: ignore[assignment]

SECRET_PREFIX = "llmt"
_KEY_ID = re.compile(r"[0-9a-f]{12}")
_SECRET_BYTES = 32
# Longer headers are not llmtrace keys; refuse them before hashing.
_MAX_SECRET_LENGTH = 256
_MAX_NAME_LENGTH = 255
# `last_used_at` is a hint for operators, not an audit log: one write a minute per key at most.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_CREATE_ATTEMPTS = 3


@dataclass(frozen=True)
class ApiKey:
    """An API key's record (never the secret itself).

    Example:
        >>> [k.name for k in store.list_api_keys() if k.can_write]
        ['ingest']
    """

    key_id: str
    name: str
    scope: str  # "read" or "write"
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        """True for read-write keys."""
        return self.scope == "write"


def hash_secret(secret: str) -> str:
    """The hex SHA-256 of a secret, as stored in `api_keys.secret_hash`."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_id_of(secret: str) -> str | None:
    """The key id embedded in a secret of llmtrace's format, or None for anything else."""
    if len(secret) > _MAX_SECRET_LENGTH:
        return None
    prefix, _, rest = secret.partition("_")
    key_id, _, random_part = rest.partition("_")
    if prefix != SECRET_PREFIX or not random_part or not _KEY_ID.fullmatch(key_id):
        return None
    return key_id


def _new_secret() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"{SECRET_PREFIX}_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def _key(row: sa.RowMapping) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        scope=row["scope"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


_COLUMNS = (
    api_keys_t.c.key_id,
    api_keys_t.c.name,
    api_keys_t.c.scope,
    api_keys_t.c.created_at,
    api_keys_t.c.revoked_at,
    api_keys_t.c.last_used_at,
)


@contextmanager
def _write_transaction(conn: sa.Connection) -> Iterator[None]:
    """A transaction that reads then writes: on SQLite it takes the write lock first, so that
    another writer committing in between cannot make the upgrade fail (SQLITE_BUSY)."""
    conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    with conn.begin():
        yield


class ApiKeysMixin:
    """Create, list, revoke and authenticate API keys (mixed into `SqlStore`).

    Keys are managed on the database (`llmtrace keys ...`), never over HTTP, so that a leaked
    key cannot mint others.
    """

    engine: sa.Engine

    def create_api_key(self, name: str, *, scope: str = "write") -> tuple[ApiKey, str]:
        """A new key and its secret. The secret is not stored: show it once, then drop it.

        `scope` is "write" (read and write) or "read" (read-only). Names need not be unique
        (rotate a key by creating one with the same name, then revoking the old by its id).

        Example:
            >>> key, secret = store.create_api_key("dashboard", scope="read")
        """
        name = name.strip()
        if not name or len(name) > _MAX_NAME_LENGTH:
            raise InvalidParameterError(
                f"an API key name must be 1 to {_MAX_NAME_LENGTH} characters, got {name!r}"
            )
        if scope not in API_KEY_SCOPES:
            raise InvalidParameterError(
                f"API key scope must be one of {', '.join(API_KEY_SCOPES)}, got {scope!r}"
            )
        created = datetime.now(timezone.utc)
        for attempt in range(_CREATE_ATTEMPTS):
            key_id, secret = _new_secret()
            row = {
                "key_id": key_id,
                "name": name,
                "scope": scope,
                "secret_hash": hash_secret(secret),
                "created_at": created,
            }
            try:
                with self.engine.begin() as conn:
                    conn.execute(api_keys_t.insert(), row)
            except IntegrityError:
                # A 48-bit id collision: vanishingly rare, and a new draw fixes it.
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                continue
            return ApiKey(key_id, name, scope, created_at=created), secret
        raise AssertionError("unreachable")  # pragma: no cover

    def list_api_keys(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Keys in creation order; revoked ones only with `include_revoked`."""
        query = sa.select(*_COLUMNS).order_by(api_keys_t.c.created_at, api_keys_t.c.key_id)
        if not include_revoked:
            query = query.where(api_keys_t.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_key(row) for row in conn.execute(query).mappings()]

    def revoke_api_key(self, key_id_or_name: str) -> ApiKey:
        """Revoke a key by its id, or by its name when one active key has it; returns the
        revoked key. Revoking a revoked key changes nothing.

        Servers stop accepting the key within their `auth_cache_seconds`.

        Raises:
            NotFoundError: no key has this id, and no active key this name.
            InvalidParameterError: several active keys have this name (use the id).
        """
        now = datetime.now(timezone.utc)
        with self.engine.connect() as conn, _write_transaction(conn):
            rows = list(
                conn.execute(
                    sa.select(*_COLUMNS).where(api_keys_t.c.key_id == key_id_or_name)
                ).mappings()
            )
            if not rows:
                rows = list(
                    conn.execute(
                        sa.select(*_COLUMNS).where(
                            api_keys_t.c.name == key_id_or_name, api_keys_t.c.revoked_at.is_(None)
                        )
                    ).mappings()
                )
            if not rows:
                raise NotFoundError(f"no API key with id or active name {key_id_or_name!r}")
            if len(rows) > 1:
                ids = ", ".join(sorted(row["key_id"] for row in rows))
                raise InvalidParameterError(
                    f"{len(rows)} active API keys are named {key_id_or_name!r} ({ids}); "
                    "revoke one by its key id"
                )
            key = _key(rows[0])
            if not key.active:
                return key
            conn.execute(
                api_keys_t.update()
                .where(api_keys_t.c.key_id == key.key_id, api_keys_t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return ApiKey(key.key_id, key.name, key.scope, key.created_at, now, key.last_used_at)

    def authenticate_api_key(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None (unknown, malformed or revoked).

        Also records when the key was last used (at most once a minute; a failure to record
        it never fails the authentication).
        """
        key_id = key_id_of(secret)
        if key_id is None:
            return None
        query = sa.select(*_COLUMNS, api_keys_t.c.secret_hash).where(api_keys_t.c.key_id == key_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None or not hmac.compare_digest(row["secret_hash"], hash_secret(secret)):
            return None
        key = _key(row)
        if not key.active:
            return None
        now = datetime.now(timezone.utc)
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            self._touch_api_key(key.key_id, now)
        return key

    def _touch_api_key(self, key_id: str, now: datetime) -> None:
        stale = now - LAST_USED_RESOLUTION
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    api_keys_t.update()
                    .where(
                        api_keys_t.c.key_id == key_id,
                        sa.or_(
                            api_keys_t.c.last_used_at.is_(None),
                            api_keys_t.c.last_used_at < stale,
                        ),
                    )
                    .values(last_used_at=now)
                )
        except SQLAlchemyError as exc:
            logger.debug("could not record the use of API key %s: %s", key_id, exc)


__all__ = ["SECRET_PREFIX", "ApiKey", "ApiKeysMixin", "hash_secret", "key_id_of"]
