"""The FastAPI application: `create_app(config)` wires store, auth, limits, routes and ingest."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from llmtrace._version import __version__
from llmtrace.server import (
    _api_analytics,
    _api_artifacts,
    _api_datasets,
    _api_prompts,
    _api_registry,
    _api_traces,
    _api_tracking,
    _meta,
)
from llmtrace.server._auth import AuthMiddleware, KeyCache, docs_paths, document_security
from llmtrace.server._config import ServerConfig
from llmtrace.server._errors import install_error_handlers
from llmtrace.server._limits import BodyLimitMiddleware
from llmtrace.server.otlp import IngestQueue
from llmtrace.server.otlp import router as otlp_router
from llmtrace.store import SqlStore

logger = logging.getLogger("llmtrace.server")

# How `llmtrace server --workers N` hands its configuration to each worker process.
CONFIG_ENV = "LLMTRACE_SERVER_CONFIG"


def create_app(config: ServerConfig, *, store: SqlStore | None = None) -> FastAPI:
    """The server application. Opens (and migrates) the store unless one is given.

    Example:
        >>> app = create_app(ServerConfig(store="sqlite:///llmtrace.db"))
        >>> # uvicorn.run(app, port=5000)
    """
    owned = store is None
    db = SqlStore(config.store) if store is None else store
    ingest = IngestQueue(db, max_spans=config.ingest_queue_spans)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ingest.start()
        grpc_server = None
        if config.grpc_port is not None:
            from llmtrace.server.otlp import start_grpc

            grpc_server = start_grpc(app, config.grpc_port, config.host)
        try:
            yield
        finally:
            if grpc_server is not None:
                grpc_server.stop(grace=5).wait()
            ingest.stop()
            if owned:
                db.close()

    app = FastAPI(
        title="llmtrace",
        version=__version__,
        description="Traces, evaluations and experiment tracking for LLM applications.",
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.store = db
    app.state.ingest = ingest
    app.state.keys = KeyCache(db, config.auth_cache_seconds) if config.auth else None
    install_error_handlers(app)
    app.include_router(_meta.router)
    app.include_router(otlp_router)
    app.include_router(_api_traces.router, prefix="/api/v1")
    app.include_router(_api_tracking.router, prefix="/api/v1")
    app.include_router(_api_artifacts.router, prefix="/api/v1")
    app.include_router(_api_datasets.router, prefix="/api/v1")
    app.include_router(_api_registry.router, prefix="/api/v1")
    app.include_router(_api_prompts.router, prefix="/api/v1")
    app.include_router(_api_analytics.router, prefix="/api/v1")
    # Added last = outermost: auth answers before the body is read, then the size limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    if app.state.keys is not None:
        # FastAPI's own docs routes are public on purpose (see _auth); everything else the
        # router holds, now or later, needs a key.
        public = docs_paths(app)
        app.add_middleware(
            AuthMiddleware, routes=app.router.routes, keys=app.state.keys, public_paths=public
        )
        document_security(app, public)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )
    return app


def config_to_env(config: ServerConfig) -> str:
    """Serialize a config for worker processes (see `app_from_env`)."""
    return json.dumps(asdict(config))


def app_from_env() -> FastAPI:
    """Factory used by uvicorn worker processes: the config comes from `LLMTRACE_SERVER_CONFIG`."""
    raw = json.loads(os.environ[CONFIG_ENV])
    raw["cors_origins"] = tuple(raw.get("cors_origins") or ())
    return create_app(ServerConfig(**raw))


__all__ = ["CONFIG_ENV", "app_from_env", "config_to_env", "create_app"]
