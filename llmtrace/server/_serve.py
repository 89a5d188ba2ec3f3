"""Run the server under uvicorn, in this process or in N worker processes."""

from __future__ import annotations

import os

from llmtrace.server._app import CONFIG_ENV, config_to_env, create_app
from llmtrace.server._config import ServerConfig


def run_server(config: ServerConfig) -> None:
    """Serve until interrupted. With `workers > 1`, uvicorn forks workers that each build the
    app from the same config (they share nothing but the database and artifact store)."""
    import uvicorn

    if config.workers > 1:
        if config.grpc_port is not None:
            # One gRPC port cannot be bound by N processes; each worker would fight for it.
            raise SystemExit("error: --grpc-port needs --workers 1 (run a separate gRPC replica)")
        os.environ[CONFIG_ENV] = config_to_env(config)
        uvicorn.run(
            "llmtrace.server._app:app_from_env",
            factory=True,
            host=config.host,
            port=config.port,
            workers=config.workers,
            log_level="info",
        )
        return
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info")


__all__ = ["run_server"]
