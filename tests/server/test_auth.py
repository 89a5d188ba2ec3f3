"""API-key auth of the server, proved route by route on a live server.

The route list is computed when the test runs, from the app itself (every route and method the
router serves, included routers expanded), and checked against the OpenAPI document, so routes
added later are covered without touching this file. For each of them: no key, an unknown key
and a revoked key get 401 in the stable error shape; a read-only key gets 403 on every write
route and passes every read route; a read-write key passes everywhere; public routes need no
key.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from llmtrace.server._auth import SCOPE_KEY, docs_paths, flat_routes, required_scope
from tests.server.conftest import LiveServer

PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("GET", "/version")}
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
_DUMMY = {
    "int": "1",
    "float": "1.5",
    "uuid": str(uuid.UUID(int=1)),
    "path": "dummy/file.txt",
}


@dataclass(frozen=True)
class Call:
    """One method of one route, with its path parameters filled with dummy values."""

    method: str
    template: str
    path: str
    scope: str  # what auth requires: "public", "read" or "write"

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _fill(template: str) -> str:
    return _PARAM.sub(lambda m: _DUMMY.get(m.group(2) or "", f"dummy-{m.group(1)}"), template)


def calls_of(live: LiveServer) -> list[Call]:
    """Every (method, route) the app serves, as the router sees it right now."""
    public = docs_paths(live.app)
    calls = set()
    for route in flat_routes(live.app.routes):
        path = getattr(route, "path", None)
        # As the OpenAPI document writes it: `{key}` for `{key:path}`.
        template = getattr(route, "path_format", None) or path
        for method in getattr(route, "methods", None) or ():
            assert path is not None and template is not None
            scope = required_scope(route, method, public)
            calls.add(Call(method, template, _fill(path), scope))
    return sorted(calls, key=lambda c: (c.template, c.method))


def _request(live: LiveServer, call: Call, headers: dict[str, str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {}
    if call.method in ("POST", "PUT", "PATCH", "DELETE"):
        body["json"] = {}
    return httpx.request(call.method, live.url + call.path, headers=headers, timeout=30, **body)


def _assert_auth_error(response: httpx.Response, status: int, call: Call) -> None:
    assert response.status_code == status, (str(call), response.status_code, response.text)
    error = response.json()["error"]
    code = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}[status]
    assert error["code"] == code and error["status"] == status, (str(call), error)
    assert error["message"], str(call)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer"), str(call)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def auth_server(live_server: Callable[..., LiveServer], migrated_db_url: str) -> LiveServer:
    return live_server(migrated_db_url, auth=True)


@pytest.fixture
def sqlite_auth_server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(auth=True, auth_cache_seconds=0)


# --- route by route ----------------------------------------------------------------------------


def test_route_list_covers_the_openapi_document(auth_server: LiveServer) -> None:
    calls = {(c.method, c.template) for c in calls_of(auth_server)}
    document = httpx.get(auth_server.url + "/openapi.json", timeout=10).json()

    for path, operations in document["paths"].items():
        for method in operations:
            if method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
                assert (method.upper(), path) in calls, f"{method.upper()} {path}"
    assert calls >= PUBLIC
    assert ("POST", "/v1/traces") in calls


def prove_every_route_is_protected(live: LiveServer) -> list[Call]:
    """Run the route-by-route checks on `live` (auth on); returns the calls checked."""
    store = live.store
    _, reader = store.create_api_key("reader", scope="read")
    _, writer = store.create_api_key("writer")
    revoked_key, revoked = store.create_api_key("revoked")
    store.revoke_api_key(revoked_key.key_id)
    unknown = "llmt_0123456789ab_" + "x" * 43

    calls = calls_of(live)
    protected = [c for c in calls if c.scope != "public"]
    assert {(c.method, c.template) for c in calls if c.scope == "public"} >= PUBLIC
    assert any(c.scope == "write" for c in protected)

    for call in calls:
        if call.scope == "public":
            response = _request(live, call)
            assert response.status_code not in (401, 403), (str(call), response.text)
            continue
        _assert_auth_error(_request(live, call), 401, call)
        for bad in (unknown, revoked, "not-a-key"):
            _assert_auth_error(_request(live, call, _bearer(bad)), 401, call)

        as_reader = _request(live, call, _bearer(reader))
        if call.scope == "write":
            _assert_auth_error(as_reader, 403, call)
        else:
            assert as_reader.status_code not in (401, 403), (str(call), as_reader.text)

    # Writes last: they may change what the reads above found.
    for call in protected:
        as_writer = _request(live, call, _bearer(writer))
        assert as_writer.status_code not in (401, 403), (str(call), as_writer.text)
    return calls


def test_every_route_is_protected(auth_server: LiveServer) -> None:
    prove_every_route_is_protected(auth_server)


def test_routes_added_while_running_are_protected(
    live_server: Callable[..., LiveServer],
) -> None:
    live = live_server(auth=True)
    seen: list[str] = []

    async def endpoint(item_id: str = "") -> dict[str, str]:
        seen.append(item_id)
        return {"ok": item_id}

    app = live.app
    app.add_api_route("/test-only/items/{item_id}", endpoint, methods=["GET"])
    app.add_api_route("/test-only/items/{item_id}", endpoint, methods=["PUT"])
    app.add_api_route("/test-only/items/{item_id}", endpoint, methods=["DELETE"])
    app.add_api_route("/test-only/items", endpoint, methods=["POST"])
    app.add_api_route(
        "/test-only/search", endpoint, methods=["POST"], openapi_extra={SCOPE_KEY: "read"}
    )
    app.add_api_route(
        "/test-only/export", endpoint, methods=["GET"], openapi_extra={SCOPE_KEY: "write"}
    )
    app.add_api_route(
        "/test-only/ping", endpoint, methods=["GET"], openapi_extra={SCOPE_KEY: "public"}
    )

    calls = {str(c): c.scope for c in prove_every_route_is_protected(live)}

    assert calls["GET /test-only/items/{item_id}"] == "read"
    assert calls["PUT /test-only/items/{item_id}"] == "write"
    assert calls["DELETE /test-only/items/{item_id}"] == "write"
    assert calls["POST /test-only/items"] == "write"
    assert calls["POST /test-only/search"] == "read"
    assert calls["GET /test-only/export"] == "write"
    assert calls["GET /test-only/ping"] == "public"
    # The endpoints ran only for callers let in: the read-write key on the six protected
    # calls, the read-only key on the two reads, an anonymous caller on the public one.
    assert len(seen) == 6 + 2 + 1


# --- keys and headers --------------------------------------------------------------------------


def _status(live: LiveServer, headers: dict[str, str] | None) -> int:
    """Status of GET on an unknown path: it needs "read" too, so 404 once authenticated."""
    return httpx.get(live.url + "/api/v1/no-such-thing", headers=headers, timeout=10).status_code


def test_both_headers_carry_the_key(sqlite_auth_server: LiveServer) -> None:
    live = sqlite_auth_server
    _, secret = live.store.create_api_key("k")

    assert _status(live, {"Authorization": f"Bearer {secret}"}) == 404
    assert _status(live, {"authorization": f"bearer  {secret}"}) == 404
    assert _status(live, {"X-API-Key": secret}) == 404
    # A bad Authorization header does not hide a good X-API-Key, and the other way round.
    both = {"Authorization": "Basic Zm9vOmJhcg==", "X-API-Key": secret}
    assert _status(live, both) == 404
    assert _status(live, {"Authorization": "Basic Zm9vOmJhcg=="}) == 401
    assert _status(live, {"Authorization": "Bearer"}) == 401
    assert _status(live, {"X-API-Key": ""}) == 401
    assert _status(live, {"Authorization": secret}) == 401  # scheme missing


def test_unknown_paths_need_a_key_too(sqlite_auth_server: LiveServer) -> None:
    live = sqlite_auth_server
    _, secret = live.store.create_api_key("k", scope="read")

    anonymous = httpx.get(live.url + "/nowhere", timeout=10)
    assert anonymous.status_code == 401
    found = httpx.get(live.url + "/nowhere", headers=_bearer(secret), timeout=10)
    assert found.status_code == 404
    assert found.json()["error"]["code"] == "NOT_FOUND"


def test_other_methods_on_a_public_path_get_405_not_401(sqlite_auth_server: LiveServer) -> None:
    live = sqlite_auth_server
    for method in ("HEAD", "POST", "DELETE"):
        response = httpx.request(method, live.url + "/health", timeout=10)
        assert response.status_code == 405, method
    # On a protected path, a key comes first.
    assert httpx.request("PATCH", live.url + "/v1/traces", timeout=10).status_code == 401


def test_authentication_comes_before_the_body(sqlite_auth_server: LiveServer) -> None:
    live = sqlite_auth_server
    response = httpx.post(
        live.url + "/v1/traces",
        content=b"\x00 not protobuf",
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 401


@pytest.fixture
def cached_server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(auth=True, auth_cache_seconds=1.5)


def test_revocation_takes_effect_after_the_cache_delay(cached_server: LiveServer) -> None:
    live = cached_server
    key, secret = live.store.create_api_key("k")
    assert _status(live, _bearer(secret)) == 404
    looked_up = time.monotonic()

    live.store.revoke_api_key(key.key_id)
    status = _status(live, _bearer(secret))
    if time.monotonic() - looked_up < 1.0:  # still cached: the server has not asked again
        assert status == 404

    time.sleep(max(0.0, looked_up + 1.6 - time.monotonic()))
    assert _status(live, _bearer(secret)) == 401


def test_without_cache_revocation_is_immediate(sqlite_auth_server: LiveServer) -> None:
    live = sqlite_auth_server
    key, secret = live.store.create_api_key("k")
    assert _status(live, _bearer(secret)) == 404

    live.store.revoke_api_key(key.key_id)

    assert _status(live, _bearer(secret)) == 401


def test_a_key_created_while_running_works_at_once(cached_server: LiveServer) -> None:
    live = cached_server
    assert _status(live, None) == 401
    _, secret = live.store.create_api_key("late")

    assert _status(live, _bearer(secret)) == 404


def test_use_is_recorded(sqlite_auth_server: LiveServer) -> None:
    live = sqlite_auth_server
    key, secret = live.store.create_api_key("k")
    assert _status(live, _bearer(secret)) == 404

    (listed,) = live.store.list_api_keys()
    assert listed.key_id == key.key_id and listed.last_used_at is not None


def test_database_down_during_lookup_is_503_not_401(sqlite_auth_server: LiveServer) -> None:
    live = sqlite_auth_server
    _, secret = live.store.create_api_key("k")
    with live.store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE api_keys"))

    response = httpx.get(live.url + "/api/v1/x", headers=_bearer(secret), timeout=10)

    assert response.status_code == 503
    assert response.json()["error"]["status"] == 503
    assert httpx.get(live.url + "/health", timeout=10).status_code == 200


# --- API description ---------------------------------------------------------------------------


def test_api_description_is_public_and_declares_the_key_schemes(
    sqlite_auth_server: LiveServer,
) -> None:
    live = sqlite_auth_server
    for path in ("/docs", "/redoc"):
        assert httpx.get(live.url + path, timeout=10).status_code == 200

    document = httpx.get(live.url + "/openapi.json", timeout=10).json()

    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerKey"] == {"type": "http", "scheme": "bearer", "description": "API key"}
    assert schemes["headerKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert document["security"] == [{"bearerKey": []}, {"headerKey": []}]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert document["paths"]["/health"]["get"][SCOPE_KEY] == "public"
    assert "security" not in document["paths"]["/v1/traces"]["post"]


def test_auth_off_needs_no_key(sqlite_server: LiveServer) -> None:
    live = sqlite_server
    assert live.app.state.keys is None
    response = httpx.post(
        live.url + "/v1/traces", json={}, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200, response.text
    document = httpx.get(live.url + "/openapi.json", timeout=10).json()
    assert "securitySchemes" not in document.get("components", {})
    assert "security" not in document
