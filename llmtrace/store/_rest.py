"""`RestStore`: the `Store` interface as an HTTP client of an llmtrace server.

The HTTP layer lives here (`RestClient`): one `httpx.Client` with keep-alive, the API key, retries
of idempotent requests on connection errors and 502/503/504, and the translation of the server's
stable error shape back into the library's exceptions, so code written against `SqlStore`
handles a remote store's errors unchanged. The methods are in mixins by area.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmtrace.exceptions import (
    AlreadyExistsError,
    ApprovalRequiredError,
    FilterSyntaxError,
    InvalidParameterError,
    InvalidQueryError,
    InvalidStateError,
    LlmtraceError,
    NotFoundError,
    StoreError,
)

if TYPE_CHECKING:  # imported when a client is made: `import llmtrace` stays 35 ms lighter
    import httpx

API_PREFIX = "/api/v1"
API_KEY_ENV = "LLMTRACE_API_KEY"
_RETRY_STATUSES = frozenset({502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class AuthenticationError(StoreError):
    """The server refused the API key (missing, unknown, revoked, or read-only for a write)."""


def error_from_response(response: httpx.Response) -> LlmtraceError:
    """The library exception matching an error response of the server."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details") or {}
    except Exception:
        code, message, details = "", response.text[:500] or response.reason_phrase, {}
    status = response.status_code
    if code == "FILTER_SYNTAX" and {"filter", "position", "reason"} <= details.keys():
        return FilterSyntaxError(
            str(details["reason"]), filter=str(details["filter"]), position=int(details["position"])
        )
    if status == 404 or code == "NOT_FOUND":
        return NotFoundError(message)
    if code == "APPROVAL_REQUIRED":
        return ApprovalRequiredError(message)
    if code == "INVALID_STATE":
        return InvalidStateError(message)
    if status == 409 or code == "ALREADY_EXISTS":
        return AlreadyExistsError(message)
    if status in (401, 403):
        return AuthenticationError(f"{status} {code}: {message}")
    if code == "INVALID_QUERY":
        return InvalidQueryError(message)
    if status in (400, 413, 415, 422):
        return InvalidParameterError(message)
    return StoreError(f"server error {status} {code}: {message}")


class RestClient:
    """HTTP plumbing shared by the `RestStore` mixins.

    `url` is the server's base URL (`http://host:port`); `api_key` defaults to
    `$LLMTRACE_API_KEY`. `transport` lets tests plug an in-process ASGI app or a fake.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._retries = retries
        import httpx

        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send a request to `/api/v1{path}` (or `path` if absolute with a leading "//");
        raise the matching `LlmtraceError` on an error status. Idempotent methods (or
        `retry=True`) are retried on connection failures and 502/503/504 with backoff."""
        import httpx

        url = path[1:] if path.startswith("//") else API_PREFIX + path
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        may_retry = method in _IDEMPOTENT if retry is None else retry
        attempts = self._retries + 1 if may_retry else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    method, url, params=clean, json=json, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    time.sleep(min(0.1 * 2**attempt, 2.0))
                    continue
                raise StoreError(f"llmtrace server {self.url} unreachable: {exc}") from exc
            if response.status_code in _RETRY_STATUSES and attempt + 1 < attempts:
                time.sleep(_retry_after(response, attempt))
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            if response.status_code >= 300:
                # The API never redirects: a 3xx means the URL is not an llmtrace server's
                # (a proxy, a login page); following it could resend writes elsewhere.
                location = response.headers.get("location", "?")
                raise StoreError(
                    f"{self.url} answered {response.status_code} (redirect to {location}) for "
                    f"{method} {url}: is it an llmtrace server URL?"
                )
            return response
        raise AssertionError("unreachable")

    def get_json(self, path: str, **params: Any) -> Any:
        """GET and decode JSON."""
        return self.request("GET", path, params=params).json()


def _retry_after(response: httpx.Response, attempt: int) -> float:
    header = str(response.headers.get("Retry-After", ""))
    try:
        return min(float(header), 5.0)
    except ValueError:
        return float(min(0.1 * 2**attempt, 2.0))


__all__ = ["API_KEY_ENV", "AuthenticationError", "RestClient", "error_from_response"]
