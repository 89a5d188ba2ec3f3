"""Request body size limit as a plain ASGI middleware (413 before the body is buffered)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmtrace.server._errors import ApiError, error_response


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes`: at once when Content-Length says so, else as soon as the
    streamed body passes the limit (a chunked upload cannot slip through)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    response = error_response(400, "invalid Content-Length header")
                    await response(scope, receive, send)
                    return
                if declared > limit:
                    response = error_response(
                        413, f"request body of {declared} bytes exceeds the limit of {limit}"
                    )
                    await response(scope, receive, send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, f"request body exceeds the limit of {limit} bytes")
            return message

        await self.app(scope, limited, send)


__all__ = ["BodyLimitMiddleware"]
