"""API-key authentication: with auth on, every request needs a key except the public routes.

A route's scope comes from its `openapi_extra["x-llmtrace-scope"]` ("public", "read" or
"write"); without one, GET/HEAD routes need "read" and every other method "write". Public
routes are /health, /ready, /version and the API description FastAPI serves (/openapi.json,
/docs, /redoc: the same for every server of a version, and holding no data). Paths that match
no route need "read", so an anonymous caller cannot even tell which paths exist.

A read-write key may do everything; a read-only key gets 403 on writes. Keys travel as
`Authorization: Bearer <key>` or `X-API-Key: <key>` (what OTLP exporters can send through
`OTEL_EXPORTER_OTLP_HEADERS`). Lookups are cached for `auth_cache_seconds`, so a revoked key
stops working within that delay on every replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from llmtrace.server._deps import ANONYMOUS, Principal
from llmtrace.server._errors import ApiError, error_response
from llmtrace.store import SqlStore

logger = logging.getLogger("llmtrace.server")

SCOPE_KEY = "x-llmtrace-scope"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="llmtrace"'}
# Cached lookups, good and bad; beyond this many the cache starts over, so that a flood of
# made-up keys cannot grow it without bound.
_MAX_CACHED = 10_000


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries (`Authorization: Bearer` first, then `X-API-Key`), or
    None. `headers` must have lower-case names.

    Example:
        >>> key_from_headers({"authorization": "Bearer llmt_0123456789ab_..."})
        'llmt_0123456789ab_...'
    """
    value = headers.get("authorization")
    if value:
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    value = headers.get("x-api-key")
    return value.strip() if value and value.strip() else None


class KeyCache:
    """Secret -> Principal (or None for an unknown or revoked key), kept for `ttl` seconds.

    Entries are keyed by the secret's SHA-256, so the cache holds no secrets.
    """

    def __init__(self, store: SqlStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def cached(self, secret: str) -> tuple[bool, Principal | None]:
        """(True, principal) when a fresh answer is cached, else (False, None); never blocks
        on the database, so the event loop can call it."""
        hit = self._get(_digest(secret))
        return (False, None) if hit is None else (True, hit[1])

    def lookup(self, secret: str) -> Principal | None:
        """The key's principal, from the cache or the database (blocking).

        Raises:
            ApiError: 503 when the database cannot be asked.
        """
        digest = _digest(secret)
        hit = self._get(digest)
        if hit is not None:
            return hit[1]
        try:
            key = self._store.authenticate_api_key(secret)
        except Exception as exc:
            logger.warning("cannot check an API key: %s: %s", type(exc).__name__, exc)
            raise ApiError(
                503, "cannot check the API key now: the database is unavailable"
            ) from exc
        principal = None if key is None else Principal(key.key_id, key.name, key.scope)
        with self._lock:
            if len(self._entries) >= _MAX_CACHED:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self._ttl, principal)
        return principal

    def _get(self, digest: str) -> tuple[float, Principal | None] | None:
        with self._lock:
            hit = self._entries.get(digest)
        return hit if hit is not None and hit[0] > time.monotonic() else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def flat_routes(routes: Sequence[BaseRoute]) -> list[Any]:
    """The routes as the router tries them, with included routers expanded into their routes
    (recent FastAPI keeps `include_router` lazy: `app.routes` then holds the router, not its
    routes). Each item has `matches(scope)`, `path`, `methods` and, for API routes,
    `openapi_extra`.

    Example:
        >>> "/health" in {route.path for route in flat_routes(app.routes)}
        True
    """
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # older FastAPI copies included routes into app.routes
        return list(routes)
    return list(iter_route_contexts(routes))


def required_scope(route: Any, method: str, public_paths: Collection[str] = ()) -> str:
    """ "public", "read" or "write" for a matched route."""
    extra = getattr(route, "openapi_extra", None) or {}
    scope = extra.get(SCOPE_KEY)
    if scope:
        return str(scope)
    if getattr(route, "path", None) in public_paths:
        return "public"
    return "read" if method in ("GET", "HEAD") else "write"


def check(principal: Principal | None, scope: str) -> Principal:
    """Raise 401/403 unless `principal` may act in `scope`."""
    if principal is None:
        raise ApiError(401, "a valid API key is required", headers=_CHALLENGE)
    if scope == "write" and not principal.can_write:
        raise ApiError(403, f"API key {principal.name!r} is read-only")
    return principal


def docs_paths(app: FastAPI) -> frozenset[str]:
    """The paths of the API description FastAPI adds itself (OpenAPI document, docs pages)."""
    paths = (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    return frozenset(p for p in paths if p)


class AuthMiddleware:
    """Authenticate before the body is read or validated, so that an anonymous caller learns
    nothing but 401 (not even whether its body was valid). Routes are matched here with the
    router's own matching: `routes` is the router's live list, so routes added after the
    middleware are covered too."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        keys: KeyCache,
        public_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self.routes = routes
        self.keys = keys
        self.public_paths = frozenset(public_paths)

    def scope_for(self, scope: Scope) -> str:
        """The scope a request needs: the first fully matching route's; else "public" when the
        path is a public route's (`HEAD /health`: the router answers 405, which tells nothing);
        else "read" (an unknown path, or another method on a protected path)."""
        method = scope.get("method", "GET")
        partial = None
        for route in flat_routes(self.routes):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return required_scope(route, method, self.public_paths)
            if match is Match.PARTIAL and partial is None:
                partial = route
        if partial is not None and required_scope(partial, "GET", self.public_paths) == "public":
            return "public"
        return "read"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        needed = self.scope_for(scope)
        if needed == "public":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            principal = check(await self._principal(key_from_headers(headers)), needed)
        except ApiError as exc:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": exc.message})
                return
            response = error_response(exc.status, exc.message, code=exc.code, headers=exc.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _principal(self, secret: str | None) -> Principal | None:
        if secret is None:
            return None
        found, principal = self.keys.cached(secret)
        if found:
            return principal
        return await asyncio.to_thread(self.keys.lookup, secret)


def authenticate(keys: KeyCache | None, secret: str | None, scope: str = "write") -> Principal:
    """For receivers outside HTTP routing (gRPC): the same checks from a key already
    extracted; `keys` None means auth is off. Raises `ApiError` (401/403, 503 when the
    database cannot be asked)."""
    if keys is None:
        return ANONYMOUS
    if secret is None:
        raise ApiError(401, "a valid API key is required")
    return check(keys.lookup(secret), scope)


def document_security(app: FastAPI, public_paths: Collection[str]) -> None:
    """Declare the API-key schemes in the app's OpenAPI document, so that its docs page can
    send a key ("Authorize"); public operations are marked as needing none."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearerKey"] = {"type": "http", "scheme": "bearer", "description": "API key"}
        schemes["headerKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        schema["security"] = [{"bearerKey": []}, {"headerKey": []}]
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if not isinstance(operation, dict):
                    continue
                if operation.get(SCOPE_KEY) == "public" or path in public_paths:
                    operation["security"] = []
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = [
    "SCOPE_KEY",
    "AuthMiddleware",
    "KeyCache",
    "authenticate",
    "check",
    "docs_paths",
    "document_security",
    "flat_routes",
    "key_from_headers",
    "required_scope",
]
