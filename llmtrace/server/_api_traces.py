"""REST routes of traces: search (GET, or POST for long filters), get, delete (one, or in bulk by
filter/age/project), tags, model usage and span upload; the assessment routes are included
from `_api_assessments`.

Store calls block, so the routes are plain `def` functions, which FastAPI runs in its thread
pool. Errors of the store (bad filter, unknown id, ...) become the stable JSON error shape
through the app's exception handlers. See docs/rest-api.md.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from sqlalchemy.exc import DataError

from llmtrace.exceptions import InvalidQueryError
from llmtrace.server import _api_assessments
from llmtrace.server._api_schemas import (
    AcceptedOut,
    DeletedOut,
    ModelUsageListOut,
    SearchTracesRequest,
    SpanBatch,
    TagRequest,
    TraceListOut,
    TraceOut,
    wire_json,
)
from llmtrace.server._deps import get_store
from llmtrace.server._errors import ApiError
from llmtrace.store import SqlStore
from llmtrace.store._sql import MAX_LIMIT
from llmtrace.store._wire import trace_list_to_dict, trace_to_dict

READ = {"x-llmtrace-scope": "read"}
# Beyond this many years a cut-off falls before year 1 (and `datetime` overflows).
_MAX_AGE_SECONDS = 1e10
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")

router = APIRouter()

StoreDep = Annotated[SqlStore, Depends(get_store)]
TraceId = Annotated[str, Path(description="the trace's 32-hex-digit id")]


def _check_limit(limit: int) -> None:
    # The store's own check and message: a RestStore raises what a SqlStore raises.
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


def _search(
    store: SqlStore,
    filter: str | None,
    order_by: list[str] | str | None,
    limit: int,
    page_token: str | None,
    project: str | None,
) -> Response:
    _check_limit(limit)
    page = store.search_traces(
        filter, order_by=order_by or None, limit=limit, page_token=page_token, project=project
    )
    return wire_json(trace_list_to_dict(page))


@router.get(
    "/traces",
    tags=["traces"],
    summary="Search traces",
    response_model=TraceListOut,
)
def search_traces(
    store: StoreDep,
    filter: Annotated[
        str | None, Query(description="filter expression, e.g. latency_ms > 500")
    ] = None,
    order_by: Annotated[
        list[str] | None, Query(description="'field [asc|desc]', repeatable; newest first")
    ] = None,
    limit: Annotated[int, Query(description=f"traces per page, 1 to {MAX_LIMIT}")] = 100,
    page_token: Annotated[str | None, Query(description="from the previous page")] = None,
    project: Annotated[str | None, Query(description="only this project")] = None,
) -> Response:
    """A page of traces matching the filter, newest first unless `order_by` says otherwise.

    The filter language is the library's (`status = 'ERROR' and tag.env = 'prod'`); a syntax
    error answers 400 `FILTER_SYNTAX` with the position in `details`.
    """
    return _search(store, filter, order_by, limit, page_token, project)


@router.post(
    "/traces/search",
    tags=["traces"],
    summary="Search traces (query in the body)",
    response_model=TraceListOut,
    openapi_extra=READ,
)
def search_traces_post(store: StoreDep, query: SearchTracesRequest) -> Response:
    """Like GET /traces, with the query as a JSON body: for filters too long for a URL. Needs
    only read access."""
    return _search(
        store, query.filter, query.order_by, query.limit, query.page_token, query.project
    )


@router.get(
    "/traces/{trace_id}",
    tags=["traces"],
    summary="Get a trace with its spans and assessments",
    response_model=TraceOut,
)
def get_trace(store: StoreDep, trace_id: TraceId) -> Response:
    """The trace's rollups, all its spans (flat, in start order) and its assessments."""
    return wire_json(trace_to_dict(store.get_trace(trace_id)))


