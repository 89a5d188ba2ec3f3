"""Request size limits and CORS on a live server (and the limit middleware on its own, for
requests no HTTP client will send)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from llmtrace.server._limits import BodyLimitMiddleware
from tests.server.conftest import LiveServer

LIMIT = 4096
JSON = {"Content-Type": "application/json"}
ALLOWED = "https://app.example"


@pytest.fixture
def limited(live_server: Callable[..., LiveServer]) -> LiveServer:
    live = live_server(max_body_bytes=LIMIT)

    async def echo_size(body: dict[str, Any]) -> dict[str, int]:
        # A route whose body FastAPI parses itself (it turns read errors into 400).
        return {"keys": len(body)}

    live.app.add_api_route("/test-only/parsed", echo_size, methods=["POST"])
    return live


def _otlp_json(size: int) -> bytes:
    """A valid (empty) OTLP/JSON request padded with whitespace to `size` bytes."""
    body = b'{"resourceSpans": []}'
    return body + b" " * (size - len(body))


def _chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    body = _otlp_json(total)
    for i in range(0, total, size):
        yield body[i : i + size]


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]
    return error


def test_a_body_at_the_limit_is_accepted(limited: LiveServer) -> None:
    response = httpx.post(
        limited.url + "/v1/traces", content=_otlp_json(LIMIT), headers=JSON, timeout=10
    )
    assert response.status_code == 200, response.text


def test_content_length_over_the_limit_is_413(limited: LiveServer) -> None:
    response = httpx.post(
        limited.url + "/v1/traces", content=_otlp_json(LIMIT + 1), headers=JSON, timeout=10
    )

    error = _assert_error(response, 413)
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert str(LIMIT) in error["message"]


@pytest.mark.parametrize("path", ["/v1/traces", "/test-only/parsed"])
def test_chunked_body_over_the_limit_is_413_and_the_server_keeps_serving(
    limited: LiveServer, path: str
) -> None:
    with httpx.Client(base_url=limited.url, timeout=10) as client:
        response = client.post(path, content=_chunks(LIMIT * 4), headers=JSON)
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"

        _assert_error(response, 413)

        # The same client (a new connection if the server closed that one) and a new one.
        assert client.get("/health").status_code == 200
    small = httpx.post(limited.url + path, content=_chunks(100), headers=JSON, timeout=10)
    assert small.status_code == 200, small.text


def test_chunked_body_under_the_limit_is_accepted(limited: LiveServer) -> None:
    response = httpx.post(
        limited.url + "/v1/traces", content=_chunks(LIMIT), headers=JSON, timeout=10
    )
    assert response.status_code == 200, response.text


def _raw_request(live: LiveServer, head: bytes) -> bytes:
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_bad_content_length_is_400_on_the_wire(limited: LiveServer) -> None:
    answer = _raw_request(
        limited,
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: abc\r\nConnection: close\r\n\r\n{}",
    )

    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert httpx.get(limited.url + "/health", timeout=10).status_code == 200


# The middleware on its own: uvicorn refuses most malformed lengths before the app sees them,
# but another ASGI server (or a proxy) may pass them on.


def _call(headers: list[tuple[bytes, bytes]], body: bytes = b"") -> tuple[int, bytes, bool]:
    """Status, body and whether the inner app ran, for one request through the middleware."""
    ran = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal ran
        ran = True
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(BodyLimitMiddleware(app, max_bytes=10)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, payload, ran


@pytest.mark.parametrize(
    "values",
    [[b"abc"], [b"-1"], [b"1.5"], [b""], [b"5", b"6"], [b"0x10"]],
    ids=["letters", "negative", "decimal", "empty", "contradictory", "hex"],
)
def test_malformed_content_length_is_400_json(values: list[bytes]) -> None:
    status, payload, ran = _call([(b"content-length", v) for v in values])

    assert (status, ran) == (400, False)
    assert json.loads(payload)["error"] == {
        "code": "BAD_REQUEST",
        "message": "invalid Content-Length header",
        "status": 400,
    }


def test_repeated_equal_content_length_is_accepted() -> None:
    status, payload, ran = _call([(b"content-length", b"2")] * 2, b"{}")
    assert (status, payload, ran) == (200, b"ok", True)


def test_body_longer_than_declared_still_hits_the_limit() -> None:
    status, payload, _ = _call([(b"content-length", b"5")], b"x" * 11)
    assert status == 413
    assert json.loads(payload)["error"]["code"] == "PAYLOAD_TOO_LARGE"


# --- CORS ------------------------------------------------------------------------------------


def _preflight(live: LiveServer, origin: str) -> httpx.Response:
    return httpx.options(
        live.url + "/v1/traces",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
        timeout=10,
    )


def test_cors_is_off_by_default(sqlite_server: LiveServer) -> None:
    live = sqlite_server
    simple = httpx.get(live.url + "/version", headers={"Origin": ALLOWED}, timeout=10)
    assert simple.status_code == 200
    assert not [h for h in simple.headers if h.startswith("access-control-")]

    preflight = _preflight(live, ALLOWED)
    assert preflight.status_code == 405
    assert not [h for h in preflight.headers if h.startswith("access-control-")]


def test_cors_answers_the_configured_origins_only(
    live_server: Callable[..., LiveServer],
) -> None:
    live = live_server(cors_origins=(ALLOWED, "http://localhost:3000"))

    ok = _preflight(live, ALLOWED)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    assert _preflight(live, "http://localhost:3000").status_code == 200

    refused = _preflight(live, "https://evil.example")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers

    simple = httpx.get(live.url + "/version", headers={"Origin": ALLOWED}, timeout=10)
    assert simple.headers["access-control-allow-origin"] == ALLOWED
    other = httpx.get(live.url + "/version", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_with_auth_preflights_need_no_key_and_errors_are_readable(
    live_server: Callable[..., LiveServer],
) -> None:
    # Browsers send preflights without credentials, and show a script a 401 only when it
    # carries the CORS headers.
    live = live_server(auth=True, cors_origins=(ALLOWED,))

    assert _preflight(live, ALLOWED).status_code == 200
    denied = httpx.post(live.url + "/v1/traces", json={}, headers={"Origin": ALLOWED})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == ALLOWED
