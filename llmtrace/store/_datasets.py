"""Stored evaluation datasets on SQL: methods of `SqlStore`.

A dataset is a named list of records (inputs, expectations, optional outputs/context/metadata,
the trace a record came from). Records are unique per dataset by their inputs: merging records
whose inputs are stored already updates those (expectations are merged key by key, the other
fields given replace the stored ones), so re-running a dataset-building script never
duplicates examples. Every write locks the dataset's row first (`SELECT ... FOR UPDATE`,
`BEGIN IMMEDIATE` on SQLite), so concurrent merges into one dataset are serialised and its
`record_count` and `digest` stay exact.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from llmtrace.exceptions import AlreadyExistsError, InvalidParameterError, NotFoundError
from llmtrace.store._engine import write_connection
from llmtrace.store._pagination import check_limit, decode_token, encode_token, query_fingerprint
from llmtrace.store.dataset_entities import (
    Dataset,
    DatasetList,
    DatasetRecord,
    DatasetRecordList,
    MergeResult,
)
from llmtrace.store.models import DatasetRecordRow, DatasetRow

datasets_t: sa.Table = DatasetRow.__table__  # type: ignore[assignment]
records_t: sa.Table = DatasetRecordRow.__table__  # type: ignore[assignment]

MAX_NAME_LENGTH = 255
RECORD_FIELDS = ("inputs", "expectations", "outputs", "context", "metadata", "source_trace_id")
_NAME = re.compile(r"[^\x00-\x1f/]+")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_CHUNK = 500


def check_dataset_name(name: Any) -> str:
    """A valid dataset name (1-255 characters, no slash or control character)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"a dataset name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidParameterError(
            f"invalid dataset name {name!r}: 1 to {MAX_NAME_LENGTH} characters, no '/' and no "
            "control characters"
        )
    return name


def _canonical(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{what} is not JSON-serialisable: {exc}") from None


def input_hash(inputs: Any) -> str:
    """The SHA-256 (hex) of the canonical JSON of a record's inputs: its identity."""
    return hashlib.sha256(_canonical(inputs, "inputs").encode()).hexdigest()


def check_record(index: int, record: Any) -> dict[str, Any]:
    """A record as stored: validated fields, JSON-encodable, context as a list."""
    where = f"record {index}"
    if not isinstance(record, Mapping):
        raise InvalidParameterError(f"{where}: expected a dict, got {type(record).__name__}")
    unknown = sorted(set(map(str, record)) - set(RECORD_FIELDS))
    if unknown:
        raise InvalidParameterError(
            f"{where}: unknown field(s) {', '.join(unknown)} (fields: {', '.join(RECORD_FIELDS)})"
        )
    if record.get("inputs") is None:
        raise InvalidParameterError(f"{where}: 'inputs' is required")
    out: dict[str, Any] = {"inputs": record["inputs"]}
    for key in ("expectations", "metadata"):
        value = record.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise InvalidParameterError(f"{where}: {key!r} must be a dict, got {value!r:.60}")
        if value is not None:
            out[key] = dict(value)
    context = record.get("context")
    if isinstance(context, str):
        context = [context]
    if context is not None and not isinstance(context, (list, tuple)):
        raise InvalidParameterError(f"{where}: 'context' must be a list of documents")
    if context is not None:
        out["context"] = list(context)
    if "outputs" in record and record["outputs"] is not None:
        out["outputs"] = record["outputs"]
    trace_id = record.get("source_trace_id")
    if trace_id is not None and (
        not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id)
    ):
        raise InvalidParameterError(f"{where}: source_trace_id must be 32 lowercase hex digits")
    if trace_id is not None:
        out["source_trace_id"] = trace_id
    for key, value in out.items():
        _canonical(value, f"{where}: {key!r}")
    return out


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, allow_nan=False)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dataset(row: Any) -> Dataset:
    return Dataset(
        dataset_id=row.dataset_id,
        name=row.name,
        description=row.description,
        tags=json.loads(row.tags or "{}"),
        digest=row.digest,
        record_count=row.record_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
    )


