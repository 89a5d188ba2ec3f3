"""The scoring server: an ASGI app with `/invocations`, `/ping`, `/health` and `/version`.

A plain Starlette app with hand-written JSON handling: the request path is one body read on
the event loop, then one hop to a worker thread that parses, predicts (under a span) and
encodes. No validation layer sits between the wire and the model; the model's signature does
that inside `predict`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmtrace._version import __version__
from llmtrace.exceptions import InvalidParameterError
from llmtrace.semconv import SpanType
from llmtrace.serving._codec import (
    dumps,
    dumps_predictions,
    parse_csv,
    parse_json_request,
    plain,
)
from llmtrace.serving._errors import RequestError, ServingError, error_body
from llmtrace.serving._model import ModelInfo, ServableModel
from llmtrace.tracing import span, update_current_trace

if TYPE_CHECKING:
    from starlette.applications import Starlette

logger = logging.getLogger("llmtrace.serving")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
# Per-invocation limit, as MLflow's scoring server has (it answers 504 too).
DEFAULT_TIMEOUT_S = 60.0
TRACE_ID_HEADER = "x-llmtrace-trace-id"
SPAN_NAME = "invocations"
_JSON = "application/json"
_MAX_MESSAGE = 2000

Outcome = tuple[int, bytes, "str | None"]


class Scorer:
    """Parse a body, call the model, encode the answer: the part of a request that runs on a
    worker thread. Never raises; every failure becomes an error answer.
    """

    def __init__(self, model: ServableModel, info: ModelInfo, *, trace: bool) -> None:
        self.model = model
        self.info = info
        self.trace = trace
        self._metadata = info.trace_metadata()
        self._attributes = {**self._metadata, "llmtrace.serving": True}

    def __call__(self, kind: str, body: bytes) -> Outcome:
        trace_id: str | None = None
        try:
            if kind == "csv":
                data: Any = parse_csv(body)
                params: dict[str, Any] | None = None
                preview: Any = data
            else:
                data, params, preview = parse_json_request(body)
            if not self.trace:
                return 200, _encode(self._predict(data, params)), None
            with span(
                SPAN_NAME, span_type=SpanType.CHAIN, inputs=preview, attributes=self._attributes
            ) as live:
                trace_id = live.trace_id
                if trace_id is not None:
                    self._describe_trace()
                # Shaped once: the trace shows what the client receives (records, lists).
                predictions = plain(self._predict(data, params))
                live.set_outputs(predictions)
                return 200, _encode(predictions), trace_id
        except RequestError as exc:
            return exc.status, _error(exc.status, exc.message, exc.code), trace_id
        except InvalidParameterError as exc:
            return 400, _error(400, _message(exc), "INVALID_INPUT"), trace_id
        except Exception as exc:
            logger.exception("the model failed on a request")
            text = f"the model failed: {type(exc).__name__}: {_message(exc)}"
            return 500, _error(500, text, "MODEL_ERROR"), trace_id

    def _predict(self, data: Any, params: Mapping[str, Any] | None) -> Any:
        # Without params the model is called with data only, so `predict(self, data)` works.
        if params is None:
            return self.model.predict(data)
        return self.model.predict(data, params)

    def _describe_trace(self) -> None:
        try:
            update_current_trace(metadata=self._metadata, tags={"llmtrace.serving": "true"})
        except Exception:  # telemetry never fails a request
            logger.debug("could not describe the serving trace", exc_info=True)


def _encode(predictions: Any) -> bytes:
    try:
        return dumps_predictions(predictions)
    except (TypeError, ValueError) as exc:
        raise RequestError(
            500, f"the model's output cannot be encoded as JSON: {exc}", "OUTPUT_NOT_SERIALIZABLE"
        ) from exc


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def _error(status: int, message: str, code: str | None = None) -> bytes:
    return dumps(error_body(status, message, code))


def media_kind(content_type: str | None) -> str:
    """ "json" or "csv" for a request's Content-Type; RequestError(415) for anything else."""
    if not content_type:
        raise RequestError(
            415, "the request has no Content-Type: send application/json or text/csv"
        )
    media = content_type.split(";", 1)[0].strip().lower()
    if media == _JSON or (media.startswith("application/") and media.endswith("+json")):
        return "json"
    if media == "text/csv":
        return "csv"
    raise RequestError(
        415, f"unsupported Content-Type {media!r}: send application/json or text/csv"
    )