@router.delete(
    "/traces",
    tags=["traces"],
    summary="Delete traces by filter, age and/or project",
    response_model=DeletedOut,
)
def delete_traces(
    store: StoreDep,
    filter: Annotated[str | None, Query(description="traces matching this filter")] = None,
    older_than: Annotated[
        float | None,
        Query(ge=0, le=_MAX_AGE_SECONDS, description="started more than this many seconds ago"),
    ] = None,
    before: Annotated[
        datetime | None, Query(description="started before this time (ISO-8601 with offset)")
    ] = None,
    project: Annotated[str | None, Query(description="traces of this project")] = None,
    batch_size: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="traces deleted per transaction")
    ] = 1000,
) -> Response:
    """Delete the traces matching every criterion given (and their spans, tags and
    assessments). At least one criterion is required: `filter=trace_id like '%'` deletes
    all."""
    if older_than is not None and before is not None:
        raise ApiError(400, "give older_than or before, not both", code="INVALID_QUERY")
    if before is not None and before.tzinfo is None:
        raise ApiError(
            400, "before must include a UTC offset, e.g. 2026-01-01T00:00:00Z", code="INVALID_QUERY"
        )
    cutoff: timedelta | datetime | None = before
    if older_than is not None:
        cutoff = timedelta(seconds=older_than)
    deleted = store.delete_traces(
        older_than=cutoff, filter=filter, project=project, batch_size=batch_size
    )
    return wire_json({"deleted": deleted})


@router.delete(
    "/traces/{trace_id}",
    tags=["traces"],
    summary="Delete one trace",
    status_code=204,
    response_class=Response,
)
def delete_trace(store: StoreDep, trace_id: TraceId) -> Response:
    """Delete the trace, its spans, tags and assessments; 404 if unknown."""
    if not _TRACE_ID.fullmatch(trace_id):
        raise ApiError(404, f"trace {trace_id!r} not found")
    if not store.delete_traces(filter=f"trace_id = '{trace_id.lower()}'"):
        raise ApiError(404, f"trace {trace_id!r} not found")
    return Response(status_code=204)


@router.put(
    "/traces/{trace_id}/tags/{key:path}",
    tags=["traces"],
    summary="Set a tag",
    status_code=204,
    response_class=Response,
)
def set_trace_tag(
    store: StoreDep,
    trace_id: TraceId,
    key: Annotated[str, Path(description="tag key (URL-encoded)")],
    body: Annotated[TagRequest | None, Body()] = None,
) -> Response:
    """Set (or replace) a tag; the body `{"value": "..."}` is optional (default "true")."""
    store.set_trace_tag(trace_id, key, (body or TagRequest()).value)
    return Response(status_code=204)


@router.delete(
    "/traces/{trace_id}/tags/{key:path}",
    tags=["traces"],
    summary="Remove a tag",
    status_code=204,
    response_class=Response,
)
def delete_trace_tag(
    store: StoreDep,
    trace_id: TraceId,
    key: Annotated[str, Path(description="tag key (URL-encoded)")],
) -> Response:
    """Remove a tag (no error if it was not set; 404 if the trace is unknown)."""
    store.delete_trace_tag(trace_id, key)
    return Response(status_code=204)


@router.get(
    "/usage/models",
    tags=["usage"],
    summary="Calls, tokens and cost per model",
    response_model=ModelUsageListOut,
)
def model_usage(
    store: StoreDep,
    project: Annotated[str | None, Query(description="only this project")] = None,
    since: Annotated[
        datetime | None, Query(description="traces started at or after (ISO-8601 with offset)")
    ] = None,
) -> Response:
    """Usage per model over the stored spans, most calls first; `unpriced_calls` counts calls
    whose model has no price."""
    if since is not None and since.tzinfo is None:
        raise ApiError(
            400, "since must include a UTC offset, e.g. 2026-01-01T00:00:00Z", code="INVALID_QUERY"
        )
    usage = store.model_usage(project=project, since=since)
    return wire_json({"models": [u.to_dict() for u in usage]})


@router.post(
    "/spans",
    tags=["spans"],
    summary="Store finished spans",
    response_model=AcceptedOut,
)
def log_spans(store: StoreDep, spans: Annotated[SpanBatch, Body()]) -> Response:
    """Store a JSON list of span records (`RestStore.log_spans`); their traces' rollups are
    merged, spans already stored are skipped. Queryable once this answers. Applications
    normally send spans over OTLP (`POST /v1/traces`) instead."""
    try:
        store.log_spans([s.to_record() for s in spans])
    except DataError as exc:
        raise ApiError(400, f"the database refused these spans: {exc.orig}") from exc
    return wire_json({"accepted": len(spans)})


router.include_router(_api_assessments.router)

__all__ = ["router"]
