"""Typed results of stored evaluation datasets: `Dataset`, `DatasetRecord`, their pages, and
`MergeResult`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmtrace.store.entities import Page, json_ready

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Dataset:
    """A named, stored evaluation dataset (its records are read page by page).

    `digest` changes whenever records are added, changed or deleted: an evaluation run records
    it, so that the exact contents scored can be told apart from later edits.
    """

    dataset_id: str
    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    record_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return json_ready(self)


@dataclass
class DatasetRecord:
    """One example of a dataset: `inputs` (what the pipeline receives), `expectations` (ground
    truth: expected answer, expected facts...), optional `outputs` and `context` (retrieved
    documents), `metadata`, and the trace it was taken from, if any."""

    record_id: str
    inputs: Any
    expectations: dict[str, Any] = field(default_factory=dict)
    outputs: Any = None
    context: list[Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source_trace_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return json_ready(self)


class DatasetList(Page[Dataset]):
    """A page of datasets; `next_page_token` fetches the next page (None at the end)."""


class DatasetRecordList(Page[DatasetRecord]):
    """A page of records in insertion order; `next_page_token` fetches the next page."""

    def to_pandas(self) -> pd.DataFrame:
        """One row per record."""
        import pandas as pd

        columns = list(DatasetRecord.__dataclass_fields__)
        frame: pd.DataFrame = pd.DataFrame([asdict(r) for r in self], columns=columns)
        return frame


@dataclass(frozen=True)
class MergeResult:
    """What `merge_dataset_records` did: records added, and stored records updated (same
    inputs), and the dataset as it is afterwards."""

    inserted: int
    updated: int
    dataset: Dataset


__all__ = ["Dataset", "DatasetList", "DatasetRecord", "DatasetRecordList", "MergeResult"]
