"""The evaluation-datasets part of the `Store` protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from llmtrace.store.dataset_entities import Dataset, DatasetList, DatasetRecordList, MergeResult


class DatasetStore(Protocol):
    """Storage of evaluation datasets (`SqlStore` and `RestStore` implement it)."""

    def create_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        created_by: str | None = None,
    ) -> Dataset:
        """Create an empty dataset (AlreadyExistsError if the name is taken)."""
        ...

    def get_dataset(self, name: str) -> Dataset:
        """The dataset called `name`."""
        ...

    def search_datasets(
        self,
        name_contains: str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> DatasetList:
        """A page of datasets in name order."""
        ...

    def update_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Dataset:
        """Change a dataset's description and/or tags."""
        ...

    def delete_dataset(self, name: str) -> None:
        """Delete a dataset and its records."""

    def merge_dataset_records(self, name: str, records: Sequence[Mapping[str, Any]]) -> MergeResult:
        """Add records, updating those whose inputs are stored already."""
        ...

    def get_dataset_records(
        self, name: str, *, limit: int = 1000, page_token: str | None = None
    ) -> DatasetRecordList:
        """A page of records in insertion order."""
        ...

    def delete_dataset_records(self, name: str, record_ids: Sequence[str]) -> int:
        """Delete records by id; returns how many."""
        ...
