"""Request body size limit as a plain ASGI middleware (413 before the body is buffered).

A declared `Content-Length` over the limit is refused before anything is read. A body without
one (chunked) is counted as it streams in: once past the limit, reading stops and the answer
is 413, whatever the route would have made of the truncated body. Either way the body's rest is
never buffered, and the server (uvicorn) closes or drains the connection and keeps serving.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmtrace.server._errors import error_response


class BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes the limit."""


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` with 413 (and a malformed `Content-Length` with 400).

    Example:
        >>> app.add_middleware(BodyLimitMiddleware, max_bytes=32 * 1024 * 1024)
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        lengths = [value for name, value in scope.get("headers", ()) if name == b"content-length"]
        if lengths:
            declared = _content_length(lengths)
            if declared is None:
                await error_response(400, "invalid Content-Length header")(scope, receive, send)
                return
            if declared > limit:
                message = f"request body of {declared} bytes exceeds the limit of {limit} bytes"
                await error_response(413, message)(scope, receive, send)
                return
        seen = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # The app's answer to a body it could not read (FastAPI turns read errors into
                # 400) is replaced by the 413 below.
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            message = f"request body exceeds the limit of {limit} bytes"
            await error_response(413, message)(scope, receive, send)


def _content_length(values: list[bytes]) -> int | None:
    """The declared length, or None when missing digits, negative or contradictory."""
    if len(set(values)) != 1 or not values[0].strip().isdigit():
        return None
    return int(values[0])


__all__ = ["BodyLimitMiddleware", "BodyTooLarge"]
