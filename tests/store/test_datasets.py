"""Stored evaluation datasets on every backend, and through the server (`RestStore`)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from llmtrace.exceptions import (
    AlreadyExistsError,
    InvalidParameterError,
    InvalidQueryError,
    NotFoundError,
)
from llmtrace.store import SqlStore, Store
from tests.server.conftest import LiveServer, live_server  # noqa: F401 - fixture


@pytest.fixture
def store(any_store: Store) -> Store:
    """Each `Store` implementation (tests/conftest.py `any_store`)."""
    return any_store


QA = [
    {"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}},
    {"inputs": {"question": "capital of France?"}, "context": "Paris is the capital."},
    {"inputs": "plain text input", "metadata": {"source": "manual"}},
]


def test_create_get_and_list(store: Store) -> None:
    created = store.create_dataset("qa", description="golden", tags={"team": "search"})
    assert created.name == "qa" and created.record_count == 0
    assert created.tags == {"team": "search"}
    got = store.get_dataset("qa")
    assert got.dataset_id == created.dataset_id and got.description == "golden"
    store.create_dataset("other")
    assert [d.name for d in store.search_datasets()] == ["other", "qa"]
    assert [d.name for d in store.search_datasets("q")] == ["qa"]
    with pytest.raises(AlreadyExistsError, match="'qa' already exists"):
        store.create_dataset("qa")
    with pytest.raises(NotFoundError, match="dataset 'nope' not found"):
        store.get_dataset("nope")


def test_merge_inserts_then_updates_by_inputs(store: Store) -> None:
    store.create_dataset("qa")
    first = store.merge_dataset_records("qa", QA)
    assert (first.inserted, first.updated, first.dataset.record_count) == (3, 0, 3)
    again = store.merge_dataset_records(
        "qa",
        [
            {"inputs": {"question": "2+2?"}, "expectations": {"expected_facts": ["four"]}},
            {"inputs": {"question": "new?"}},
        ],
    )
    assert (again.inserted, again.updated, again.dataset.record_count) == (1, 1, 4)
    assert again.dataset.digest != first.dataset.digest
    records = store.get_dataset_records("qa")
    assert [r.inputs for r in records] == [q["inputs"] for q in QA] + [{"question": "new?"}]
    # Expectations merge key by key; context is stored as a list.
    assert records[0].expectations == {"expected_response": "4", "expected_facts": ["four"]}
    assert records[1].context == ["Paris is the capital."]
    assert records[2].metadata == {"source": "manual"}
    unchanged = store.merge_dataset_records("qa", [QA[2]])
    assert (unchanged.inserted, unchanged.updated) == (0, 0)
    assert unchanged.dataset.digest == again.dataset.digest


def test_inputs_identity_ignores_key_order(store: Store) -> None:
    store.create_dataset("qa")
    store.merge_dataset_records("qa", [{"inputs": {"a": 1, "b": 2}}])
    result = store.merge_dataset_records("qa", [{"inputs": {"b": 2, "a": 1}, "outputs": "x"}])
    assert (result.inserted, result.updated) == (0, 1)
    assert store.get_dataset_records("qa")[0].outputs == "x"


def test_records_page_in_insertion_order(store: Store) -> None:
    store.create_dataset("big")
    store.merge_dataset_records("big", [{"inputs": f"q{i:03}"} for i in range(25)])
    seen: list[Any] = []
    token = None
    while True:
        page = store.get_dataset_records("big", limit=10, page_token=token)
        seen += [r.inputs for r in page]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [f"q{i:03}" for i in range(25)]
    with pytest.raises(InvalidQueryError):
        store.get_dataset_records("big", limit=10, page_token="garbage")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"expectations": {"a": 1}}, "record 1: 'inputs' is required"),
        ({"inputs": "x", "answer": 1}, "unknown field"),
        ({"inputs": "x", "expectations": ["not", "a", "dict"]}, "'expectations' must be a dict"),
        ({"inputs": "x", "source_trace_id": "xyz"}, "source_trace_id must be 32"),
        ({"inputs": float("nan")}, "not JSON-serialisable"),
    ],
)
def test_a_bad_record_rejects_the_whole_merge(
    store: Store, record: dict[str, Any], message: str
) -> None:
    store.create_dataset("qa")
    with pytest.raises(InvalidParameterError, match=message):
        store.merge_dataset_records("qa", [{"inputs": "fine"}, record])
    assert store.get_dataset("qa").record_count == 0
    assert list(store.get_dataset_records("qa")) == []


def test_delete_records_and_dataset(store: Store) -> None:
    store.create_dataset("qa")
    store.merge_dataset_records("qa", QA)
    ids = [r.record_id for r in store.get_dataset_records("qa")]
    assert store.delete_dataset_records("qa", [ids[0], "0" * 32]) == 1
    after = store.get_dataset("qa")
    assert after.record_count == 2
    assert [r.record_id for r in store.get_dataset_records("qa")] == ids[1:]
    store.delete_dataset("qa")
    with pytest.raises(NotFoundError):
        store.get_dataset_records("qa")
    with pytest.raises(NotFoundError):
        store.delete_dataset("qa")


def test_update_dataset(store: Store) -> None:
    store.create_dataset("qa", tags={"a": "1", "b": "2"})
    updated = store.update_dataset("qa", description="new", tags={"b": "", "c": "3"})
    assert updated.description == "new" and updated.tags == {"a": "1", "c": "3"}


@pytest.mark.parametrize("name", ["", "a/b", "x" * 256, "tab\there"])
def test_invalid_names(store: Store, name: str) -> None:
    with pytest.raises(InvalidParameterError, match="dataset name"):
        store.create_dataset(name)


def test_concurrent_merges_keep_the_count_exact(migrated_db_url: str) -> None:
    store = SqlStore(migrated_db_url)
    try:
        store.create_dataset("qa")
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for batch in range(5):
                    store.merge_dataset_records(
                        "qa",
                        [{"inputs": f"w{n}-b{batch}-{i}"} for i in range(20)]
                        + [{"inputs": "shared", "expectations": {f"w{n}": batch}}],
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        dataset = store.get_dataset("qa")
        stored = list(store.get_dataset_records("qa", limit=10_000))
        assert dataset.record_count == len(stored) == 4 * 5 * 20 + 1
        shared = next(r for r in stored if r.inputs == "shared")
        assert shared.expectations == {f"w{n}": 4 for n in range(4)}
    finally:
        store.close()
