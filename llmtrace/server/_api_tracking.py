"""REST routes of experiment tracking, mounted under /api/v1: experiments (`_api_experiments`)
and runs (`_api_runs`). The route table and the wire format are in docs/rest-api-tracking.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from llmtrace.server import _api_experiments, _api_runs

router = APIRouter()
router.include_router(_api_experiments.router)
router.include_router(_api_runs.router)

__all__ = ["router"]
