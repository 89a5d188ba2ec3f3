"""The LlamaIndex span handler: every `@dispatcher.span` call becomes (or joins) an llmtrace
span, through the shared `Tracker`."""

from __future__ import annotations

import inspect
import logging
from typing import Any

from llama_index.core.instrumentation.span import BaseSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from pydantic import PrivateAttr

from llmtrace.integrations.llama_index._tracker import Tracker

logger = logging.getLogger("llmtrace")


class LlmtraceSpanHandler(BaseSpanHandler[BaseSpan]):
    """Opens an llmtrace span when a LlamaIndex span starts and ends it when it exits or drops.

    LlamaIndex's own bookkeeping (`open_spans`) holds a bare `BaseSpan` per open LlamaIndex
    span, so that `Dispatcher.shutdown()` can drop them; the llmtrace state lives in the
    tracker, keyed by the same span ids.
    """

    _tracker: Tracker = PrivateAttr()

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self._tracker = tracker

    @classmethod
    def class_name(cls) -> str:
        """Class name (LlamaIndex's handler registry key)."""
        return "LlmtraceSpanHandler"

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BaseSpan | None:
        """Start (or join) the llmtrace span of LlamaIndex span `id_`; never raises."""
        try:
            self._tracker.enter(id_, bound_args, instance, parent_span_id)
        except Exception:
            logger.debug("llmtrace could not start a LlamaIndex span", exc_info=True)
        return BaseSpan(id_=id_, parent_id=parent_span_id)

    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> BaseSpan | None:
        """End the llmtrace span of `id_` (later, for streams); never raises."""
        try:
            self._tracker.exit(id_, instance, result)
        except Exception:
            logger.debug("llmtrace could not end a LlamaIndex span", exc_info=True)
        return self._known(id_)

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> BaseSpan | None:
        """End the llmtrace span of `id_` with `err` (ERROR status); never raises."""
        try:
            self._tracker.drop(id_, instance, err)
        except Exception:
            logger.debug("llmtrace could not end a failed LlamaIndex span", exc_info=True)
        return self._known(id_)

    def close(self) -> None:
        """Dispatcher shutdown: end whatever is still open."""
        try:
            self._tracker.close()
        except Exception:
            logger.debug("llmtrace could not close LlamaIndex spans", exc_info=True)

    def _known(self, id_: str) -> BaseSpan | None:
        # The base class deletes the returned span from open_spans: only return known ones.
        with self.lock:
            return self.open_spans.get(id_)


__all__ = ["LlmtraceSpanHandler"]
