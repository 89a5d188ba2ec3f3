"""API keys in the SQL store (SQLite, PostgreSQL, MariaDB): created with a secret shown once and
stored hashed, listed, revoked, authenticated."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from llmtrace.exceptions import InvalidParameterError, NotFoundError
from llmtrace.store import SqlStore
from llmtrace.store._keys import LAST_USED_RESOLUTION, ApiKey, key_id_of
from llmtrace.store.models import ApiKeyRow

api_keys: sa.Table = ApiKeyRow.__table__  # type: ignore[assignment]


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


def _rows(store: SqlStore) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(api_keys)).mappings()]


def test_create_returns_the_secret_once_and_stores_only_its_hash(store: SqlStore) -> None:
    before = datetime.now(timezone.utc)
    key, secret = store.create_api_key("  ci  ")

    assert key == ApiKey(key.key_id, "ci", "write", created_at=key.created_at)
    assert key.active and key.can_write
    assert key.created_at is not None and before <= key.created_at <= datetime.now(timezone.utc)
    assert secret.startswith(f"llmt_{key.key_id}_")
    assert len(secret) >= 5 + 12 + 1 + 43  # 256 random bits, url-safe base64
    assert key_id_of(secret) == key.key_id

    (row,) = _rows(store)
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(value) for value in row.values()}
    assert row["revoked_at"] is None and row["last_used_at"] is None


def test_secrets_and_ids_are_distinct(store: SqlStore) -> None:
    made = [store.create_api_key("same") for _ in range(5)]

    assert len({key.key_id for key, _ in made}) == 5
    assert len({secret for _, secret in made}) == 5


def test_authenticate_finds_the_key_of_a_secret(store: SqlStore) -> None:
    writer, writer_secret = store.create_api_key("writer")
    reader, reader_secret = store.create_api_key("reader", scope="read")

    found = store.authenticate_api_key(writer_secret)
    assert found is not None and (found.key_id, found.scope) == (writer.key_id, "write")
    found = store.authenticate_api_key(reader_secret)
    assert found is not None and (found.key_id, found.scope) == (reader.key_id, "read")
    assert not found.can_write


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # right id, wrong random part
        lambda s: s.replace("llmt_", "llmx_", 1),
        lambda s: s.rsplit("_", 1)[0] + "_",  # empty random part
        lambda s: "llmt_000000000000_" + s.rsplit("_", 1)[1],  # unknown id
        lambda s: s + "x" * 300,  # too long to be a key
        lambda s: "",
        lambda s: "Bearer",
        lambda s: "llmt_ZZZZZZZZZZZZ_abc",  # id not hex
        lambda s: "llmt_é_☃",
    ],
)
def test_authenticate_rejects_anything_else(store: SqlStore, mangle: Callable[[str], str]) -> None:
    _, secret = store.create_api_key("k")

    assert store.authenticate_api_key(mangle(secret)) is None


def test_revoked_keys_no_longer_authenticate_and_are_hidden(store: SqlStore) -> None:
    kept, kept_secret = store.create_api_key("kept")
    gone, gone_secret = store.create_api_key("gone", scope="read")

    revoked = store.revoke_api_key(gone.key_id)

    assert revoked.key_id == gone.key_id and not revoked.active
    assert revoked.revoked_at is not None
    assert store.authenticate_api_key(gone_secret) is None
    assert store.authenticate_api_key(kept_secret) is not None
    assert [k.key_id for k in store.list_api_keys()] == [kept.key_id]
    listed = {k.key_id: k for k in store.list_api_keys(include_revoked=True)}
    assert set(listed) == {kept.key_id, gone.key_id}
    assert listed[gone.key_id].revoked_at == revoked.revoked_at
    assert listed[gone.key_id].scope == "read"


def test_revoking_twice_keeps_the_first_revocation_time(store: SqlStore) -> None:
    key, _ = store.create_api_key("k")
    first = store.revoke_api_key(key.key_id)

    again = store.revoke_api_key(key.key_id)

    assert again.revoked_at == first.revoked_at


def test_revoke_by_name(store: SqlStore) -> None:
    key, secret = store.create_api_key("dashboard")

    assert store.revoke_api_key("dashboard").key_id == key.key_id
    assert store.authenticate_api_key(secret) is None
    # Only active keys are found by name.
    with pytest.raises(NotFoundError, match="'dashboard'"):
        store.revoke_api_key("dashboard")


def test_revoke_by_an_ambiguous_name_asks_for_the_id(store: SqlStore) -> None:
    old, _ = store.create_api_key("ci")
    new, new_secret = store.create_api_key("ci")

    with pytest.raises(InvalidParameterError, match="2 active API keys") as error:
        store.revoke_api_key("ci")
    assert old.key_id in str(error.value) and new.key_id in str(error.value)

    # Rotation: revoke the old one by id, the new one keeps working.
    store.revoke_api_key(old.key_id)
    assert store.authenticate_api_key(new_secret) is not None
    assert store.revoke_api_key("ci").key_id == new.key_id


def test_revoke_unknown_raises_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        store.revoke_api_key("nope")


@pytest.mark.parametrize(
    ("name", "scope", "match"),
    [
        ("", "write", "name"),
        ("   ", "write", "name"),
        ("x" * 256, "write", "name"),
        ("ok", "admin", "scope"),
        ("ok", "READ", "scope"),
    ],
)
def test_create_rejects_bad_names_and_scopes(
    store: SqlStore, name: str, scope: str, match: str
) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        store.create_api_key(name, scope=scope)
    assert _rows(store) == []


def test_list_is_in_creation_order(store: SqlStore) -> None:
    made = [store.create_api_key(f"k{i}")[0].key_id for i in range(3)]

    assert [k.key_id for k in store.list_api_keys()] == made


def test_last_used_is_recorded_at_most_once_a_minute(store: SqlStore) -> None:
    _, secret = store.create_api_key("k")

    first = store.authenticate_api_key(secret)
    assert first is not None and first.last_used_at is None  # as it was before this use
    (used,) = store.list_api_keys()
    assert used.last_used_at is not None

    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert store.authenticate_api_key(secret) is not None
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    # A second use within the minute reads only.
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]

    long_ago = datetime.now(timezone.utc) - LAST_USED_RESOLUTION - timedelta(seconds=5)
    with store.engine.begin() as conn:
        conn.execute(api_keys.update().values(last_used_at=long_ago))
    assert store.authenticate_api_key(secret) is not None
    (used_again,) = store.list_api_keys()
    assert used_again.last_used_at is not None and used_again.last_used_at > long_ago


def test_scope_check_constraint_rejects_other_values(store: SqlStore) -> None:
    row = {
        "key_id": "0" * 12,
        "name": "x",
        "scope": "admin",
        "secret_hash": "0" * 64,
        "created_at": datetime.now(timezone.utc),
    }
    with pytest.raises(sa.exc.DBAPIError), store.engine.begin() as conn:
        conn.execute(api_keys.insert(), row)


def test_secret_hashes_are_unique(store: SqlStore) -> None:
    now = datetime.now(timezone.utc)
    row = {"name": "x", "scope": "read", "secret_hash": "f" * 64, "created_at": now}
    with store.engine.begin() as conn:
        conn.execute(api_keys.insert(), {**row, "key_id": "a" * 12})
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(api_keys.insert(), {**row, "key_id": "b" * 12})
