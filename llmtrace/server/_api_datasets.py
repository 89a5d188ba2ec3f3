"""REST routes of evaluation datasets, mounted under /api/v1: create, list, get, update,
delete, merge records, page through records, delete records.

Records are validated by the store (the same checks for every client), so a bad record is a
400 naming it, and nothing of that request is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from llmtrace.server._deps import get_store
from llmtrace.server._tracking_models import json_response, no_content
from llmtrace.store import SqlStore

router = APIRouter(tags=["datasets"])
StoreDep = Annotated[SqlStore, Depends(get_store)]
# Records per merge request: larger lists are sent in several requests by the client.
MAX_RECORDS_PER_REQUEST = 5_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetCreate(_Body):
    """`POST /datasets`."""

    name: str
    description: str | None = None
    tags: dict[str, str] | None = None
    created_by: str | None = None


class DatasetUpdate(_Body):
    """`PATCH /datasets/{name}`: a new description and/or tags to merge ("" removes one)."""

    description: str | None = None
    tags: dict[str, str] | None = None


class RecordsMerge(_Body):
    """`POST /datasets/{name}/records`: records to add or update (matched by inputs)."""

    records: list[dict[str, Any]] = Field(max_length=MAX_RECORDS_PER_REQUEST)


class RecordsDelete(_Body):
    """`POST /datasets/{name}/records/delete`."""

    record_ids: list[str] = Field(max_length=MAX_RECORDS_PER_REQUEST)


class DatasetOut(BaseModel):
    """A dataset (see `Dataset.to_dict`)."""

    dataset_id: str
    name: str
    description: str | None
    tags: dict[str, str]
    digest: str
    record_count: int
    created_at: str | None
    updated_at: str | None
    created_by: str | None


class DatasetPage(BaseModel):
    """A page of datasets."""

    datasets: list[DatasetOut]
    next_page_token: str | None


class RecordOut(BaseModel):
    """A dataset record (see `DatasetRecord.to_dict`)."""

    record_id: str
    inputs: Any
    expectations: dict[str, Any]
    outputs: Any
    context: list[Any] | None
    metadata: dict[str, Any]
    source_trace_id: str | None
    created_at: str | None
    updated_at: str | None


class RecordPage(BaseModel):
    """A page of records in insertion order."""

    records: list[RecordOut]
    next_page_token: str | None


class MergeOut(BaseModel):
    """What a merge did."""

    inserted: int
    updated: int
    dataset: DatasetOut


class DeletedOut(BaseModel):
    """How many records were deleted."""

    deleted: int


@router.post(
    "/datasets",
    status_code=201,
    response_model=DatasetOut,
    summary="Create a dataset (409 if the name is taken)",
)
def create_dataset(body: DatasetCreate, store: StoreDep) -> Response:
    """Create an empty dataset."""
    dataset = store.create_dataset(
        body.name, description=body.description, tags=body.tags, created_by=body.created_by
    )
    return json_response(dataset.to_dict(), 201)


@router.get("/datasets", response_model=DatasetPage, summary="List datasets by name")
def search_datasets(
    store: StoreDep,
    name_contains: str | None = None,
    limit: Annotated[int, Query()] = 100,
    page_token: str | None = None,
) -> Response:
    """A page of datasets in name order; `name_contains` keeps those whose name has it."""
    found = store.search_datasets(name_contains, limit=limit, page_token=page_token)
    return json_response(
        {"datasets": [d.to_dict() for d in found], "next_page_token": found.next_page_token}
    )


@router.get("/datasets/{name}", response_model=DatasetOut, summary="One dataset")
def get_dataset(name: str, store: StoreDep) -> Response:
    """The dataset called `name` (404 if none)."""
    return json_response(store.get_dataset(name).to_dict())


@router.patch("/datasets/{name}", response_model=DatasetOut, summary="Update a dataset")
def update_dataset(name: str, body: DatasetUpdate, store: StoreDep) -> Response:
    """Change the description and/or merge tags."""
    dataset = store.update_dataset(name, description=body.description, tags=body.tags)
    return json_response(dataset.to_dict())


@router.delete("/datasets/{name}", status_code=204, summary="Delete a dataset and its records")
def delete_dataset(name: str, store: StoreDep) -> Response:
    """Delete the dataset and every record of it."""
    store.delete_dataset(name)
    return no_content()


@router.post(
    "/datasets/{name}/records",
    response_model=MergeOut,
    summary="Add records; records with stored inputs update those",
)
def merge_records(name: str, body: RecordsMerge, store: StoreDep) -> Response:
    """Merge records into the dataset (all or nothing)."""
    result = store.merge_dataset_records(name, body.records)
    return json_response(
        {
            "inserted": result.inserted,
            "updated": result.updated,
            "dataset": result.dataset.to_dict(),
        }
    )


@router.get("/datasets/{name}/records", response_model=RecordPage, summary="A page of records")
def get_records(
    name: str,
    store: StoreDep,
    limit: Annotated[int, Query()] = 1000,
    page_token: str | None = None,
) -> Response:
    """Records in insertion order, in pages."""
    found = store.get_dataset_records(name, limit=limit, page_token=page_token)
    return json_response(
        {"records": [r.to_dict() for r in found], "next_page_token": found.next_page_token}
    )


@router.post("/datasets/{name}/records/delete", response_model=DeletedOut, summary="Delete records")
def delete_records(name: str, body: RecordsDelete, store: StoreDep) -> Response:
    """Delete records by id; answers how many were deleted."""
    return json_response({"deleted": store.delete_dataset_records(name, body.record_ids)})


__all__ = ["router"]
