"""JSON errors with one stable shape, and the mapping from llmtrace exceptions to statuses.

Every error response body is::

    {"error": {"code": "NOT_FOUND", "message": "no trace with id ...", "status": 404}}

`code` is stable and meant for programs; `message` is for people.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DataError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmtrace.exceptions import (
    AlreadyExistsError,
    ApprovalRequiredError,
    ConfigError,
    FilterSyntaxError,
    InvalidParameterError,
    InvalidQueryError,
    InvalidStateError,
    LlmtraceError,
    NotFoundError,
    StoreError,
)

logger = logging.getLogger("llmtrace.server")

_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An error a route raises to answer with `status` and the stable JSON shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "ERROR")
        self.headers = headers


def error_body(
    status: int, message: str, code: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of an error response."""
    error: dict[str, Any] = {
        "code": code or _CODES.get(status, "ERROR"),
        "message": message,
        "status": status,
    }
    if details:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    """A `JSONResponse` in the stable error shape."""
    return JSONResponse(
        error_body(status, message, code, details), status_code=status, headers=headers
    )


def status_of(exc: LlmtraceError) -> tuple[int, str]:
    """HTTP status and error code for a library exception."""
    if isinstance(exc, NotFoundError):
        return 404, "NOT_FOUND"
    if isinstance(exc, AlreadyExistsError):
        return 409, "ALREADY_EXISTS"
    if isinstance(exc, ApprovalRequiredError):
        return 409, "APPROVAL_REQUIRED"
    if isinstance(exc, InvalidStateError):
        return 409, "INVALID_STATE"
    if isinstance(exc, FilterSyntaxError):
        return 400, "FILTER_SYNTAX"
    if isinstance(exc, InvalidQueryError):
        return 400, "INVALID_QUERY"
    if isinstance(exc, (InvalidParameterError, ConfigError)):
        return 400, "INVALID_PARAMETER"
    if isinstance(exc, StoreError):
        return 503, "STORE_UNAVAILABLE"
    # Other library errors (a run in the wrong state, a bad artifact path) are the caller's.
    return 400, type(exc).__name__.removesuffix("Error").upper() or "BAD_REQUEST"


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, expected or not, answer in the stable shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, code=exc.code, headers=exc.headers)

    @app.exception_handler(LlmtraceError)
    async def _library_error(_: Request, exc: LlmtraceError) -> JSONResponse:
        status, code = status_of(exc)
        if status >= 500:
            logger.warning("store error: %s", exc)
        details = None
        if isinstance(exc, FilterSyntaxError):
            # The client rebuilds the same exception (message, filter, position) from these.
            details = {"filter": exc.filter, "position": exc.position, "reason": exc.reason}
        return error_response(status, str(exc), code=code, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
        return error_response(400, "; ".join(parts) or "invalid request", code="INVALID_ARGUMENT")

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        if isinstance(exc, DataError):  # a value the database refuses (too long, out of range)
            return error_response(400, f"the database refused a value: {exc.orig}")
        if isinstance(exc, _UNAVAILABLE):
            # Down, restarting, locked or out of connections: clients retry on 503.
            logger.warning("database unavailable: %s", exc)
            return error_response(
                503,
                f"the database is unavailable: {type(exc).__name__}",
                code="STORE_UNAVAILABLE",
                headers={"Retry-After": "1"},
            )
        logger.exception("unexpected database error")
        return error_response(500, f"internal database error: {type(exc).__name__}")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected server error")
        return error_response(500, f"internal error: {type(exc).__name__}")


__all__ = ["ApiError", "error_body", "error_response", "install_error_handlers", "status_of"]
