"""REST routes of runs: create, get, update, delete, restore, logging (batch, metric, param,
tags), metric history and search. Mounted under /api/v1 by `_api_tracking`.

Store calls block, so the routes are plain `def`s (FastAPI runs them in its thread pool).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from llmtrace.server._deps import get_store
from llmtrace.server._tracking_models import (
    READ_SCOPE,
    BatchIn,
    KeyValue,
    MetricIn,
    MetricPage,
    RunCreate,
    RunInfoOut,
    RunOut,
    RunPage,
    RunUpdate,
    SearchRuns,
    TagValue,
    json_response,
    no_content,
    page_of,
    pairs,
)
from llmtrace.store import Metric, SqlStore
from llmtrace.store._wire_runs import run_list_to_dict

router = APIRouter(tags=["runs"])
StoreDep = Annotated[SqlStore, Depends(get_store)]
# A metric's history is read whole from the store, then paged: large pages, few reads.
MAX_HISTORY_PAGE = 100_000


def _metric(m: MetricIn) -> Metric:
    return Metric(m.key, m.value, m.step, m.timestamp_ms)


@router.post("/runs", status_code=201, response_model=RunOut, summary="Start a run")
def create_run(body: RunCreate, store: StoreDep) -> Response:
    """Start a RUNNING run in an active experiment (a name is generated when not given)."""
    run = store.create_run(
        body.experiment_id,
        name=body.name,
        start_time=body.start_time,
        tags=pairs(body.tags),
        parent_run_id=body.parent_run_id,
        user_id=body.user_id,
    )
    return json_response(run.to_dict(), 201)


@router.post(
    "/runs/search",
    response_model=RunPage,
    openapi_extra=READ_SCOPE,
    summary="Search runs (filter, order_by, pages)",
)
def search_runs(body: SearchRuns, store: StoreDep) -> Response:
    """A page of runs of these experiments matching `filter` (the filter language of
    docs/tracking.md), newest first unless `order_by` says."""
    found = store.search_runs(
        body.experiment_ids,
        body.filter,
        order_by=body.order_by,
        limit=body.limit,
        page_token=body.page_token,
        view=body.view,
    )
    return json_response(run_list_to_dict(found))


@router.get("/runs", response_model=RunPage, summary="Search runs (query-string form)")
def list_runs(
    store: StoreDep,
    experiment_id: Annotated[list[str], Query()],
    filter: str | None = None,
    order_by: Annotated[list[str] | None, Query()] = None,
    limit: int = 100,
    page_token: str | None = None,
    view: str = "active",
) -> Response:
    """`POST /runs/search` as a GET: `experiment_id` and `order_by` may be repeated."""
    found = store.search_runs(
        experiment_id,
        filter,
        order_by=order_by,
        limit=limit,
        page_token=page_token,
        view=view,
    )
    return json_response(run_list_to_dict(found))


@router.get("/runs/{run_id}", response_model=RunOut, summary="A run")
def get_run(run_id: str, store: StoreDep) -> Response:
    """A run with its params, latest metric values and tags (deleted runs too)."""
    return json_response(store.get_run(run_id).to_dict())


@router.patch("/runs/{run_id}", response_model=RunInfoOut, summary="Update a run")
def update_run(run_id: str, body: RunUpdate, store: StoreDep) -> Response:
    """Change status, end time or name of an active run; a terminal status sets the end
    time (now unless given) and the duration."""
    info = store.update_run(run_id, status=body.status, end_time=body.end_time, name=body.name)
    return json_response(info.to_dict())


@router.delete(
    "/runs/{run_id}", status_code=204, response_class=Response, summary="Delete a run (soft)"
)
def delete_run(run_id: str, store: StoreDep) -> Response:
    """Mark a run deleted: hidden from searches, closed to logging and uploads."""
    store.delete_run(run_id)
    return no_content()


@router.post(
    "/runs/{run_id}/restore",
    status_code=204,
    response_class=Response,
    summary="Restore a deleted run",
)
def restore_run(run_id: str, store: StoreDep) -> Response:
    """Make a deleted run active again."""
    store.restore_run(run_id)
    return no_content()


@router.post(
    "/runs/{run_id}/batch",
    status_code=204,
    response_class=Response,
    summary="Log metrics, params and tags in one transaction",
)
def log_batch(run_id: str, body: BatchIn, store: StoreDep) -> Response:
    """All or nothing: a param stored with another value refuses the whole batch (400)."""
    store.log_batch(
        run_id,
        metrics=[_metric(m) for m in body.metrics],
        params=pairs(body.params),
        tags=pairs(body.tags),
    )
    return no_content()


@router.post(
    "/runs/{run_id}/metrics",
    status_code=204,
    response_class=Response,
    summary="Log one metric point",
)
def log_metric(run_id: str, body: MetricIn, store: StoreDep) -> Response:
    """Log one metric point (NaN and infinities as "NaN", "Infinity", "-Infinity")."""
    store.log_metric(run_id, body.key, body.value, step=body.step, timestamp_ms=body.timestamp_ms)
    return no_content()


@router.post(
    "/runs/{run_id}/params",
    status_code=204,
    response_class=Response,
    summary="Log one param",
)
def log_param(run_id: str, body: KeyValue, store: StoreDep) -> Response:
    """Log one param; 400 if it was logged before with another value (params are
    immutable)."""
    store.log_param(run_id, body.key, body.value)
    return no_content()


@router.put(
    "/runs/{run_id}/tags/{key:path}",
    status_code=204,
    response_class=Response,
    summary="Set a run tag",
)
def set_tag(run_id: str, key: str, body: TagValue, store: StoreDep) -> Response:
    """Set (or replace) a tag of an active run. The key is the rest of the path,
    percent-encoded."""
    store.set_tag(run_id, key, body.value)
    return no_content()


@router.delete(
    "/runs/{run_id}/tags/{key:path}",
    status_code=204,
    response_class=Response,
    summary="Delete a run tag",
)
def delete_tag(run_id: str, key: str, store: StoreDep) -> Response:
    """Remove a tag of an active run (no error if it was not set)."""
    store.delete_run_tag(run_id, key)
    return no_content()


@router.get(
    "/runs/{run_id}/metrics/{key:path}/history",
    response_model=MetricPage,
    summary="Every point of a metric",
)
def metric_history(
    run_id: str,
    key: str,
    store: StoreDep,
    limit: int = 10_000,
    page_token: str | None = None,
) -> Response:
    """The points of metric `key` (percent-encoded in the path), by step then timestamp,
    in pages of up to 100,000."""
    points = store.get_metric_history(run_id, key)
    items, token = page_of(
        points, limit, page_token, "history", run_id, key, max_limit=MAX_HISTORY_PAGE
    )
    return json_response({"metrics": [m.to_dict() for m in items], "next_page_token": token})


__all__ = ["MAX_HISTORY_PAGE", "router"]
