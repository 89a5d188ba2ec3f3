"""Request-scoped access to what the app holds: the store, the config, the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from llmtrace.server._config import ServerConfig
from llmtrace.store import SqlStore


@dataclass(frozen=True)
class Principal:
    """Who made a request: an API key (id, name, scope) or, with auth off, `anonymous`."""

    key_id: str | None
    name: str
    scope: str  # "read" or "write"

    @property
    def can_write(self) -> bool:
        """True for read-write keys (and with auth off)."""
        return self.scope == "write"


ANONYMOUS = Principal(key_id=None, name="anonymous", scope="write")


def get_store(request: Request) -> SqlStore:
    """The app's store (opened at startup)."""
    store: SqlStore = request.app.state.store
    return store


def get_config(request: Request) -> ServerConfig:
    """The app's configuration."""
    config: ServerConfig = request.app.state.config
    return config


def get_principal(request: Request) -> Principal:
    """The caller, as authenticated by the auth dependency (anonymous when auth is off)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal or ANONYMOUS


__all__ = ["ANONYMOUS", "Principal", "get_config", "get_principal", "get_store"]
