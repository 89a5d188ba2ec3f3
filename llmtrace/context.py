"""Context that travels with the code: the active run, session and user, and the registered
prompts used in the current trace.

A leaf module (stdlib; opentelemetry-api only once a prompt is used). Spans started while a
value is set are stamped with it by the span processor, which is how runs (experiment tracking),
prompts (the registry) and traces meet without importing each other.

Example:
    >>> from llmtrace.context import trace_defaults
    >>> with trace_defaults(session_id="chat-42", user_id="ada"):
    ...     pass  # every span started here carries the session and user
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class TraceDefaults:
    """Values stamped onto every span started while they are active."""

    run_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None

    def is_empty(self) -> bool:
        return self.run_id is None and self.session_id is None and self.user_id is None


_DEFAULTS: ContextVar[TraceDefaults | None] = ContextVar("llmtrace_trace_defaults", default=None)


def get_trace_defaults() -> TraceDefaults | None:
    """The defaults active in this context, or None."""
    return _DEFAULTS.get()


@contextmanager
def trace_defaults(
    *, run_id: str | None = None, session_id: str | None = None, user_id: str | None = None
) -> Iterator[TraceDefaults]:
    """Stamp `run_id`, `session_id` and `user_id` onto every span started inside the block.

    Values not given keep what an enclosing block set.
    """
    current = _DEFAULTS.get() or TraceDefaults()
    changes = {
        k: v
        for k, v in (("run_id", run_id), ("session_id", session_id), ("user_id", user_id))
        if v is not None
    }
    new = replace(current, **changes)
    token = _DEFAULTS.set(None if new.is_empty() else new)
    try:
        yield new
    finally:
        _DEFAULTS.reset(token)


# --- registered prompts used in a trace ----------------------------------------------------------

# Stamped onto LLM and chat spans started after a registered prompt was formatted in the same
# trace and context: the last prompt formatted, and every prompt's URI when there are several.
PROMPT_NAME = "llmtrace.prompt.name"
PROMPT_VERSION = "llmtrace.prompt.version"
PROMPT_URIS = "llmtrace.prompt.uris"
# Also a trace tag per prompt (`prompt.<name>` = version), so that traces can be searched by
# the prompt they used: `tag.`prompt.qa` = '2'`. The prefix is semconv.TRACE_TAG_PREFIX (this
# leaf module cannot import semconv).
PROMPT_TAG_PREFIX = "llmtrace.trace.tag.prompt."
_MAX_PROMPTS_PER_TRACE = 16
_logger = logging.getLogger("llmtrace")


@dataclass(frozen=True)
class PromptUse:
    """A registered prompt version that was formatted (`PromptVersion.format`)."""

    name: str
    version: int

    @property
    def uri(self) -> str:
        """`prompts:/<name>/<version>`."""
        return f"prompts:/{self.name}/{self.version}"


@dataclass(frozen=True)
class _PromptUses:
    # The trace the prompts were formatted in; 0 when no span was active then: the next span
    # started in this context claims them for its trace.
    trace_id: int
    prompts: tuple[PromptUse, ...]


_PROMPT_USES: ContextVar[_PromptUses | None] = ContextVar("llmtrace_prompt_uses", default=None)


def prompt_attributes(prompts: tuple[PromptUse, ...]) -> dict[str, str | int | list[str]]:
    """The span attributes naming `prompts` (the last one is the one in use)."""
    last = prompts[-1]
    attributes: dict[str, str | int | list[str]] = {
        PROMPT_NAME: last.name,
        PROMPT_VERSION: last.version,
    }
    if len(prompts) > 1:
        attributes[PROMPT_URIS] = [p.uri for p in prompts]
    for prompt in prompts:
        attributes[PROMPT_TAG_PREFIX + prompt.name] = str(prompt.version)
    return attributes


def record_prompt_use(name: str, version: int) -> None:
    """Note that prompt `name` version `version` was just formatted: the current span (if
    any) gets its name and version now, and LLM/chat spans started later in the same trace
    and context get them when they start. Never raises."""
    try:
        from opentelemetry import trace as otel_trace

        span = otel_trace.get_current_span()
        span_context = span.get_span_context()
        trace_id = span_context.trace_id if span_context.is_valid else 0
        use = PromptUse(name, version)
        current = _PROMPT_USES.get()
        before = current.prompts if current is not None and current.trace_id == trace_id else ()
        prompts = (*(p for p in before if p != use), use)[-_MAX_PROMPTS_PER_TRACE:]
        _PROMPT_USES.set(_PromptUses(trace_id, prompts))
        if span.is_recording():
            span.set_attributes(prompt_attributes(prompts))
    except Exception:  # linking is best effort: never fail the user's formatting
        _logger.debug("llmtrace could not record the use of prompt %r", name, exc_info=True)


def forget_prompt_uses() -> None:
    """Forget the prompts formatted so far in this context (their link to the spans that
    follow), e.g. at the end of a request handled in a long-lived context, or between tests."""
    _PROMPT_USES.set(None)


def prompts_in_trace(trace_id: int) -> tuple[PromptUse, ...] | None:
    """The prompts formatted in this context for trace `trace_id` (None if none: the cost of
    this call when no prompt was used is one ContextVar read). Prompts formatted while no span
    was active are claimed by the first trace that asks."""
    uses = _PROMPT_USES.get()
    if uses is None:
        return None
    if uses.trace_id == trace_id:
        return uses.prompts
    if uses.trace_id == 0:
        _PROMPT_USES.set(_PromptUses(trace_id, uses.prompts))
        return uses.prompts
    return None


__all__ = [
    "PROMPT_NAME",
    "PROMPT_TAG_PREFIX",
    "PROMPT_URIS",
    "PROMPT_VERSION",
    "PromptUse",
    "TraceDefaults",
    "forget_prompt_uses",
    "get_trace_defaults",
    "prompt_attributes",
    "prompts_in_trace",
    "record_prompt_use",
    "trace_defaults",
]
