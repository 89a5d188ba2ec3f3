"""Tracing for the `openai` SDK (v1 and later): one span per API call, sync and async.

Chat completions (`create`, `parse`, and the `stream()` helper), the Responses API (`create`,
`parse`, `stream()`), embeddings and legacy completions, on every client (OpenAI, Azure,
any `base_url`: vLLM, Ollama, proxies). Spans nest under the current span, carry the model,
request parameters, inputs, outputs, finish reasons, token usage and cost, and end with the
call, or with the stream when the call streams. See docs/integrations/openai.md.

Example:
    >>> import llmtrace, openai
    >>> llmtrace.instrument("openai")              # or instrument("openai", stream_usage=False)
    >>> openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[...])
    >>> llmtrace.uninstrument("openai")
"""

from __future__ import annotations

import logging
from typing import Any

from llmtrace.exceptions import ConfigError
from llmtrace.integrations.openai._patch import Options, install, state, uninstall

logger = logging.getLogger("llmtrace")


def instrument(**options: Any) -> None:
    """Patch the SDK's resource classes (idempotent; a second call only updates options).

    Options:
        stream_usage: for streamed chat and legacy completions where the caller did not set
            `stream_options`, ask for the usage chunk (`include_usage`) so that tokens and
            cost are known, and hide that chunk from the caller. Default True.
    """
    stream_usage = options.pop("stream_usage", True)
    if not isinstance(stream_usage, bool):
        raise ConfigError(f"stream_usage must be True or False, got {stream_usage!r}")
    if options:
        # The registry hands the same options to every integration named in one call.
        logger.debug("llmtrace openai integration ignores options %s", sorted(options))
    install(Options(stream_usage=stream_usage))


def uninstrument() -> None:
    """Restore the SDK's original methods (idempotent)."""
    uninstall()


def is_instrumented() -> bool:
    """True while the patches are in place."""
    return state.active


__all__ = ["instrument", "is_instrumented", "uninstrument"]
