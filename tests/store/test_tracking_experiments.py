"""Experiments in `SqlStore` on SQLite, PostgreSQL and MariaDB: create, get, list, rename,
delete/restore (with their runs), tags, duplicate names and bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from llmtrace.exceptions import (
    AlreadyExistsError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
    StoreError,
)
from llmtrace.store import Experiment, SqlStore


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(migrated_db_url)
    yield s
    s.close()


def test_create_get_and_list(store: SqlStore) -> None:
    before = datetime.now(timezone.utc)
    exp_id = store.create_experiment("rag", artifact_location="s3://b/art", tags={"team": "x"})
    assert re.fullmatch(r"[0-9a-f]{32}", exp_id)
    exp = store.get_experiment(exp_id)
    assert isinstance(exp, Experiment)
    assert (exp.experiment_id, exp.name, exp.artifact_location) == (exp_id, "rag", "s3://b/art")
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "x"}
    assert exp.created_at is not None and exp.created_at.tzinfo is not None
    assert before <= exp.created_at <= datetime.now(timezone.utc)
    assert exp.updated_at == exp.created_at
    assert store.get_experiment_by_name("rag") == exp
    assert store.get_experiment_by_name("missing") is None
    # MySQL compares names case-insensitively; the lookup is exact everywhere.
    assert store.get_experiment_by_name("RAG") is None

    other = store.create_experiment("other", artifact_location="/a")
    assert [e.experiment_id for e in store.list_experiments()] == [exp_id, other]
    with pytest.raises(NotFoundError, match="experiment 'nope' not found"):
        store.get_experiment("nope")


def test_duplicate_names_are_refused(store: SqlStore) -> None:
    exp_id = store.create_experiment("dup", artifact_location="/a")
    with pytest.raises(AlreadyExistsError, match="an experiment named 'dup' already exists"):
        store.create_experiment("dup", artifact_location="/b")
    assert issubclass(AlreadyExistsError, StoreError)
    # A deleted experiment keeps its name, and the message says what to do.
    store.delete_experiment(exp_id)
    with pytest.raises(AlreadyExistsError, match="deleted: restore or rename it"):
        store.create_experiment("dup", artifact_location="/b")
    assert [e.name for e in store.list_experiments(view="all")] == ["dup"]


def test_rename(store: SqlStore) -> None:
    a = store.create_experiment("a", artifact_location="/a")
    b = store.create_experiment("b", artifact_location="/b")
    created = store.get_experiment(a)
    store.rename_experiment(a, "a2")
    renamed = store.get_experiment(a)
    assert renamed.name == "a2"
    assert renamed.updated_at is not None and created.updated_at is not None
    assert renamed.updated_at >= created.updated_at
    assert store.get_experiment_by_name("a") is None
    store.rename_experiment(a, "a2")  # to its own name: nothing to do
    with pytest.raises(AlreadyExistsError, match="'b' already exists"):
        store.rename_experiment(a, "b")
    assert store.get_experiment(a).name == "a2"
    with pytest.raises(NotFoundError):
        store.rename_experiment("nope", "c")
    store.delete_experiment(b)
    with pytest.raises(NotFoundError, match="is deleted; restore it first"):
        store.rename_experiment(b, "c")


def test_delete_and_restore_hide_the_runs(store: SqlStore) -> None:
    exp_id = store.create_experiment("e", artifact_location="/a")
    kept = store.create_run(exp_id, name="kept").run_id
    gone = store.create_run(exp_id, name="gone").run_id
    store.delete_run(gone)

    store.delete_experiment(exp_id)
    store.delete_experiment(exp_id)  # idempotent
    assert store.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert store.list_experiments() == []
    assert [e.experiment_id for e in store.list_experiments(view="deleted")] == [exp_id]
    assert [e.experiment_id for e in store.list_experiments(view="all")] == [exp_id]
    # Its runs read as deleted: hidden from the default view, closed to writes.
    assert store.get_run(kept).info.lifecycle_stage == "deleted"
    assert store.search_runs([exp_id]) == []
    deleted = store.search_runs([exp_id], view="deleted", order_by="name")
    assert [r.info.name for r in deleted] == ["gone", "kept"]
    assert {r.info.lifecycle_stage for r in deleted} == {"deleted"}
    with pytest.raises(NotFoundError, match=r"experiment of run .* is deleted"):
        store.log_metric(kept, "m", 1.0)
    with pytest.raises(NotFoundError, match="is deleted; restore it first"):
        store.create_run(exp_id)

    # Restoring brings back exactly the runs that were active before.
    store.restore_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "active"
    assert [r.info.name for r in store.search_runs([exp_id])] == ["kept"]
    assert store.get_run(gone).info.lifecycle_stage == "deleted"
    store.log_metric(kept, "m", 1.0)
    assert store.get_run(kept).metrics == {"m": 1.0}

    with pytest.raises(NotFoundError):
        store.delete_experiment("nope")
    with pytest.raises(NotFoundError):
        store.restore_experiment("nope")


def test_experiment_tags(store: SqlStore) -> None:
    exp_id = store.create_experiment("t", artifact_location="/a", tags=[("k", "v"), ("n", 3)])
    assert store.get_experiment(exp_id).tags == {"k": "v", "n": "3"}
    store.set_experiment_tag(exp_id, "k", "v2")
    store.set_experiment_tag(exp_id, "new key", "x" * 5000)
    assert store.get_experiment(exp_id).tags == {"k": "v2", "n": "3", "new key": "x" * 5000}
    store.delete_experiment_tag(exp_id, "n")
    store.delete_experiment_tag(exp_id, "never set")
    assert store.get_experiment(exp_id).tags == {"k": "v2", "new key": "x" * 5000}
    with pytest.raises(InvalidParameterError, match="5001 characters"):
        store.set_experiment_tag(exp_id, "k", "x" * 5001)
    with pytest.raises(NotFoundError):
        store.set_experiment_tag("nope", "k", "v")
    store.delete_experiment(exp_id)
    with pytest.raises(NotFoundError, match="deleted"):
        store.set_experiment_tag(exp_id, "k", "v3")
    with pytest.raises(NotFoundError, match="deleted"):
        store.delete_experiment_tag(exp_id, "k")
    assert store.get_experiment(exp_id).tags["k"] == "v2"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must be a non-empty string"),
        ("   ", "must be a non-empty string"),
        ("x" * 256, "256 characters long"),
    ],
)
def test_bad_experiment_names(sqlite_url: str, name: str, message: str) -> None:
    store = SqlStore(sqlite_url)
    try:
        with pytest.raises(InvalidParameterError, match=message):
            store.create_experiment(name, artifact_location="/a")
        with pytest.raises(InvalidParameterError, match="artifact_location"):
            store.create_experiment("ok", artifact_location="")
        with pytest.raises(InvalidParameterError, match="key must not be empty"):
            store.create_experiment("ok", artifact_location="/a", tags={"": "v"})
        with pytest.raises(InvalidQueryError, match="view must be one of"):
            store.list_experiments(view="archived")
        assert store.list_experiments(view="all") == []
    finally:
        store.close()
