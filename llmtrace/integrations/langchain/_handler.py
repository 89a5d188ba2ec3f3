"""`LlmtraceCallbackHandler`: LangChain callbacks turned into llmtrace spans.

Each LangChain run (chain, chat model, LLM, tool, retriever, parser) becomes a span, keyed by
LangChain's run id: a run with a known parent run nests under its parent's span; a root run
(no parent, or a parent this handler never saw) nests under the current OpenTelemetry span, so
a chain called inside an `@llmtrace.trace` function joins that function's trace. While a run
is open its span is attached to the calling context, so that OpenAI calls and `@trace`
functions executed inside the step nest under it.

Callbacks never raise: a failure is logged at debug level and the run degrades (a missing
attribute, at worst a missing span). The user's exceptions reach the span via `on_*_error`
and propagate unchanged: LangChain re-raises them, the handler only records them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks.base import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from llmtrace import semconv as sc
from llmtrace.integrations._common import NO_INPUTS, SpanHandle, start_span
from llmtrace.integrations.langchain import _extract as ex
from llmtrace.integrations.langchain._context import (
    attach,
    opened_inside,
    release,
    root_context,
    unwind,
)
from llmtrace.integrations.langchain._models import (
    captured,
    describe_request,
    record_result,
    set_payload,
    set_query,
)
from llmtrace.integrations.langchain._runs import ABANDONED_EVENT, DEFAULT_MAX_RUNS, Run, RunMap
from llmtrace.semconv import SpanType

logger = logging.getLogger("llmtrace")

INTEGRATION = "langchain"
AGENT_ACTION_EVENT = "langchain.agent_action"
AGENT_FINISH_EVENT = "langchain.agent_finish"
RETRY_EVENT = "langchain.retry"


def _failed(event: str) -> None:
    logger.debug("llmtrace LangChain callback %s failed", event, exc_info=True)


class LlmtraceCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that records every run as an llmtrace span.

    Pass it explicitly, or let `llmtrace.instrument("langchain")` add one to every run. One
    instance serves any number of concurrent runs.

    Example:
        >>> from llmtrace.integrations.langchain import LlmtraceCallbackHandler
        >>> chain.invoke({"question": "..."}, config={"callbacks": [LlmtraceCallbackHandler()]})
    """

    # Called in the caller's context and thread, also from async code: the span attached by a
    # start callback is then the current span of the step it starts.
    run_inline = True
    raise_error = False

    def __init__(self, *, max_open_runs: int = DEFAULT_MAX_RUNS) -> None:
        """`max_open_runs` bounds the runs waiting for their end callback; past it the oldest
        is ended (marked abandoned)."""
        self._runs = RunMap(max_open_runs)
        # False once `uninstrument()` retired the shared handler: it then opens no new span
        # but still ends the runs it started.
        self._accepting = True

    # --- the run map -------------------------------------------------------------------------

    def _parent(
        self, parent_run: Run | None
    ) -> tuple[SpanHandle | otel_context.Context, otel_context.Context]:
        """Where a new span goes, and the context current before it is attached."""
        current = otel_context.get_current()
        if parent_run is None:
            ctx = root_context(self._runs, current)
            return ctx, ctx
        if opened_inside(self._runs, otel_trace.get_current_span(current), parent_run):
            return current, current
        return parent_run.handle, current

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        span_type: SpanType,
        *,
        inputs: Any = NO_INPUTS,
        run_type: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        model_span: bool = False,
        batch_size: Any = None,
    ) -> Run | None:
        if not self._accepting:
            return None
        unwind()  # attachments of runs that ended in another context (async)
        parent_run = self._runs.get(parent_run_id)
        parent, outer = self._parent(parent_run)
        attrs = ex.run_attributes(run_id, run_type, tags, metadata)
        if attributes:
            attrs.update(attributes)
        if parent_run is None:
            session = ex.session_of(metadata)
            if session is not None:
                attrs[sc.TRACE_SESSION_ID] = session
        handle = start_span(
            name,
            span_type,
            parent=parent,
            inputs=inputs,
            attributes=attrs,
            integration=INTEGRATION,
            model_span=model_span,
        )
        if not handle.otel_span.get_span_context().is_valid:
            return None  # tracing is off
        run = Run(handle, parent_run_id if parent_run is not None else None, outer)
        run.is_model = model_span
        if not (model_span and self._shares_call(batch_size)):
            # Also a sampled-out span: what runs inside then follows its sampling decision.
            attach(run)
        for old in self._runs.add(run_id, run):
            self._abandon(old, "too many open runs")
        return run

    def _shares_call(self, batch_size: Any) -> bool:
        """True for the second and later model runs of one `generate()` over several prompts
        (`BaseLLM.batch` sends them all in one provider call, usage reported on the first
        run): what the call does nests under the first run's span only."""
        if not isinstance(batch_size, int) or batch_size < 2:
            return False
        current = self._runs.get(self._runs.run_id_of(otel_trace.get_current_span()))
        return current is not None and current.is_model

    def _finish(self, run_id: UUID) -> Run | None:
        """Take the run `run_id` out of the map, ending its still-open descendants."""
        run, orphans = self._runs.pop(run_id)
        for orphan in orphans:
            self._abandon(orphan, "parent run ended")
        return run

    def _end(self, run: Run, error: BaseException | None = None) -> None:
        if isinstance(error, GeneratorExit):
            # A stream closed early by its consumer: not a failure of the step.
            run.handle.live.add_event(ABANDONED_EVENT, {"reason": "stream closed"})
            error = None
        run.handle.end(error)
        release(run)

    def _abandon(self, run: Run, reason: str) -> None:
        try:
            run.handle.live.add_event(ABANDONED_EVENT, {"reason": reason})
            self._end(run)
        except Exception:
            _failed("abandon")

    def _end_run(
        self,
        run_id: UUID,
        *,
        outputs: Any = NO_INPUTS,
        error: BaseException | None = None,
        inputs: Any = NO_INPUTS,
    ) -> None:
        run = self._finish(run_id)
        if run is None:
            return
        try:
            if inputs is not NO_INPUTS:
                run.handle.live.set_inputs(inputs)
            if outputs is not NO_INPUTS:
                run.handle.live.set_outputs(outputs)
        finally:
            self._end(run, error)

    # --- chains ------------------------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chain or runnable started: a CHAIN, PARSER or AGENT span."""
        try:
            name = ex.run_name(serialized, kwargs, "chain")
            run_type = kwargs.get("run_type")
            run_type = run_type if isinstance(run_type, str) else None
            self._start(
                run_id,
                parent_run_id,
                name,
                ex.chain_span_type(name, serialized, run_type),
                inputs=inputs,
                run_type=run_type or "chain",
                tags=tags,
                metadata=metadata,
            )
        except Exception:
            _failed("on_chain_start")

    def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chain ended: its outputs (and, for a stream, its inputs, known only now)."""
        try:
            self._end_run(run_id, outputs=outputs, inputs=kwargs.get("inputs", NO_INPUTS))
        except Exception:
            _failed("on_chain_end")

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chain failed: the span is marked ERROR with the exception."""
        try:
            self._end_run(run_id, error=error, inputs=kwargs.get("inputs", NO_INPUTS))
        except Exception:
            _failed("on_chain_error")

    # --- agents ------------------------------------------------------------------------------

    def _agent_event(self, run_id: UUID, name: str, attributes: dict[str, Any]) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        live = run.handle.live
        live.set_attribute(sc.SPAN_TYPE, SpanType.AGENT.value)
        live.set_attribute(sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_OPERATION_BY_TYPE[SpanType.AGENT])
        live.add_event(name, {k: v for k, v in attributes.items() if v is not None})

    def on_agent_action(
        self,
        action: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """An agent chose a tool: an event on the agent's span (which becomes AGENT)."""
        try:
            self._agent_event(
                run_id,
                AGENT_ACTION_EVENT,
                {
                    "tool": getattr(action, "tool", None),
                    "tool_input": captured("outputs", getattr(action, "tool_input", None)),
                    "log": captured("outputs", getattr(action, "log", None)),
                },
            )
        except Exception:
            _failed("on_agent_action")

    def on_agent_finish(
        self,
        finish: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """An agent finished: an event with its return values."""
        try:
            self._agent_event(
                run_id,
                AGENT_FINISH_EVENT,
                {
                    "return_values": captured("outputs", getattr(finish, "return_values", None)),
                    "log": captured("outputs", getattr(finish, "log", None)),
                },
            )
        except Exception:
            _failed("on_agent_finish")

    # --- models ------------------------------------------------------------------------------

    def _start_model(
        self,
        span_type: SpanType,
        serialized: dict[str, Any],
        inputs: Any,
        input_messages: list[dict[str, Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        params_raw = kwargs.get("invocation_params")
        params: Mapping[str, Any] = params_raw if isinstance(params_raw, Mapping) else {}
        run = self._start(
            run_id,
            parent_run_id,
            ex.run_name(serialized, kwargs, "llm"),
            span_type,
            inputs=inputs,
            run_type="llm",
            tags=tags,
            metadata=metadata,
            attributes=ex.request_attributes(params, metadata),
            model_span=True,
            batch_size=kwargs.get("batch_size"),
        )
        if run is not None:
            describe_request(run, serialized, metadata, params, input_messages)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chat model call started: a CHAT_MODEL span with the messages as inputs."""
        try:
            msgs = [ex.message_dict(m) for batch in messages for m in batch]
            self._start_model(
                SpanType.CHAT_MODEL,
                serialized,
                {"messages": msgs},
                [ex.genai_message(m) for m in msgs],
                run_id=run_id,
                parent_run_id=parent_run_id,
                tags=tags,
                metadata=metadata,
                kwargs=kwargs,
            )
        except Exception:
            _failed("on_chat_model_start")

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A text-completion model call started: an LLM span with the prompt as inputs."""
        try:
            inputs = {"prompt": prompts[0]} if len(prompts) == 1 else {"prompts": list(prompts)}
            messages = [
                {"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts
            ]
            self._start_model(
                SpanType.LLM,
                serialized,
                inputs,
                messages,
                run_id=run_id,
                parent_run_id=parent_run_id,
                tags=tags,
                metadata=metadata,
                kwargs=kwargs,
            )
        except Exception:
            _failed("on_llm_start")

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A streamed token: the first one gives the time to first token."""
        try:
            run = self._runs.get(run_id)
            if run is None or run.first_token:
                return
            run.first_token = True
            elapsed_ms = (time.perf_counter() - run.started) * 1000.0
            run.handle.live.set_attribute(sc.LLM_STREAMING, True)
            run.handle.live.set_attribute(sc.LLM_TIME_TO_FIRST_TOKEN_MS, elapsed_ms)
        except Exception:
            _failed("on_llm_new_token")

    def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A model call ended: outputs, finish reasons, response model, usage and cost."""
        try:
            run = self._finish(run_id)
        except Exception:
            _failed("on_llm_end")
            return
        if run is None:
            return
        try:
            record_result(run, response)
        except Exception:
            _failed("on_llm_end")
        finally:
            self._end(run)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A model call failed: the span is marked ERROR with the exception."""
        try:
            self._end_run(run_id, error=error)
        except Exception:
            _failed("on_llm_error")

    # --- tools -------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A tool started: a TOOL span with the tool's name, description and call id."""
        try:
            name = ex.run_name(serialized, kwargs, "tool")
            ser = serialized if isinstance(serialized, Mapping) else {}
            attrs: dict[str, Any] = {sc.GEN_AI_TOOL_NAME: ser.get("name") or name}
            description = ser.get("description")
            if isinstance(description, str) and description:
                attrs[sc.GEN_AI_TOOL_DESCRIPTION] = description
            call_id = kwargs.get("tool_call_id")
            if isinstance(call_id, str) and call_id:
                attrs[sc.GEN_AI_TOOL_CALL_ID] = call_id
            self._start(
                run_id,
                parent_run_id,
                name,
                SpanType.TOOL,
                inputs=inputs if inputs is not None else input_str,
                run_type="tool",
                tags=tags,
                metadata=metadata,
                attributes=attrs,
            )
        except Exception:
            _failed("on_tool_start")

    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A tool ended: its output (a `ToolMessage`'s content)."""
        try:
            run = self._runs.get(run_id)
            call_id = getattr(output, "tool_call_id", None)
            if run is not None and isinstance(call_id, str) and call_id:
                run.handle.live.set_attribute(sc.GEN_AI_TOOL_CALL_ID, call_id)
            self._end_run(run_id, outputs=ex.tool_output(output))
        except Exception:
            _failed("on_tool_end")

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A tool failed: the span is marked ERROR with the exception."""
        try:
            self._end_run(run_id, error=error)
        except Exception:
            _failed("on_tool_error")

    # --- retrievers --------------------------------------------------------------------------

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A retriever started: a RETRIEVER span with the query."""
        try:
            run = self._start(
                run_id,
                parent_run_id,
                ex.run_name(serialized, kwargs, "retriever"),
                SpanType.RETRIEVER,
                inputs={"query": query},
                run_type="retriever",
                tags=tags,
                metadata=metadata,
            )
            if run is not None:
                set_query(run.handle, query)
        except Exception:
            _failed("on_retriever_start")

    def on_retriever_end(
        self,
        documents: Sequence[Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A retriever ended: the documents (id, score, content, metadata)."""
        try:
            run = self._runs.get(run_id)
            docs = ex.documents(documents)
            if run is not None:
                set_payload(run.handle, sc.RETRIEVAL_DOCUMENTS, "outputs", docs)
            self._end_run(run_id, outputs=docs)
        except Exception:
            _failed("on_retriever_end")

    def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A retriever failed: the span is marked ERROR with the exception."""
        try:
            self._end_run(run_id, error=error)
        except Exception:
            _failed("on_retriever_error")

    # --- other events ------------------------------------------------------------------------

    def on_retry(
        self,
        retry_state: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A retry of a step: an event with the attempt number and the error that caused it."""
        try:
            run = self._runs.get(run_id)
            if run is None:
                return
            attrs: dict[str, Any] = {}
            attempt = getattr(retry_state, "attempt_number", None)
            if isinstance(attempt, int):
                attrs["attempt"] = attempt
            outcome = getattr(retry_state, "outcome", None)
            if outcome is not None and getattr(outcome, "failed", False) is True:
                attrs[sc.ERROR_TYPE] = type(outcome.exception()).__name__
            run.handle.live.add_event(RETRY_EVENT, attrs)
        except Exception:
            _failed("on_retry")

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """`dispatch_custom_event(name, data)`: an event on the run's span."""
        try:
            run = self._runs.get(run_id)
            if run is None:
                return
            text = captured("outputs", data)
            run.handle.live.add_event(str(name), {"data": text} if text is not None else None)
        except Exception:
            _failed("on_custom_event")


__all__ = ["INTEGRATION", "LlmtraceCallbackHandler"]
