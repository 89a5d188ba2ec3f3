"""Stored evaluation datasets, the fluent way: `create_dataset`, `get_dataset`, and the
`EvaluationDataset` handle that merges records (dicts, DataFrames or stored traces) and reads
them back page by page.

Example:
    >>> ds = llmtrace.create_dataset("qa-golden", records=[
    ...     {"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}},
    ... ])
    >>> ds.merge_records(llmtrace.search_traces("tag.reviewed = 'yes'"))  # from traces
    >>> evaluators.evaluate(ds, predict=answer, scorers=[Correctness()])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store import Store
from llmtrace.store.dataset_entities import Dataset, DatasetList, DatasetRecord, MergeResult
from llmtrace.store.entities import Trace, TraceInfo
from llmtrace.tracking._defaults import default_store

if TYPE_CHECKING:
    import pandas as pd

# A dataset URI: `datasets:/<name>`.
URI_SCHEME = "datasets:/"
_PAGE = 1000


class EvaluationDataset:
    """A stored dataset: its name, digest and size, and its records.

    `records()` reads every record, a page at a time; `merge_records()` adds records (or
    updates those with the same inputs). The handle reads through the store it came from, so
    it works on a local database and on a server alike.
    """

    def __init__(self, dataset: Dataset, store: Store) -> None:
        self._dataset = dataset
        self._store = store

    def __repr__(self) -> str:
        d = self._dataset
        return f"EvaluationDataset(name={d.name!r}, records={d.record_count}, digest={d.digest!r})"

    @property
    def info(self) -> Dataset:
        """The dataset's stored fields, as of the last read or write through this handle."""
        return self._dataset

    @property
    def name(self) -> str:
        """The dataset's name."""
        return self._dataset.name

    @property
    def digest(self) -> str:
        """Changes whenever the records change (as of the last read or write)."""
        return self._dataset.digest

    @property
    def uri(self) -> str:
        """`datasets:/<name>`, which `evaluators.evaluate` accepts as data."""
        return URI_SCHEME + self._dataset.name

    def __len__(self) -> int:
        return self._dataset.record_count

    def refresh(self) -> EvaluationDataset:
        """Re-read the dataset's fields (count, digest) from the store."""
        self._dataset = self._store.get_dataset(self._dataset.name)
        return self

    def records(self, *, page_size: int = _PAGE) -> Iterator[DatasetRecord]:
        """Every record in insertion order, fetched a page at a time."""
        token: str | None = None
        while True:
            page = self._store.get_dataset_records(
                self._dataset.name, limit=page_size, page_token=token
            )
            yield from page
            token = page.next_page_token
            if not token:
                return

    def merge_records(self, records: Any) -> MergeResult:
        """Add records: dicts (`inputs`, `expectations`, `outputs`, `context`, `metadata`,
        `source_trace_id`), a pandas DataFrame with those columns, or stored traces (a
        `TraceList` from `search_traces`, or `Trace`s): a trace gives its root span's inputs
        and outputs and becomes the record's `source_trace_id`. A record whose inputs are
        stored already updates that record."""
        result = self._store.merge_dataset_records(
            self._dataset.name, list(_as_records(records, self._store))
        )
        self._dataset = result.dataset
        return result

    def delete_records(self, record_ids: Iterable[str]) -> int:
        """Delete records by id; returns how many were deleted."""
        deleted = self._store.delete_dataset_records(self._dataset.name, list(record_ids))
        self.refresh()
        return deleted

    def to_pandas(self) -> pd.DataFrame:
        """All records as a DataFrame (one row per record)."""
        import pandas as pd

        rows = [r.to_dict() for r in self.records()]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=list(DatasetRecord.__dataclass_fields__))
        return frame


def _as_records(records: Any, store: Store) -> Iterator[Mapping[str, Any]]:
    if hasattr(records, "to_dict") and hasattr(records, "columns"):  # a DataFrame
        records = records.to_dict(orient="records")
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise InvalidParameterError(
            f"records must be a list of dicts, a DataFrame or traces, got {type(records).__name__}"
        )
    for item in records:
        if isinstance(item, TraceInfo):
            item = store.get_trace(item.trace_id)
        if isinstance(item, Trace):
            root = item.root
            yield {
                "inputs": root.inputs if root is not None else None,
                "outputs": root.outputs if root is not None else None,
                "source_trace_id": item.info.trace_id,
            }
        elif isinstance(item, Mapping):
            yield {k: v for k, v in item.items() if not _missing(v)}
        else:
            yield item  # rejected by the store with the record's index


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def create_dataset(
    name: str,
    records: Any = None,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> EvaluationDataset:
    """Create a dataset in the configured store, optionally with its first records.

    Example:
        >>> ds = llmtrace.create_dataset("qa", records=[{"inputs": "2+2?"}])
        >>> len(ds)
        1
    """
    store = default_store()
    dataset = EvaluationDataset(
        store.create_dataset(name, description=description, tags=tags), store
    )
    if records is not None:
        dataset.merge_records(records)
    return dataset


def get_dataset(name_or_uri: str) -> EvaluationDataset:
    """The stored dataset called `name` (or given as `datasets:/<name>`)."""
    name = name_or_uri.removeprefix(URI_SCHEME)
    store = default_store()
    return EvaluationDataset(store.get_dataset(name), store)


def delete_dataset(name: str) -> None:
    """Delete a dataset and its records from the configured store."""
    default_store().delete_dataset(name.removeprefix(URI_SCHEME))


def search_datasets(
    name_contains: str | None = None, *, limit: int = 100, page_token: str | None = None
) -> DatasetList:
    """A page of the configured store's datasets, in name order."""
    return default_store().search_datasets(name_contains, limit=limit, page_token=page_token)


__all__ = [
    "EvaluationDataset",
    "create_dataset",
    "delete_dataset",
    "get_dataset",
    "search_datasets",
]
