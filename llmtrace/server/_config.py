"""Server settings: one frozen dataclass, filled from the CLI or by the embedding program."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmtrace.exceptions import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    """How an llmtrace server runs.

    Example:
        >>> config = ServerConfig(store="postgresql+psycopg://db/llmtrace", auth=True)
    """

    # Any SQLAlchemy URL (sqlite:///..., postgresql+psycopg://..., mysql+pymysql://...).
    store: str
    # Where experiments created through the server keep artifacts: folder, file:// or s3://.
    artifacts: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    # Require an API key on every route but /health, /ready and /version.
    auth: bool = False
    # Largest request body accepted, compressed or not (413 above it).
    max_body_bytes: int = 32 * MIB
    # Largest OTLP body after gunzip (a gzip bomb gets 413, not an out-of-memory).
    max_decompressed_bytes: int = 128 * MIB
    # Origins allowed by CORS; empty = CORS off.
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    # Spans waiting to be written; a full queue answers 503 / RESOURCE_EXHAUSTED.
    ingest_queue_spans: int = 200_000
    # OTLP/gRPC port; None = off. The CLI turns it on (4317) by default when grpcio is
    # installed. With workers > 1, `run_server` serves it once, from the supervising process.
    grpc_port: int | None = None
    # Seconds an API key lookup is cached (revocation takes effect within this delay).
    auth_cache_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not self.store:
            raise ConfigError("the server needs a store URL (--store)")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
        if self.max_body_bytes < 1024 or self.max_decompressed_bytes < self.max_body_bytes:
            raise ConfigError(
                "max_body_bytes must be >= 1024 and max_decompressed_bytes >= max_body_bytes"
            )
        if self.ingest_queue_spans < 1:
            raise ConfigError("ingest_queue_spans must be positive")
        for port in (self.port, self.grpc_port):
            if port is not None and not 0 <= port <= 65535:
                raise ConfigError(f"invalid port {port}")
        if self.grpc_port is not None and self.grpc_port == self.port != 0:
            raise ConfigError(f"HTTP and OTLP/gRPC cannot share port {self.port}")
        if self.auth_cache_seconds < 0:
            raise ConfigError(f"auth_cache_seconds must be >= 0, got {self.auth_cache_seconds}")
        if any(not origin or origin != origin.strip() for origin in self.cors_origins):
            raise ConfigError(f"invalid CORS origin in {list(self.cors_origins)}")


__all__ = ["ServerConfig"]
