"""Errors of the serving package, and the JSON shape every error answer has."""

from __future__ import annotations

from typing import Any

from llmtrace.exceptions import LlmtraceError

_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL_ERROR",
    504: "TIMEOUT",
}


class ServingError(LlmtraceError):
    """Serving could not start or a Docker image could not be built; the message says why
    and what to do."""


class RequestError(Exception):
    """A request the server refuses: answered with `status` and the stable error shape."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "ERROR")


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """`{"error": {"code": ..., "message": ..., "status": ...}}`, as the tracking server says."""
    return {
        "error": {"code": code or _CODES.get(status, "ERROR"), "message": message, "status": status}
    }


__all__ = ["RequestError", "ServingError", "error_body"]