def create_app(
    model: ServableModel,
    *,
    model_name: str | None = None,
    model_version: str | int | None = None,
    model_uri: str | None = None,
    trace: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    timeout: float | None = DEFAULT_TIMEOUT_S,
) -> Starlette:
    """An ASGI app serving `model` (anything with `predict(data, params=None)`).

    Name, version and URI default to the model's `registered_name`, `registered_version` and
    `model_uri`. With `trace=True` every invocation is a trace in the configured llmtrace
    store (see `llmtrace.configure`); bodies over `max_body_bytes` get 413. An invocation not
    answered within `timeout` seconds gets 504 `TIMEOUT` (None: no limit); the model call
    itself cannot be interrupted, so it finishes in the background (and is still traced).

    Example:
        >>> app = create_app(load_model("models:/support-bot/3"))
        >>> # uvicorn.run(app, host="127.0.0.1", port=5000)
    """
    try:
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.exceptions import HTTPException
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route
    except ImportError as exc:
        raise ServingError(
            f"model serving needs Starlette and uvicorn: pip install 'llmtrace[server]' ({exc})"
        ) from exc
    if not callable(getattr(model, "predict", None)):
        raise ServingError(f"cannot serve {type(model).__name__}: it has no predict() method")
    if max_body_bytes <= 0:
        raise ServingError(f"max_body_bytes must be positive, not {max_body_bytes}")
    if timeout is not None and not timeout > 0:
        raise ServingError(f"timeout must be positive (or None for no limit), not {timeout}")
    info = ModelInfo.of(model, name=model_name, version=model_version, uri=model_uri)
    scorer = Scorer(model, info, trace=trace)
    health = dumps({"status": "ok", "model": info.as_dict(), "tracing": trace})
    version = dumps({"llmtrace": __version__, "model": info.as_dict()})

    def answer(status: int, body: bytes, trace_id: str | None = None) -> Response:
        headers = {TRACE_ID_HEADER: trace_id} if trace_id else None
        return Response(body, status_code=status, media_type=_JSON, headers=headers)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise RequestError(413, _too_large(int(declared), max_body_bytes))
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise RequestError(413, _too_large(size, max_body_bytes, at_least=True))
            chunks.append(chunk)
        return b"".join(chunks)

    async def invocations(request: Request) -> Response:
        try:
            kind = media_kind(request.headers.get("content-type"))
            body = await read_body(request)
        except RequestError as exc:
            return answer(exc.status, _error(exc.status, exc.message, exc.code))
        if timeout is None:
            return answer(*await run_in_threadpool(scorer, kind, body))
        import anyio

        try:
            with anyio.fail_after(timeout):
                # Abandoned on timeout: the thread cannot be stopped, the answer can.
                result = await anyio.to_thread.run_sync(scorer, kind, body, abandon_on_cancel=True)
        except TimeoutError:
            message = (
                f"the model did not answer within {timeout:g} s (raise the limit with "
                "timeout= / --timeout)"
            )
            return answer(504, _error(504, message, "TIMEOUT"))
        return answer(*result)

    async def ping(_: Request) -> Response:
        return Response(b"", status_code=200)

    async def health_route(_: Request) -> Response:
        return answer(200, health)

    async def version_route(_: Request) -> Response:
        return answer(200, version)

    async def http_error(_: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return answer(status, _error(status, str(detail)))

    async def unexpected(_: Request, exc: Exception) -> Response:
        logger.error("unexpected serving error", exc_info=exc)
        return answer(500, _error(500, f"internal error: {type(exc).__name__}"))

    app = Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
            Route("/health", health_route, methods=["GET"]),
            Route("/version", version_route, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: unexpected},
    )
    app.state.model = model
    app.state.model_info = info
    return app


def _too_large(size: int, limit: int, *, at_least: bool = False) -> str:
    more = "more than" if at_least else ""
    has = f"{more} {size}".strip()
    return (
        f"the request body has {has} bytes, over the limit of {limit} bytes "
        "(raise it with max_body_bytes / --max-body-mb)"
    )


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT_S",
    "TRACE_ID_HEADER",
    "Scorer",
    "create_app",
    "media_kind",
]
