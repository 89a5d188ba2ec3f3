"""REST routes of the prompt registry, mounted under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["prompts"])

__all__ = ["router"]
