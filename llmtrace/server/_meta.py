"""Health, readiness and version: the routes load balancers and operators poll (never auth)."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request

from llmtrace._version import __version__
from llmtrace.server._deps import get_store
from llmtrace.server._errors import error_response

PUBLIC = {"x-llmtrace-scope": "public"}
router = APIRouter(tags=["meta"])


@router.get("/health", openapi_extra=PUBLIC, summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    """Always `{"status": "ok"}` while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/ready", openapi_extra=PUBLIC, summary="Readiness: the database answers", response_model=None
)
async def ready(request: Request) -> Any:
    """200 when the database answers a trivial query within 5 s, else 503."""
    store = get_store(request)

    def ping() -> None:
        with store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.to_thread(ping), timeout=5.0)
    except Exception as exc:  # any failure means "do not route traffic here"
        return error_response(503, f"database not reachable: {type(exc).__name__}: {exc}")
    queue = getattr(request.app.state, "ingest", None)
    body: dict[str, Any] = {"status": "ready"}
    if queue is not None:
        body["ingest"] = queue.stats()
    return body


@router.get("/version", openapi_extra=PUBLIC, summary="Server and API versions")
async def version() -> dict[str, str]:
    """The llmtrace version and the REST API version."""
    return {"version": __version__, "api": "v1"}


__all__ = ["PUBLIC", "router"]
