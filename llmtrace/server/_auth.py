"""API-key authentication: every route needs a key when auth is on, except health endpoints.

A route's scope comes from its `openapi_extra["x-llmtrace-scope"]` ("public", "read" or
"write"); without one, GET/HEAD routes need "read" and every other method "write". A read-write
key may do everything; a read-only key gets 403 on writes. Keys travel as
`Authorization: Bearer <key>` or `X-API-Key: <key>` (what OTLP exporters can send through
`OTEL_EXPORTER_OTLP_HEADERS`). Lookups are cached for `auth_cache_seconds`, so a revoked key
stops working within that delay on every replica.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from llmtrace.server._deps import ANONYMOUS, Principal
from llmtrace.server._errors import ApiError, error_response
from llmtrace.store import SqlStore

SCOPE_KEY = "x-llmtrace-scope"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="llmtrace"'}


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries, or None."""
    value = headers.get("authorization")
    if value:
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    value = headers.get("x-api-key")
    return value.strip() if value and value.strip() else None


class KeyCache:
    """Secret -> Principal (or None for an unknown key), kept for `ttl` seconds."""

    def __init__(self, store: SqlStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def lookup(self, secret: str) -> Principal | None:
        """The key's principal, from the cache or the database (blocking)."""
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(secret)
            if hit is not None and hit[0] > now:
                return hit[1]
        key = self._store.authenticate_api_key(secret)
        principal = None if key is None else Principal(key.key_id, key.name, key.scope)
        with self._lock:
            if len(self._entries) > 10_000:  # bounded: a flood of bad keys cannot grow it
                self._entries.clear()
            self._entries[secret] = (now + self._ttl, principal)
        return principal


def required_scope(route: object, method: str) -> str:
    """ "public", "read" or "write" for a matched route."""
    extra = getattr(route, "openapi_extra", None) or {}
    scope = extra.get(SCOPE_KEY)
    if scope:
        return str(scope)
    return "read" if method in ("GET", "HEAD") else "write"


def check(principal: Principal | None, scope: str) -> Principal:
    """Raise 401/403 unless `principal` may act in `scope`."""
    if principal is None:
        raise ApiError(401, "a valid API key is required", headers=_CHALLENGE)
    if scope == "write" and not principal.can_write:
        raise ApiError(403, f"API key {principal.name!r} is read-only")
    return principal


class AuthMiddleware:
    """Authenticate before the body is read or validated, so that an anonymous caller learns
    nothing but 401 (not even whether its body was valid). Routes are matched here with the
    router's own matching; unmatched paths fall through to the router's 404."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], keys: KeyCache) -> None:
        self.app = app
        self.routes = routes
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                needed = required_scope(route, scope["method"])
                break
            if match is Match.PARTIAL and needed is None:  # path matches, method does not
                needed = "read"
        if needed is None or needed == "public":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        secret = key_from_headers(headers)
        try:
            if secret is None:
                raise ApiError(401, "a valid API key is required", headers=_CHALLENGE)
            principal = check(await asyncio.to_thread(self.keys.lookup, secret), needed)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, code=exc.code, headers=exc.headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def authenticate(keys: KeyCache | None, secret: str | None, scope: str = "write") -> Principal:
    """For receivers outside HTTP routing (gRPC): the same checks from a key already
    extracted; `keys` None means auth is off. Raises `ApiError` (401/403)."""
    if keys is None:
        return ANONYMOUS
    if secret is None:
        raise ApiError(401, "a valid API key is required")
    return check(keys.lookup(secret), scope)


__all__ = ["AuthMiddleware", "KeyCache", "authenticate", "check", "key_from_headers"]
