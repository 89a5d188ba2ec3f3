"""`span()`, `LiveSpan`, `current_span()`, `update_current_trace()` and GenAI attributes."""

from __future__ import annotations

import asyncio
import logging

import pytest

import llmtrace
from llmtrace import semconv as sc
from tests.tracing.conftest import only_trace, stored_traces

pytestmark = pytest.mark.usefixtures("traced")


def test_span_context_manager_records_everything() -> None:
    with llmtrace.span("call model", span_type="LLM", inputs={"prompt": "Hi"}) as s:
        s.set_model("gpt-4o-mini", provider="openai", response_model="gpt-4o-mini-2024-07-18")
        s.set_usage(input_tokens=12, output_tokens=5)
        s.set_attributes({"temperature": 0.2, "stop": ["\n"], "extra": {"a": 1}})
        s.set_cost(0.0003)
        s.add_event("first_token", {"ms": 12.5})
        s.set_outputs({"text": "Hello"})
    trace = only_trace()
    span = trace.root
    assert span is not None
    assert span.span_type == "LLM"
    assert span.inputs == {"prompt": "Hi"}
    assert span.outputs == {"text": "Hello"}
    assert span.model == "gpt-4o-mini-2024-07-18"
    assert (span.input_tokens, span.output_tokens) == (12, 5)
    assert span.cost == pytest.approx(0.0003)
    attrs = span.attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "text_completion"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert attrs[sc.USAGE_TOTAL_TOKENS] == 17
    assert attrs["temperature"] == 0.2
    assert attrs["stop"] == ["\n"]
    assert attrs["extra"] == '{"a":1}' or attrs["extra"] == '{"a": 1}'
    assert span.events[0]["name"] == "first_token"
    info = trace.info
    assert (info.input_tokens, info.output_tokens, info.total_tokens) == (12, 5, 17)
    assert info.cost == pytest.approx(0.0003)


def test_chat_span_gets_chat_operation() -> None:
    with llmtrace.span("chat", span_type=llmtrace.SpanType.CHAT_MODEL):
        pass
    root = only_trace().root
    assert root is not None
    assert root.attributes[sc.GEN_AI_OPERATION_NAME] == "chat"


def test_span_records_exception_and_reraises() -> None:
    with pytest.raises(ZeroDivisionError), llmtrace.span("divide"):
        _ = 1 / 0
    root = only_trace().root
    assert root is not None
    assert root.status == "ERROR"
    assert "ZeroDivisionError" in (root.status_message or "")


def test_async_with_span_nests() -> None:
    async def main() -> None:
        async with llmtrace.span("outer") as outer, llmtrace.span("inner") as inner:
            assert inner.trace_id == outer.trace_id

    asyncio.run(main())
    trace = only_trace()
    assert [s.name for _, s in trace.walk()] == ["outer", "inner"]


def test_unknown_span_type_is_rejected() -> None:
    with pytest.raises(ValueError):
        llmtrace.span("x", span_type="NOT_A_TYPE")


def test_current_span_and_trace_id() -> None:
    assert llmtrace.current_trace_id() is None
    assert not llmtrace.current_span().is_recording()
    llmtrace.current_span().set_outputs("ignored outside spans")  # no error

    @llmtrace.trace
    def work() -> str | None:
        llmtrace.current_span().set_attribute("step", "inside")
        return llmtrace.current_trace_id()

    trace_id = work()
    trace = only_trace()
    assert trace_id == trace.trace_id
    assert trace.root is not None and trace.root.attributes["step"] == "inside"


def test_update_current_trace_is_searchable() -> None:
    @llmtrace.trace
    def child() -> None:
        llmtrace.update_current_trace(metadata={"customer": "acme", "tier": 2})

    @llmtrace.trace
    def handle() -> None:
        llmtrace.update_current_trace(session_id="s-1", user_id="u-9", tags={"env": "prod"})
        llmtrace.update_current_trace(tags=["beta"])
        child()

    @llmtrace.trace
    def other() -> None:
        llmtrace.update_current_trace(tags={"env": "dev"})

    handle()
    other()
    stored_traces()
    found = llmtrace.search_traces("tag.env = 'prod' and session_id = 's-1'")
    assert len(found) == 1
    info = found[0]
    assert info.user_id == "u-9"
    assert info.tags == {"env": "prod", "beta": "true"}
    assert info.metadata == {"customer": "acme", "tier": "2"}
    assert len(llmtrace.search_traces("metadata.customer = 'acme'")) == 1
    assert len(llmtrace.search_traces("tag.env = 'dev'")) == 1


def test_update_current_trace_outside_span_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    from llmtrace.tracing import _span

    _span._warned_no_span = False
    with caplog.at_level(logging.WARNING, logger="llmtrace"):
        llmtrace.update_current_trace(session_id="x")
        llmtrace.update_current_trace(session_id="y")
    assert sum("outside a traced span" in r.message for r in caplog.records) == 1


def test_trace_defaults_stamp_session_and_user() -> None:
    @llmtrace.trace
    def step() -> None:
        pass

    with llmtrace.trace_defaults(session_id="sess", user_id="ada"):
        step()
    step()
    traces = stored_traces()
    assert [(t.info.session_id, t.info.user_id) for t in traces] == [
        ("sess", "ada"),
        (None, None),
    ]


def test_redaction_masks_secrets_by_default() -> None:
    @llmtrace.trace
    def call(api_key: str, prompt: str) -> str:
        return f"used Bearer {api_key}"

    call("sk-proj-abcdefghijklmnopqrstuvwxyz123456", "email me at ada@example.com")
    root = only_trace().root
    assert root is not None
    stored = f"{root.inputs} {root.outputs}"
    assert "sk-proj-abcdefghijklmnopqrstuvwxyz123456" not in stored
    assert "REDACTED" in stored
    assert "ada@example.com" in stored  # PII masking is opt-in


def test_redaction_pii_and_hook(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    def hook(kind: str, value: object) -> object:
        if kind == "inputs" and isinstance(value, dict):
            return {k: ("***" if k == "ssn" else v) for k, v in value.items()}
        return value

    configure_tracing(redact=hook, redact_pii=True)

    @llmtrace.trace
    def call(ssn: str, note: str) -> str:
        return note

    call("123-45-6789", "write to ada@example.com")
    root = only_trace().root
    assert root is not None
    assert root.inputs["ssn"] == "***"
    assert "ada@example.com" not in str(root.inputs)
    assert "ada@example.com" not in str(root.outputs)


def test_disabled_tracing_records_nothing(configure_tracing) -> None:  # type: ignore[no-untyped-def]
    configure_tracing(enabled=False)

    @llmtrace.trace
    def f(x: int) -> int:
        return x + 1

    with llmtrace.span("block") as s:
        s.set_outputs(1)
    assert f(1) == 2
    assert stored_traces() == []
