"""`llmtrace server`: run the REST API and OTLP receivers over a database."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

from sqlalchemy.engine import make_url

from llmtrace.cli._common import store_url
from llmtrace.exceptions import ConfigError

DEFAULT_GRPC_PORT = 4317
_MIB = 1024 * 1024
# Gzip-compressed OTLP bodies may unpack to this many times the body limit (at least 128 MiB).
_DECOMPRESSION_RATIO = 4


def register(commands: Any) -> None:
    """Add the `server` command."""
    p = commands.add_parser(
        "server",
        help="run the llmtrace server (REST API, OTLP/HTTP and OTLP/gRPC ingest)",
        description=(
            "Serve the store over HTTP: the REST API under /api/v1, OTLP/HTTP at /v1/traces, "
            "/health, /ready, /version and the OpenAPI document at /openapi.json; and "
            "OTLP/gRPC on --grpc-port. Stateless: replicas may share one database."
        ),
    )
    p.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="database URL (SQLAlchemy: sqlite:///..., postgresql://..., mysql://...); "
        "same as the global --store",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on (default 127.0.0.1)",
    )
    p.add_argument("--port", type=int, default=5000, metavar="N", help="HTTP port (default 5000)")
    p.add_argument(
        "--artifacts",
        metavar="LOCATION",
        help="where experiments created through the server keep artifacts: a folder, "
        "file:///folder or s3://bucket/prefix (default: $LLMTRACE_ARTIFACTS or "
        "$LLMTRACE_HOME/artifacts)",
    )
    p.add_argument(
        "--workers", type=int, default=1, metavar="N", help="HTTP worker processes (default 1)"
    )
    p.add_argument(
        "--auth",
        action="store_true",
        help="require an API key on every route but /health, /ready, /version and the API docs "
        "(create keys with `llmtrace keys create`)",
    )
    p.add_argument(
        "--auth-cache-seconds",
        type=float,
        metavar="S",
        default=5.0,
        help="how long a key lookup is cached; a revoked key works at most this long (default 5)",
    )
    p.add_argument(
        "--ingest-queue-spans",
        type=int,
        metavar="N",
        default=200_000,
        help="spans waiting to be written before OTLP ingest answers 503 / RESOURCE_EXHAUSTED "
        "with retry advice (default 200000, per process)",
    )
    p.add_argument(
        "--max-body-mb",
        type=float,
        metavar="MIB",
        default=32.0,
        help="largest request body accepted, in MiB (default 32); larger ones get 413",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        dest="cors_origins",
        metavar="ORIGIN",
        help="allow cross-origin browser requests from ORIGIN (repeatable; default: CORS off)",
    )
    grpc = p.add_mutually_exclusive_group()
    grpc.add_argument(
        "--grpc-port",
        type=int,
        metavar="N",
        help=f"OTLP/gRPC port (default {DEFAULT_GRPC_PORT} when grpcio is installed, else off)",
    )
    grpc.add_argument("--no-grpc", action="store_true", help="do not start the OTLP/gRPC receiver")
    p.set_defaults(handler=_serve)


def grpc_port(args: argparse.Namespace) -> int | None:
    """The gRPC port to use: off with --no-grpc, else --grpc-port, else 4317 if grpcio is
    installed. Raises `ConfigError` for an explicit port without grpcio."""
    installed = importlib.util.find_spec("grpc") is not None
    if args.no_grpc:
        return None
    if args.grpc_port is not None:
        if not installed:
            raise ConfigError("--grpc-port needs grpcio: pip install 'llmtrace[grpc]'")
        return int(args.grpc_port)
    return DEFAULT_GRPC_PORT if installed else None


def database_url(args: argparse.Namespace) -> str:
    """The --store URL, refused when it is an llmtrace server's http(s) URL."""
    url = store_url(args)
    if url.startswith(("http://", "https://")):
        raise ConfigError(
            f"--store must be a database URL (sqlite:///..., postgresql://..., mysql://...), "
            f"not a server URL: {url}"
        )
    return url


def _serve(args: argparse.Namespace) -> int:
    # Imported here: `llmtrace --help` and the other commands must work without the extra.
    try:
        from llmtrace.server import ServerConfig, run_server
    except ImportError as exc:
        raise ConfigError(
            f"the server needs its extra: pip install 'llmtrace[server]' ({exc})"
        ) from exc
    from llmtrace.store import SqlStore

    url = database_url(args)
    max_body = int(args.max_body_mb * _MIB)
    config = ServerConfig(
        store=url,
        artifacts=args.artifacts,
        host=args.host,
        port=args.port,
        workers=args.workers,
        auth=args.auth,
        max_body_bytes=max_body,
        max_decompressed_bytes=max(128 * _MIB, max_body * _DECOMPRESSION_RATIO),
        cors_origins=tuple(args.cors_origins),
        grpc_port=grpc_port(args),
        auth_cache_seconds=args.auth_cache_seconds,
        ingest_queue_spans=args.ingest_queue_spans,
    )
    # Opened here first: a bad URL or an unreachable database is one error line, not a
    # traceback in each worker; the schema is migrated once.
    store = SqlStore(url)
    try:
        active_keys = len(store.list_api_keys()) if config.auth else 0
    finally:
        store.close()
    shown = make_url(url).render_as_string(hide_password=True)
    if config.auth and not active_keys:
        print(
            "warning: --auth is on but the store has no active API key, so every request but "
            "/health, /ready and /version will get 401. Create one with: "
            f"llmtrace --store '{shown}' keys create NAME",
            file=sys.stderr,
        )
    grpc = "off" if config.grpc_port is None else f"port {config.grpc_port}"
    print(
        f"llmtrace server on http://{config.host}:{config.port} (store {shown}; "
        f"auth {'on' if config.auth else 'off'}; OTLP/gRPC {grpc}; workers {config.workers})",
        file=sys.stderr,
        flush=True,
    )
    try:
        run_server(config)
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a signal before the server took over its handling
        pass
    return 0


__all__ = ["database_url", "grpc_port", "register"]
