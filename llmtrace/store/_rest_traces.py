"""Trace, span, assessment and usage methods of `RestStore`, over the server's REST API.

Each method sends what the `SqlStore` method of the same name takes and decodes the answer
with `llmtrace.store._wire`, so both return equal values and raise the same exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from llmtrace.exceptions import InvalidQueryError, NotFoundError
from llmtrace.store._base import UNSET, Unset
from llmtrace.store._rest import RestClient
from llmtrace.store._wire import (
    assessment_from_dict,
    datetime_to_wire,
    model_usage_from_dict,
    span_record_to_dict,
    trace_from_dict,
    trace_list_from_dict,
)
from llmtrace.store.entities import Assessment, ModelUsage, Trace, TraceList
from llmtrace.store.records import SpanRecord

# Span uploads are cut into requests of at most this many records or bytes, well under the
# server's limits (10,000 records, 32 MiB by default).
SPANS_PER_REQUEST = 2000
BYTES_PER_REQUEST = 4 * 1024 * 1024
# Queries longer than this go in a POST body rather than the URL.
_MAX_QUERY_CHARS = 2000
_JSON = {"Content-Type": "application/json"}


def _encode(value: Any) -> bytes:
    # As the SQL store serializes payloads: NaN stays NaN, other objects become their str().
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _segment(value: str) -> str:
    """`value` as one URL path segment ("/" and a lone "." or ".." included)."""
    if value.strip(".") == "":
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _id(kind: str, value: str) -> str:
    """An id as a path segment. An empty id names nothing (and its path would be another
    route's), so it is not found, as in the SQL store."""
    if not value:
        raise NotFoundError(f"{kind} {value!r} not found")
    return _segment(value)


def _span_batches(records: Sequence[SpanRecord]) -> Iterator[bytes]:
    """JSON arrays of records, each within SPANS_PER_REQUEST and BYTES_PER_REQUEST (a single
    larger record goes alone; the server answers 413 if it exceeds its own limit)."""
    parts: list[bytes] = []
    size = 0
    for record in records:
        item = _encode(span_record_to_dict(record))
        if parts and (len(parts) >= SPANS_PER_REQUEST or size + len(item) > BYTES_PER_REQUEST):
            yield b"[" + b",".join(parts) + b"]"
            parts, size = [], 0
        parts.append(item)
        size += len(item) + 1
    if parts:
        yield b"[" + b",".join(parts) + b"]"


def _send(
    client: RestClient, method: str, path: str, body: Any, *, retry: bool | None = None
) -> Any:
    """Send `body` as JSON; the decoded answer (None for an empty one, as 204)."""
    response = client.request(method, path, content=_encode(body), headers=_JSON, retry=retry)
    return response.json() if response.content else None


class RestTracesMixin(RestClient):
    """Traces, spans, tags, assessments and model usage over `/api/v1`."""

    # --- writes ----------------------------------------------------------------------------------

    def log_spans(self, records: Sequence[SpanRecord]) -> None:
        """Store finished spans (POST /spans, in batches). Retried safely: spans already
        stored are skipped."""
        for body in _span_batches(records):
            self.request("POST", "/spans", content=body, headers=_JSON, retry=True)

    def set_trace_tag(self, trace_id: str, key: str, value: str = "true") -> None:
        """Set (or replace) a tag on a stored trace; NotFoundError if the trace is unknown."""
        path = f"/traces/{_id('trace', trace_id)}/tags/{_segment(key)}"
        _send(self, "PUT", path, {"value": str(value)})

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Remove a tag from a stored trace (no error if it was not set)."""
        self.request("DELETE", f"/traces/{_id('trace', trace_id)}/tags/{_segment(key)}")

    def delete_traces(
        self,
        *,
        older_than: timedelta | datetime | None = None,
        filter: str | None = None,
        project: str | None = None,
        batch_size: int = 1000,
    ) -> int:
        """Delete matching traces on the server; returns how many. See `SqlStore.delete_traces`."""
        params: dict[str, Any] = {"filter": filter, "project": project, "batch_size": batch_size}
        if isinstance(older_than, timedelta):
            params["older_than"] = older_than.total_seconds()
        elif older_than is not None:
            if older_than.tzinfo is None:
                raise InvalidQueryError("older_than must be timezone-aware (UTC)")
            params["before"] = older_than.isoformat()
        data = self.request("DELETE", "/traces", params=params).json()
        return int(data["deleted"])

    def log_assessment(
        self,
        trace_id: str,
        name: str,
        value: Any,
        *,
        source_type: str = "HUMAN",
        source_id: str | None = None,
        span_id: str | None = None,
        rationale: str | None = None,
        error: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Assessment:
        """Attach a score or piece of feedback to a trace (or one of its spans). Not retried:
        a retry after a lost answer would store it twice."""
        body = {
            "name": name,
            "value": value,
            "source_type": source_type,
            "source_id": source_id,
            "span_id": span_id,
            "rationale": rationale,
            "error": error,
            "metadata": None if metadata is None else dict(metadata),
        }
        return assessment_from_dict(
            _send(self, "POST", f"/traces/{_id('trace', trace_id)}/assessments", body)
        )

    def update_assessment(
        self,
        assessment_id: str,
        *,
        value: Any = UNSET,
        rationale: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
        error: str | Unset | None = UNSET,
    ) -> Assessment:
        """Change the given fields of an assessment; returns it as stored."""
        given = {"value": value, "rationale": rationale, "metadata": metadata, "error": error}
        body = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in given.items()}
        body = {k: v for k, v in body.items() if v is not UNSET}
        path = f"/assessments/{_id('assessment', assessment_id)}"
        return assessment_from_dict(_send(self, "PATCH", path, body, retry=True))

    def delete_assessment(self, assessment_id: str) -> None:
        """Delete an assessment; NotFoundError if unknown."""
        self.request("DELETE", f"/assessments/{_id('assessment', assessment_id)}")

    # --- reads -----------------------------------------------------------------------------------

    def search_traces(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        project: str | None = None,
    ) -> TraceList:
        """A page of traces matching the filter (GET /traces, or POST /traces/search when the
        query is too long for a URL). Page tokens are the server store's own."""
        orders = [order_by] if isinstance(order_by, str) else list(order_by or ())
        query: dict[str, Any] = {
            "filter": filter,
            "order_by": orders or None,
            "limit": limit,
            "page_token": page_token,
            "project": project,
        }
        if len(filter or "") + sum(len(o) for o in orders) > _MAX_QUERY_CHARS:
            data = _send(self, "POST", "/traces/search", query, retry=True)
        else:
            data = self.request("GET", "/traces", params=query).json()
        return trace_list_from_dict(data)

    def get_trace(self, trace_id: str) -> Trace:
        """A trace with all its spans and assessments; NotFoundError if unknown."""
        return trace_from_dict(self.get_json(f"/traces/{_id('trace', trace_id)}"))

    def get_assessments(self, trace_id: str) -> list[Assessment]:
        """Assessments of a trace, oldest first."""
        if not trace_id:
            return []
        data = self.get_json(f"/traces/{_id('trace', trace_id)}/assessments")
        return [assessment_from_dict(item) for item in data["assessments"]]

    def model_usage(
        self, *, project: str | None = None, since: datetime | None = None
    ) -> list[ModelUsage]:
        """Calls, tokens and cost per model (most calls first)."""
        data = self.get_json("/usage/models", project=project, since=datetime_to_wire(since))
        return [model_usage_from_dict(item) for item in data["models"]]


__all__ = ["BYTES_PER_REQUEST", "SPANS_PER_REQUEST", "RestTracesMixin"]
