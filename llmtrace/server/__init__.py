"""The llmtrace server: REST API over the store, OTLP ingest (HTTP and gRPC), API-key auth.

Install with `pip install 'llmtrace[server]'` (add `grpc` for the OTLP/gRPC receiver) and run
`llmtrace server --store postgresql+psycopg://.../llmtrace`. Embed it with `create_app`.

Example:
    >>> from llmtrace.server import ServerConfig, create_app
    >>> app = create_app(ServerConfig(store="sqlite:///llmtrace.db"))
"""

from __future__ import annotations

from llmtrace.server._app import create_app
from llmtrace.server._config import ServerConfig
from llmtrace.server._serve import run_server

__all__ = ["ServerConfig", "create_app", "run_server"]