def _record(row: Any) -> DatasetRecord:
    return DatasetRecord(
        record_id=row.record_id,
        inputs=json.loads(row.inputs),
        expectations=_loads(row.expectations) or {},
        outputs=_loads(row.outputs),
        context=_loads(row.context),
        metadata=_loads(row.metadata) or {},
        source_trace_id=row.source_trace_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _next_digest(previous: str, parts: Sequence[str]) -> str:
    hasher = hashlib.sha256(previous.encode())
    for part in parts:
        hasher.update(b"\x00" + part.encode())
    return hasher.hexdigest()[:16]


def _check_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidParameterError(f"tags must be a dict of strings, got {tags!r:.60}")
    return {str(k): str(v) for k, v in tags.items()}


def _lock(conn: sa.Connection, name: str) -> Any:
    row = conn.execute(
        sa.select(datasets_t).where(datasets_t.c.name == name).with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"dataset {name!r} not found")
    return row


class DatasetsMixin:
    """Create, list, fill and read evaluation datasets (mixed into `SqlStore`)."""

    engine: sa.Engine

    def create_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        created_by: str | None = None,
    ) -> Dataset:
        """Create an empty dataset. Raises `AlreadyExistsError` if the name is taken.

        Example:
            >>> store.create_dataset("qa-golden", description="questions with answers")
        """
        check_dataset_name(name)
        now = datetime.now(timezone.utc)
        row = {
            "dataset_id": uuid.uuid4().hex,
            "name": name,
            "description": description,
            "tags": json.dumps(_check_tags(tags)),
            "digest": _next_digest("", []),
            "record_count": 0,
            "created_at": now,
            "updated_at": now,
            "created_by": created_by,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(datasets_t.insert(), row)
        except IntegrityError:
            raise AlreadyExistsError(f"a dataset named {name!r} already exists") from None
        return _dataset(SimpleNamespace(**row))

    def get_dataset(self, name: str) -> Dataset:
        """The dataset called `name` (NotFoundError if there is none)."""
        check_dataset_name(name)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(datasets_t).where(datasets_t.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"dataset {name!r} not found")
        return _dataset(row)

    def search_datasets(
        self,
        name_contains: str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> DatasetList:
        """A page of datasets in name order, optionally those whose name contains a text."""
        check_limit(limit)
        fingerprint = query_fingerprint("datasets", name_contains)
        query = sa.select(datasets_t).order_by(datasets_t.c.name).limit(limit + 1)
        if name_contains:
            escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(datasets_t.c.name.like(f"%{escaped}%", escape="\\"))
        if page_token:
            (after,) = decode_token(page_token, fingerprint, 1, "name_contains")
            query = query.where(datasets_t.c.name > after)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        items = [_dataset(r) for r in rows[:limit]]
        token = encode_token([items[-1].name], fingerprint) if len(rows) > limit else None
        return DatasetList(items, token)

    def update_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Dataset:
        """Change a dataset's description and/or merge tags into its tags (an empty value
        removes that tag)."""
        check_dataset_name(name)
        new_tags = _check_tags(tags)
        with write_connection(self.engine) as conn:
            row = _lock(conn, name)
            values: dict[str, Any] = {"updated_at": datetime.now(timezone.utc)}
            if description is not None:
                values["description"] = description
            if new_tags:
                merged = {**json.loads(row.tags or "{}"), **new_tags}
                values["tags"] = json.dumps({k: v for k, v in merged.items() if v != ""})
            conn.execute(
                datasets_t.update().where(datasets_t.c.dataset_id == row.dataset_id), values
            )
        return self.get_dataset(name)

    def delete_dataset(self, name: str) -> None:
        """Delete a dataset and all its records (NotFoundError if there is none)."""
        check_dataset_name(name)
        with write_connection(self.engine) as conn:
            row = _lock(conn, name)
            conn.execute(records_t.delete().where(records_t.c.dataset_id == row.dataset_id))
            conn.execute(datasets_t.delete().where(datasets_t.c.dataset_id == row.dataset_id))

    def merge_dataset_records(self, name: str, records: Sequence[Mapping[str, Any]]) -> MergeResult:
        """Add records to a dataset; a record whose inputs are stored already updates that
        record (expectations merged key by key, other given fields replaced). Records are
        validated first: one bad record rejects the whole call, naming it, and stores nothing.

        Example:
            >>> store.merge_dataset_records("qa", [
            ...     {"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}},
            ... ]).inserted
            1
        """
        check_dataset_name(name)
        if isinstance(records, (str, bytes, Mapping)):
            raise InvalidParameterError("records must be a list of dicts")
        checked: dict[str, dict[str, Any]] = {}
        for index, record in enumerate(records):
            item = check_record(index, record)
            key = input_hash(item["inputs"])
            if key in checked:  # the same inputs twice in one call: later fields win
                previous = checked[key]
                expectations = {**previous.get("expectations", {}), **item.get("expectations", {})}
                item = {**previous, **item, "expectations": expectations}
            checked[key] = item
        now = datetime.now(timezone.utc)
        inserted = updated = 0
        with write_connection(self.engine) as conn:
            dataset = _lock(conn, name)
            keys = list(checked)
            stored: dict[str, Any] = {}
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                query = sa.select(records_t).where(
                    records_t.c.dataset_id == dataset.dataset_id,
                    records_t.c.input_hash.in_(chunk),
                )
                stored.update({r.input_hash: r for r in conn.execute(query)})
            new_rows, changes, digest_parts = [], [], []
            for key, item in checked.items():
                digest_parts.append(key + _canonical(item, "record"))
                old = stored.get(key)
                if old is None:
                    new_rows.append(_new_row(dataset.dataset_id, key, item, now))
                    continue
                change = _merged_row(old, item, now)
                if change is not None:
                    changes.append(change)
            if new_rows:
                conn.execute(records_t.insert(), new_rows)
            if changes:
                conn.execute(
                    records_t.update().where(records_t.c.id == sa.bindparam("b_id")),
                    changes,
                )
            inserted, updated = len(new_rows), len(changes)
            if inserted or updated:
                conn.execute(
                    datasets_t.update()
                    .where(datasets_t.c.dataset_id == dataset.dataset_id)
                    .values(
                        record_count=dataset.record_count + inserted,
                        digest=_next_digest(dataset.digest, digest_parts),
                        updated_at=now,
                    )
                )
        return MergeResult(inserted=inserted, updated=updated, dataset=self.get_dataset(name))

    def get_dataset_records(
        self, name: str, *, limit: int = 1000, page_token: str | None = None
    ) -> DatasetRecordList:
        """A page of a dataset's records in the order they were first added."""
        check_limit(limit)
        dataset = self.get_dataset(name)
        fingerprint = query_fingerprint("dataset_records", dataset.dataset_id)
        query = (
            sa.select(records_t)
            .where(records_t.c.dataset_id == dataset.dataset_id)
            .order_by(records_t.c.id)
            .limit(limit + 1)
        )
        if page_token:
            (after,) = decode_token(page_token, fingerprint, 1, "dataset")
            query = query.where(records_t.c.id > after)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        token = encode_token([rows[limit - 1].id], fingerprint) if len(rows) > limit else None
        return DatasetRecordList([_record(r) for r in rows[:limit]], token)

    def delete_dataset_records(self, name: str, record_ids: Sequence[str]) -> int:
        """Delete records of a dataset by id; returns how many were deleted (ids of other
        datasets, or unknown, are ignored)."""
        check_dataset_name(name)
        ids = [str(i) for i in record_ids]
        deleted = 0
        with write_connection(self.engine) as conn:
            dataset = _lock(conn, name)
            for start in range(0, len(ids), _CHUNK):
                result = conn.execute(
                    records_t.delete().where(
                        records_t.c.dataset_id == dataset.dataset_id,
                        records_t.c.record_id.in_(ids[start : start + _CHUNK]),
                    )
                )
                deleted += result.rowcount or 0
            if deleted:
                conn.execute(
                    datasets_t.update()
                    .where(datasets_t.c.dataset_id == dataset.dataset_id)
                    .values(
                        record_count=dataset.record_count - deleted,
                        digest=_next_digest(dataset.digest, ["delete", *sorted(ids)]),
                        updated_at=datetime.now(timezone.utc),
                    )
                )
        return deleted


def _new_row(dataset_id: str, key: str, item: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "record_id": uuid.uuid4().hex,
        "dataset_id": dataset_id,
        "input_hash": key,
        "inputs": json.dumps(item["inputs"], allow_nan=False),
        "expectations": _dumps(item.get("expectations")),
        "outputs": _dumps(item.get("outputs")),
        "context": _dumps(item.get("context")),
        "metadata": _dumps(item.get("metadata")),
        "source_trace_id": item.get("source_trace_id"),
        "created_at": now,
        "updated_at": now,
    }


def _merged_row(old: Any, item: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """The update of a stored record by a merged one, or None when nothing changes."""
    values = {
        "expectations": old.expectations,
        "outputs": old.outputs,
        "context": old.context,
        "metadata": old.metadata,
        "source_trace_id": old.source_trace_id,
    }
    if "expectations" in item:
        merged = {**(_loads(old.expectations) or {}), **item["expectations"]}
        values["expectations"] = _dumps(merged)
    for key in ("outputs", "context", "metadata"):
        if key in item:
            values[key] = _dumps(item[key])
    if "source_trace_id" in item:
        values["source_trace_id"] = item["source_trace_id"]
    if all(values[k] == getattr(old, k) for k in values):
        return None
    return {"b_id": old.id, **values, "updated_at": now}
