"""LlamaIndex integration: query engines, retrievers, LLMs, embeddings, synthesizers,
rerankers, tools and agents traced through LlamaIndex's instrumentation dispatcher.

`instrument()` adds one span handler and one event handler to LlamaIndex's root dispatcher
(`llama_index.core.instrumentation.get_dispatcher()`); `uninstrument()` removes exactly those
two and ends any span still open. Both are idempotent. See docs/integrations/llama_index.md.

Example:
    >>> import llmtrace
    >>> llmtrace.instrument("llama_index")
    >>> index.as_query_engine().query("What did the author do?")   # one trace
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]

from llmtrace.integrations.llama_index._event_handler import LlmtraceEventHandler
from llmtrace.integrations.llama_index._span_handler import LlmtraceSpanHandler
from llmtrace.integrations.llama_index._tracker import Tracker

logger = logging.getLogger("llmtrace")

_lock = threading.Lock()
_installed: tuple[LlmtraceSpanHandler, LlmtraceEventHandler] | None = None


def instrument(**options: Any) -> None:
    """Trace LlamaIndex from now on (idempotent). Takes no options of its own; options meant
    for other integrations (`llmtrace.instrument(..., **options)` passes them to every named
    integration) are ignored."""
    global _installed
    with _lock:
        if _installed is not None:
            return
        tracker = Tracker()
        span_handler = LlmtraceSpanHandler(tracker)
        event_handler = LlmtraceEventHandler(tracker)
        dispatcher = get_dispatcher()
        dispatcher.add_span_handler(span_handler)
        dispatcher.add_event_handler(event_handler)
        _installed = (span_handler, event_handler)


def uninstrument() -> None:
    """Stop tracing LlamaIndex: remove the two handlers (only ours) and end open spans."""
    global _installed
    with _lock:
        installed, _installed = _installed, None
    if installed is None:
        return
    span_handler, event_handler = installed
    dispatcher = get_dispatcher()
    # Rebuild the lists rather than remove in place: the dispatcher iterates them unlocked.
    dispatcher.span_handlers = [h for h in dispatcher.span_handlers if h is not span_handler]
    dispatcher.event_handlers = [h for h in dispatcher.event_handlers if h is not event_handler]
    span_handler.close()


def installed_handlers() -> tuple[LlmtraceSpanHandler, LlmtraceEventHandler] | None:
    """The handlers currently added to the root dispatcher, or None (for tests)."""
    return _installed


__all__ = ["LlmtraceEventHandler", "LlmtraceSpanHandler", "instrument", "uninstrument"]
