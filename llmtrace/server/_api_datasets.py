"""REST routes of the evaluation datasets, mounted under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["datasets"])

__all__ = ["router"]
