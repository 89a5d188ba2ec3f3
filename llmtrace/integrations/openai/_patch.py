"""Class-level patches of the OpenAI SDK's resource methods, and their undoing.

Patching the resource classes (not client instances) covers every client, including clients
made before `instrument()`, Azure/Bedrock clients (same resource classes), the module-level
client and the SDK's helpers built on `create` (`chat.completions.stream()`,
`responses.stream()`). `with_raw_response` / `with_streaming_response` objects bind the method
when first used: bound while instrumented, they are traced; bound before, they are not. A
wrapper bound while instrumented calls straight through once `uninstrument()` ran.

The SDK's retry sleep is patched too (class level, so no client is modified): it tells the
call being traced how many attempts it took.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai

from llmtrace import semconv as sc
from llmtrace.integrations.openai import _extract as ex
from llmtrace.integrations.openai._call import Call, begin
from llmtrace.integrations.openai._stream import observe_async_stream, observe_stream

logger = logging.getLogger("llmtrace")

_CHAT = "openai.resources.chat.completions"  # a module in older SDKs, a package in newer ones
_BETA_CHAT = "openai.resources.beta.chat.completions"  # parse() before it left beta
# (module, class, method, endpoint kind); targets missing from the installed SDK are skipped,
# and a class reached through two paths is patched once.
TARGETS: tuple[tuple[str, str, str, str], ...] = (
    (_CHAT, "Completions", "create", ex.CHAT),
    (_CHAT, "Completions", "parse", ex.CHAT),
    (_CHAT, "AsyncCompletions", "create", ex.CHAT),
    (_CHAT, "AsyncCompletions", "parse", ex.CHAT),
    (_BETA_CHAT, "Completions", "parse", ex.CHAT),
    (_BETA_CHAT, "AsyncCompletions", "parse", ex.CHAT),
    ("openai.resources.completions", "Completions", "create", ex.COMPLETION),
    ("openai.resources.completions", "AsyncCompletions", "create", ex.COMPLETION),
    ("openai.resources.embeddings", "Embeddings", "create", ex.EMBEDDING),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create", ex.EMBEDDING),
    ("openai.resources.responses.responses", "Responses", "create", ex.RESPONSES),
    ("openai.resources.responses.responses", "Responses", "parse", ex.RESPONSES),
    ("openai.resources.responses.responses", "AsyncResponses", "create", ex.RESPONSES),
    ("openai.resources.responses.responses", "AsyncResponses", "parse", ex.RESPONSES),
    ("openai.resources.beta.responses.responses", "Responses", "create", ex.RESPONSES),
    ("openai.resources.beta.responses.responses", "AsyncResponses", "create", ex.RESPONSES),
)
# The method each retry goes through: `_sleep_for_retry` in recent SDKs, `_retry_request`
# (which also resends) in older ones; the first one a class has is patched.
RETRY_TARGETS = (
    ("openai._base_client", "SyncAPIClient", ("_sleep_for_retry", "_retry_request")),
    ("openai._base_client", "AsyncAPIClient", ("_sleep_for_retry", "_retry_request")),
)
_RAW_HEADER = "X-Stainless-Raw-Response"
# Event on a span whose call was repeated without the stream_options llmtrace had added.
STREAM_OPTIONS_REJECTED = "stream_options_rejected"
_ORIGINAL = "__llmtrace_original__"


@dataclass
class Options:
    """`instrument("openai", ...)` options."""

    stream_usage: bool = True


class _State:
    def __init__(self) -> None:
        self.active = False
        self.options = Options()
        self.patched: list[tuple[type, str, Any]] = []  # (class, name, original __dict__ entry)
        # Servers (host, port) that rejected the stream_options llmtrace added: not added for
        # them again until uninstrument().
        self.no_inject: set[tuple[str | None, int | None]] = set()


state = _State()
_current: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "llmtrace_openai_call", default=None
)


# --- one call ----------------------------------------------------------------------------------


def _wants_usage_injection(call: Call, kwargs: dict[str, Any]) -> bool:
    if not state.options.stream_usage or call.kind not in (ex.CHAT, ex.COMPLETION):
        return False
    if kwargs.get("stream") is not True or call.server in state.no_inject:
        return False
    if "stream_options" in kwargs and ex.is_given(kwargs["stream_options"]):
        return False
    extra_body = kwargs.get("extra_body")
    if isinstance(extra_body, dict) and "stream_options" in extra_body:
        return False
    headers = kwargs.get("extra_headers")
    return not (isinstance(headers, dict) and _RAW_HEADER in headers)


def _prepare(call: Call, kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        if _wants_usage_injection(call, kwargs):
            call.injected = True
            return {**kwargs, "stream_options": {"include_usage": True}}
    except Exception:
        logger.debug("llmtrace could not prepare an OpenAI request", exc_info=True)
    return kwargs


def _rejected_injection(call: Call, exc: BaseException) -> bool:
    """The server refused the stream_options llmtrace added (some proxies and old servers do):
    the call is then repeated exactly as the user made it."""
    try:
        if not call.injected or not isinstance(exc, openai.BadRequestError):
            return False
        if "stream_options" not in str(exc):
            return False
        call.injected = False
        state.no_inject.add(call.server)
        call.handle.live.add_event(STREAM_OPTIONS_REJECTED, {sc.HTTP_RESPONSE_STATUS_CODE: 400})
        return True
    except Exception:
        logger.debug("llmtrace could not handle a refused stream_options", exc_info=True)
        return False


def _finish(call: Call, result: Any) -> None:
    """Record a returned result; streams are watched until they end. Never raises."""
    try:
        if isinstance(result, openai.Stream):
            observe_stream(result, call, hide=call.injected)
        elif isinstance(result, openai.AsyncStream):
            observe_async_stream(result, call, hide=call.injected)
        elif hasattr(result, "http_response") and hasattr(result, "retries_taken"):
            _finish_raw(call, result)
        elif call.kind == ex.RESPONSES:
            # A failed response sets the span's status, which must happen before it ends.
            call.complete(ex.summarize(call.kind, result))
        else:
            kind = call.kind
            call.complete(
                lambda: ex.summarize(kind, result),
                has_usage=getattr(result, "usage", None) is not None,
            )
    except Exception:
        logger.debug("llmtrace could not record an OpenAI result", exc_info=True)
        call.complete(None)


def _finish_raw(call: Call, raw: Any) -> None:
    """`with_raw_response` / `with_streaming_response`: the body is read only when the SDK
    already read it (non-streamed raw responses); a streamed body stays the user's."""
    retries = raw.retries_taken
    if isinstance(retries, int):
        call.retries = max(call.retries, retries)
    http = raw.http_response
    attrs = {sc.HTTP_RESPONSE_STATUS_CODE: http.status_code}
    summary = None
    if not call.streaming and http.request.headers.get(_RAW_HEADER) == "true":
        summary = ex.summarize(call.kind, http.json())
    call.complete(summary, attributes=attrs)


