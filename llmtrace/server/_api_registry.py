"""REST routes of the model registry, mounted under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["registry"])

__all__ = ["router"]
