"""REST routes of assessments: scores and feedback on a trace or one of its spans.

Created and listed under their trace (`/traces/{trace_id}/assessments`), changed and deleted by
their own id (`/assessments/{assessment_id}`), as the store addresses them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from llmtrace.server._api_schemas import (
    AssessmentListOut,
    AssessmentOut,
    AssessmentPatch,
    AssessmentRequest,
    wire_json,
)
from llmtrace.server._deps import get_store
from llmtrace.store import SqlStore

router = APIRouter(tags=["assessments"])

StoreDep = Annotated[SqlStore, Depends(get_store)]
TraceId = Annotated[str, Path(description="the trace's 32-hex-digit id")]
AssessmentId = Annotated[str, Path(description="the assessment's id")]


@router.get(
    "/traces/{trace_id}/assessments",
    summary="List the assessments of a trace",
    response_model=AssessmentListOut,
)
def get_assessments(store: StoreDep, trace_id: TraceId) -> Response:
    """The trace's assessments, oldest first (an empty list for an unknown trace, as the store
    answers)."""
    assessments = store.get_assessments(trace_id)
    return wire_json({"assessments": [a.to_dict() for a in assessments]})


@router.post(
    "/traces/{trace_id}/assessments",
    summary="Attach a score or feedback to a trace",
    response_model=AssessmentOut,
    status_code=201,
)
def log_assessment(store: StoreDep, trace_id: TraceId, body: AssessmentRequest) -> Response:
    """Store an assessment (from a HUMAN, an LLM_JUDGE or CODE) on the trace, or on one of its
    spans with `span_id`; 404 if the trace is unknown."""
    assessment = store.log_assessment(
        trace_id,
        body.name,
        body.value,
        source_type=body.source_type,
        source_id=body.source_id,
        span_id=body.span_id,
        rationale=body.rationale,
        error=body.error,
        metadata=body.metadata,
    )
    return wire_json(assessment.to_dict(), status_code=201)


@router.patch(
    "/assessments/{assessment_id}",
    summary="Change an assessment",
    response_model=AssessmentOut,
)
def update_assessment(
    store: StoreDep, assessment_id: AssessmentId, body: AssessmentPatch
) -> Response:
    """Change the fields given in the body (value, rationale, metadata, error); the others keep
    their value. Answers the assessment as stored, with `updated_at` bumped."""
    changes: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    assessment = store.update_assessment(assessment_id, **changes)
    return wire_json(assessment.to_dict())


@router.delete(
    "/assessments/{assessment_id}",
    summary="Delete an assessment",
    status_code=204,
    response_class=Response,
)
def delete_assessment(store: StoreDep, assessment_id: AssessmentId) -> Response:
    """Delete the assessment; 404 if unknown."""
    store.delete_assessment(assessment_id)
    return Response(status_code=204)


__all__ = ["router"]
