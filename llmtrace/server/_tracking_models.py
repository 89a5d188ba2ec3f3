"""Wire models of the tracking and artifact routes, and the helpers they share.

Request bodies are validated by these pydantic models (a malformed body is a 400 in the stable
error shape, never a 500). Responses are the entities' own `to_dict()` written as JSON by
`json_response` (one encoding pass, no second validation of thousands of runs); the response
models below describe them in /openapi.json, and a test checks that answers match them.

Metric values may be NaN or infinite, which JSON cannot spell: they travel as the strings
"NaN", "Infinity" and "-Infinity" both ways (requests may also use the bare `NaN` /
`Infinity` tokens that many JSON libraries write).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from llmtrace.exceptions import InvalidQueryError
from llmtrace.store._pagination import decode_token, encode_token, query_fingerprint
from llmtrace.store._wire_runs import NON_FINITE

T = TypeVar("T")

# Largest page of the list routes that page over a list held in memory.
MAX_PAGE = 10_000
READ_SCOPE = {"x-llmtrace-scope": "read"}


def _wire_float(value: Any) -> Any:
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    return value


_FLOAT_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "enum": list(NON_FINITE)},
    ],
    "description": 'a number, or "NaN", "Infinity", "-Infinity"',
}
WireFloat = Annotated[
    float,
    BeforeValidator(_wire_float),
    Field(strict=True),
    WithJsonSchema(_FLOAT_SCHEMA),
]
StrictInt = Annotated[int, Field(strict=True)]
# Param and tag values: text, or a JSON scalar stored as its Python `str()` (as the library
# stores non-text values).
Scalar = str | int | float | bool


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyValue(_Body):
    """A param or tag."""

    key: str
    value: Scalar


class MetricIn(_Body):
    """One metric point; `timestamp_ms` defaults to the time the server receives it."""

    key: str
    value: WireFloat
    step: StrictInt = 0
    timestamp_ms: StrictInt | None = None


# Params and tags: a JSON object, or a list of {"key", "value"} (order kept: for tags a later
# value of a key wins; a param given twice with different values is an error).
Pairs = dict[str, Scalar] | list[KeyValue]


def pairs(value: Pairs | None) -> list[tuple[str, Any]]:
    """`(key, value)` pairs of a `Pairs` body field."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.items())
    return [(item.key, item.value) for item in value]


class ExperimentCreate(_Body):
    """`POST /experiments`. Without `artifact_location` the server picks
    `<its artifact root>/<experiment id>`."""

    name: str
    artifact_location: str | None = None
    tags: Pairs | None = None
    experiment_id: str | None = None


class ExperimentRename(_Body):
    """`PATCH /experiments/{id}`."""

    name: str


class TagValue(_Body):
    """`PUT .../tags/{key}`."""

    value: Scalar


class RunCreate(_Body):
    """`POST /runs`."""

    experiment_id: str
    name: str | None = None
    start_time: datetime | None = None
    tags: Pairs | None = None
    parent_run_id: str | None = None
    user_id: str | None = None


class RunUpdate(_Body):
    """`PATCH /runs/{id}`: fields left out are not changed."""

    status: str | None = None
    end_time: datetime | None = None
    name: str | None = None


class BatchIn(_Body):
    """`POST /runs/{id}/batch`: all written in one transaction, or nothing."""

    metrics: list[MetricIn] = Field(default_factory=list)
    params: Pairs | None = None
    tags: Pairs | None = None


class SearchRuns(_Body):
    """`POST /runs/search`."""

    experiment_ids: list[str] | str
    filter: str | None = None
    order_by: list[str] | str | None = None
    limit: StrictInt = 100
    page_token: str | None = None
    view: str = "active"


# --- response models (documentation; answers are written by `json_response`) -----------------


class ExperimentOut(BaseModel):
    """An experiment."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    created_at: datetime | None
    updated_at: datetime | None
    tags: dict[str, str]


class ExperimentPage(BaseModel):
    """A page of experiments, oldest first."""

    experiments: list[ExperimentOut]
    next_page_token: str | None


class ExperimentCreated(BaseModel):
    """The id of a new experiment."""

    experiment_id: str


class RunInfoOut(BaseModel):
    """A run's identity, status and times (ISO-8601, UTC)."""

    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: datetime
    artifact_uri: str
    end_time: datetime | None
    duration_ms: float | None
    lifecycle_stage: str
    user_id: str | None
    parent_run_id: str | None


class RunOut(BaseModel):
    """A run with its params, latest metric values and tags."""

    info: RunInfoOut
    params: dict[str, str]
    metrics: dict[str, WireFloat]
    tags: dict[str, str]


class RunPage(BaseModel):
    """A page of runs; pass `next_page_token` with the same query for the next one."""

    runs: list[RunOut]
    next_page_token: str | None


class MetricOut(BaseModel):
    """One metric point."""

    key: str
    value: WireFloat
    step: int
    timestamp_ms: int | None


class MetricPage(BaseModel):
    """A page of a metric's history, by step then timestamp."""

    metrics: list[MetricOut]
    next_page_token: str | None


class FileInfoOut(BaseModel):
    """An artifact file or folder; `file_size` is None for folders (and in recursive
    listings)."""

    path: str
    is_dir: bool
    file_size: int | None


class ArtifactPage(BaseModel):
    """A page of artifact entries, sorted by path."""

    files: list[FileInfoOut]
    next_page_token: str | None


class ArtifactWritten(BaseModel):
    """The clean artifact path a file was written to."""

    path: str


# --- helpers ------------------------------------------------------------------------------------


def json_response(data: Any, status: int = 200) -> Response:
    """`data` as compact JSON (NaN or infinity anywhere is a bug: refused, never sent)."""
    body = json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    return Response(body.encode("utf-8"), status_code=status, media_type="application/json")


def no_content() -> Response:
    """204 No Content."""
    return Response(status_code=204)


def page_of(
    items: Sequence[T],
    limit: int,
    page_token: str | None,
    *query: Any,
    max_limit: int = MAX_PAGE,
) -> tuple[list[T], str | None]:
    """One page of a list computed whole: `limit` items from the offset in `page_token`.

    The token only works with the query (`query`) that produced it; offsets are simple and
    right for lists that only grow at the end (experiments oldest first, a metric's history).
    """
    if not 1 <= limit <= max_limit:
        raise InvalidQueryError(f"limit must be between 1 and {max_limit}, got {limit}")
    fingerprint = query_fingerprint(*query)
    start = 0
    if page_token:
        (start,) = decode_token(page_token, fingerprint, 1, "the query parameters")
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise InvalidQueryError(f"invalid page token {page_token!r}")
    end = start + limit
    token = encode_token([end], fingerprint) if end < len(items) else None
    return list(items[start:end]), token


__all__ = [
    "MAX_PAGE",
    "READ_SCOPE",
    "ArtifactPage",
    "ArtifactWritten",
    "BatchIn",
    "ExperimentCreate",
    "ExperimentCreated",
    "ExperimentOut",
    "ExperimentPage",
    "ExperimentRename",
    "FileInfoOut",
    "KeyValue",
    "MetricIn",
    "MetricOut",
    "MetricPage",
    "Pairs",
    "RunCreate",
    "RunInfoOut",
    "RunOut",
    "RunPage",
    "RunUpdate",
    "Scalar",
    "SearchRuns",
    "TagValue",
    "WireFloat",
    "json_response",
    "no_content",
    "page_of",
    "pairs",
]