def _sync_wrapper(original: Callable[..., Any], endpoint: ex.Endpoint) -> Callable[..., Any]:
    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not state.active or _current.get() is not None:
            # Off, or inside a traced call (an SDK method delegating to another): one span.
            return original(self, *args, **kwargs)
        call = begin(endpoint, getattr(self, "_client", None), kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        token = _current.set(call)
        try:
            try:
                result = original(self, *args, **_prepare(call, kwargs))
            except Exception as exc:
                if not _rejected_injection(call, exc):
                    raise
                result = original(self, *args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _current.reset(token)
        _finish(call, result)
        return result

    setattr(traced, _ORIGINAL, original)
    return traced


def _async_wrapper(original: Callable[..., Any], endpoint: ex.Endpoint) -> Callable[..., Any]:
    @functools.wraps(original)
    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not state.active or _current.get() is not None:
            # Off, or inside a traced call (an SDK method delegating to another): one span.
            return await original(self, *args, **kwargs)
        call = begin(endpoint, getattr(self, "_client", None), kwargs)
        if call is None:
            return await original(self, *args, **kwargs)
        token = _current.set(call)
        try:
            try:
                result = await original(self, *args, **_prepare(call, kwargs))
            except Exception as exc:
                if not _rejected_injection(call, exc):
                    raise
                result = await original(self, *args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _current.reset(token)
        _finish(call, result)
        return result

    setattr(traced, _ORIGINAL, original)
    return traced


# --- retries -----------------------------------------------------------------------------------


def _note_retry(kwargs: dict[str, Any]) -> None:
    call = _current.get()
    if call is None:
        return
    try:
        response = kwargs.get("response")
        status = getattr(response, "status_code", None)
        call.on_retry(status if isinstance(status, int) else None)
    except Exception:
        logger.debug("llmtrace could not count an OpenAI retry", exc_info=True)


def _retry_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def async_sleep(self: Any, *args: Any, **kwargs: Any) -> Any:
            _note_retry(kwargs)
            return await original(self, *args, **kwargs)

        setattr(async_sleep, _ORIGINAL, original)
        return async_sleep

    @functools.wraps(original)
    def sleep(self: Any, *args: Any, **kwargs: Any) -> Any:
        _note_retry(kwargs)
        return original(self, *args, **kwargs)

    setattr(sleep, _ORIGINAL, original)
    return sleep


# --- patching ----------------------------------------------------------------------------------


def _class(module: str, name: str) -> type | None:
    try:
        cls = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return cls if isinstance(cls, type) else None


def _patch(cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = cls.__dict__.get(name)
    if original is None or not callable(original) or hasattr(original, _ORIGINAL):
        return
    setattr(cls, name, make(original))
    state.patched.append((cls, name, original))


def install(options: Options) -> None:
    """Patch every target present in the installed SDK (once); later calls update options."""
    state.options = options
    if not state.patched:
        for module, cls_name, method, kind in TARGETS:
            cls = _class(module, cls_name)
            if cls is None:
                continue
            endpoint = ex.ENDPOINTS[kind]
            wrap = _async_wrapper if cls_name.startswith("Async") else _sync_wrapper
            _patch(cls, method, functools.partial(wrap, endpoint=endpoint))
        for module, cls_name, candidates in RETRY_TARGETS:
            client_cls = _class(module, cls_name)
            if client_cls is None:
                continue
            found = next((m for m in candidates if m in client_cls.__dict__), None)
            if found is not None:
                _patch(client_cls, found, _retry_wrapper)
    state.active = True


def uninstall() -> None:
    """Put every original back, exactly (the same function objects)."""
    state.active = False
    state.no_inject.clear()
    while state.patched:
        cls, name, original = state.patched.pop()
        setattr(cls, name, original)


__all__ = [
    "RETRY_TARGETS",
    "STREAM_OPTIONS_REJECTED",
    "TARGETS",
    "Options",
    "install",
    "state",
    "uninstall",
]
