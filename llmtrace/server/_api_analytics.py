"""REST routes of analytics (aggregates over traces and spans), mounted under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])

__all__ = ["router"]
