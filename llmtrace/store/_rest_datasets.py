"""The evaluation-dataset methods of `RestStore` over the server's REST API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmtrace.exceptions import InvalidParameterError
from llmtrace.store._datasets import check_dataset_name, check_record
from llmtrace.store._pagination import check_limit
from llmtrace.store._rest import RestClient
from llmtrace.store._rest_tracking import segment
from llmtrace.store._wire import datetime_from_wire
from llmtrace.store.dataset_entities import (
    Dataset,
    DatasetList,
    DatasetRecord,
    DatasetRecordList,
    MergeResult,
)

# Records per request (the server's maximum).
_RECORDS_PER_REQUEST = 5_000


def dataset_from_dict(data: Mapping[str, Any]) -> Dataset:
    """The inverse of `Dataset.to_dict`."""
    return Dataset(
        dataset_id=str(data["dataset_id"]),
        name=str(data["name"]),
        description=data.get("description"),
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
        digest=str(data.get("digest", "")),
        record_count=int(data.get("record_count", 0)),
        created_at=datetime_from_wire(data.get("created_at")),
        updated_at=datetime_from_wire(data.get("updated_at")),
        created_by=data.get("created_by"),
    )


def record_from_dict(data: Mapping[str, Any]) -> DatasetRecord:
    """The inverse of `DatasetRecord.to_dict`."""
    return DatasetRecord(
        record_id=str(data["record_id"]),
        inputs=data["inputs"],
        expectations=dict(data.get("expectations") or {}),
        outputs=data.get("outputs"),
        context=data.get("context"),
        metadata=dict(data.get("metadata") or {}),
        source_trace_id=data.get("source_trace_id"),
        created_at=datetime_from_wire(data.get("created_at")),
        updated_at=datetime_from_wire(data.get("updated_at")),
    )


class RestDatasetsMixin(RestClient):
    """Evaluation datasets over the server's REST API (docs/rest-api.md)."""

    def create_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        created_by: str | None = None,
    ) -> Dataset:
        """Create an empty dataset (AlreadyExistsError if the name is taken)."""
        check_dataset_name(name)
        body = {
            "name": name,
            "description": description,
            "tags": None if tags is None else {str(k): str(v) for k, v in tags.items()},
            "created_by": created_by,
        }
        return dataset_from_dict(self.request("POST", "/datasets", json=body).json())

    def get_dataset(self, name: str) -> Dataset:
        """The dataset called `name`."""
        check_dataset_name(name)
        return dataset_from_dict(self.get_json(f"/datasets/{segment(name)}"))

    def search_datasets(
        self,
        name_contains: str | None = None,
        *,
        limit: int = 100,
        page_token: str | None = None,
    ) -> DatasetList:
        """A page of datasets in name order."""
        check_limit(limit)
        page = self.get_json(
            "/datasets", name_contains=name_contains, limit=limit, page_token=page_token
        )
        return DatasetList(
            [dataset_from_dict(d) for d in page["datasets"]], page.get("next_page_token")
        )

    def update_dataset(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Dataset:
        """Change a dataset's description and/or merge tags."""
        check_dataset_name(name)
        body = {
            "description": description,
            "tags": None if tags is None else {str(k): str(v) for k, v in tags.items()},
        }
        response = self.request("PATCH", f"/datasets/{segment(name)}", json=body, retry=True)
        return dataset_from_dict(response.json())

    def delete_dataset(self, name: str) -> None:
        """Delete a dataset and its records."""
        check_dataset_name(name)
        self.request("DELETE", f"/datasets/{segment(name)}")

    def merge_dataset_records(self, name: str, records: Sequence[Mapping[str, Any]]) -> MergeResult:
        """Add records, updating those whose inputs are stored already. All records are
        checked before the first request; more than 5,000 go in several requests (each
        all-or-nothing on the server)."""
        check_dataset_name(name)
        if isinstance(records, (str, bytes, Mapping)):
            raise InvalidParameterError("records must be a list of dicts")
        checked = [check_record(i, r) for i, r in enumerate(records)]
        inserted = updated = 0
        dataset: Dataset | None = None
        path = f"/datasets/{segment(name)}/records"
        for start in range(0, max(len(checked), 1), _RECORDS_PER_REQUEST):
            chunk = checked[start : start + _RECORDS_PER_REQUEST]
            answer = self.request("POST", path, json={"records": chunk}, retry=True).json()
            inserted += int(answer["inserted"])
            updated += int(answer["updated"])
            dataset = dataset_from_dict(answer["dataset"])
        assert dataset is not None
        return MergeResult(inserted=inserted, updated=updated, dataset=dataset)

    def get_dataset_records(
        self, name: str, *, limit: int = 1000, page_token: str | None = None
    ) -> DatasetRecordList:
        """A page of records in insertion order."""
        check_dataset_name(name)
        check_limit(limit)
        page = self.get_json(
            f"/datasets/{segment(name)}/records", limit=limit, page_token=page_token
        )
        return DatasetRecordList(
            [record_from_dict(r) for r in page["records"]], page.get("next_page_token")
        )

    def delete_dataset_records(self, name: str, record_ids: Sequence[str]) -> int:
        """Delete records by id; returns how many."""
        check_dataset_name(name)
        ids = [str(i) for i in record_ids]
        deleted = 0
        path = f"/datasets/{segment(name)}/records/delete"
        for start in range(0, max(len(ids), 1), _RECORDS_PER_REQUEST):
            chunk = ids[start : start + _RECORDS_PER_REQUEST]
            deleted += int(self.request("POST", path, json={"record_ids": chunk}).json()["deleted"])
        return deleted
