"""The shared integration layer: SpanHandle, usage and cost on spans, the double-count guard,
per-model usage in the store and `llmtrace prices`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

import llmtrace
from llmtrace import pricing
from llmtrace import semconv as sc
from llmtrace.cli import main as cli_main
from llmtrace.integrations import instrument, instrumented, uninstrument
from llmtrace.integrations._common import start_span
from llmtrace.pricing import Usage
from llmtrace.store import SqlStore
from tests.tracing.conftest import only_trace, stored_traces


class RateLimited(Exception):
    status_code = 429


def _by_name(trace: llmtrace.Trace) -> dict[str, llmtrace.Span]:
    return {s.name: s for s in trace.spans}


def test_handle_nests_under_the_current_span_and_children_nest_under_it(traced: str) -> None:
    @llmtrace.trace(name="inner")
    def inner() -> int:
        return 1

    with llmtrace.span("outer"):
        chain = start_span("chain", "CHAIN", inputs={"q": "hi"}, integration="langchain")
        step = start_span("step", "TOOL", parent=chain)
        step.attach()
        inner()  # runs "inside" the step
        step.end()
        chain.live.set_outputs("done")
        chain.end()
    spans = _by_name(only_trace())
    assert spans["chain"].parent_span_id == spans["outer"].span_id
    assert spans["step"].parent_span_id == spans["chain"].span_id
    assert spans["inner"].parent_span_id == spans["step"].span_id
    assert spans["chain"].inputs == {"q": "hi"} and spans["chain"].outputs == "done"
    assert spans["chain"].attributes[sc.SPAN_INTEGRATION] == "langchain"
    assert llmtrace.current_span().is_recording() is False  # nothing left attached


def test_detach_from_another_thread_or_twice_is_harmless(
    traced: str, caplog: pytest.LogCaptureFixture
) -> None:
    handle = start_span("step", "CHAIN")
    handle.attach()
    worker = threading.Thread(target=handle.end)  # the framework ends it elsewhere
    worker.start()
    worker.join()
    assert "Failed to detach" not in caplog.text
    # The thread could not undo the attachment; the attaching context still can.
    assert llmtrace.current_span().span_id == handle.span_id
    handle.detach()
    handle.detach()
    assert not llmtrace.current_span().is_recording()
    assert only_trace().spans[0].name == "step"


def test_end_records_errors_once(traced: str) -> None:
    handle = start_span("call", "CHAT_MODEL", model_span=True)
    handle.end(RateLimited("slow down"))
    handle.end()  # idempotent: no second end, status stays
    span = only_trace().spans[0]
    assert span.status == "ERROR"
    assert span.status_message == "RateLimited: slow down"
    assert span.attributes[sc.ERROR_TYPE].endswith("RateLimited")
    assert span.attributes[sc.HTTP_RESPONSE_STATUS_CODE] == 429


def test_handles_do_nothing_when_tracing_is_off(configure_tracing: Callable[..., str]) -> None:
    configure_tracing(enabled=False)
    handle = start_span("x", "LLM", model_span=True)
    handle.attach()
    handle.record_usage(Usage(input_tokens=3))
    handle.end(ValueError("x"))
    assert handle.span_id is None
    assert llmtrace.search_traces() == []


def test_usage_and_cost_of_a_model_call(traced: str) -> None:
    pricing.set_price("corp-llm", input=2.0, cached_input=0.5, output=8.0)
    handle = start_span("chat", "CHAT_MODEL", model_span=True)
    handle.live.set_model("corp-llm", provider="corp")
    handle.record_usage(
        Usage(input_tokens=1000, output_tokens=500, cached_input_tokens=400, reasoning_tokens=100)
    )
    handle.end()
    trace = only_trace()
    span = trace.spans[0]
    assert (span.input_tokens, span.output_tokens) == (1000, 500)
    assert span.cost == 0.0054  # (600*2 + 400*0.5 + 500*8) / 1e6
    attrs = span.attributes
    assert attrs[sc.USAGE_CACHED_INPUT_TOKENS] == 400
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 400
    assert attrs[sc.USAGE_REASONING_TOKENS] == 100
    assert attrs[sc.USAGE_TOTAL_TOKENS] == 1500
    assert attrs[sc.COST_PRICE_KEY] == "corp-llm@0001-01-01"
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.cost) == (
        1000,
        500,
        0.0054,
    )


def test_unknown_model_has_null_cost_and_is_listed(traced: str) -> None:
    handle = start_span("chat", "CHAT_MODEL", model_span=True)
    handle.record_usage(Usage(input_tokens=10, output_tokens=5), model="mystery-model")
    handle.end()
    trace = only_trace()
    assert trace.spans[0].cost is None
    assert trace.info.cost is None  # never $0
    assert trace.info.total_tokens == 15
    assert llmtrace.stats().unpriced_models == {"mystery-model": 1}
    assert llmtrace.stats().to_dict()["unpriced_models"] == {"mystery-model": 1}


def test_nested_model_spans_are_counted_once(traced: str) -> None:
    pricing.set_price("m", input=1.0, output=1.0)
    with llmtrace.span("app"):
        framework = start_span("framework-chat", "CHAT_MODEL", model_span=True)
        framework.attach()
        provider = start_span("openai-chat", "CHAT_MODEL", model_span=True)
        provider.record_usage(Usage(input_tokens=100, output_tokens=20), model="m")
        provider.end()
        # The framework reports the same call's usage when it ends.
        framework.record_usage(Usage(input_tokens=100, output_tokens=20), model="m")
        framework.end()
        other = start_span("second-call", "LLM", model_span=True)  # a sibling call
        other.record_usage(Usage(input_tokens=7, output_tokens=3), model="m")
        other.end()
    trace = only_trace()
    spans = _by_name(trace)
    assert spans["framework-chat"].attributes[sc.USAGE_AGGREGATE] is False
    assert sc.USAGE_AGGREGATE not in spans["openai-chat"].attributes
    assert spans["framework-chat"].input_tokens == 100  # still shown on the span
    assert (trace.info.input_tokens, trace.info.output_tokens) == (107, 23)
    assert trace.info.cost == 0.00013


def test_guard_spans_three_levels_and_unused_outer_spans(traced: str) -> None:
    with llmtrace.span("app"):
        agent_llm = start_span("outer", "CHAT_MODEL", model_span=True)
        middle = start_span("middle", "CHAT_MODEL", model_span=True, parent=agent_llm)
        inner = start_span("inner", "CHAT_MODEL", model_span=True, parent=middle)
        inner.record_usage(Usage(input_tokens=10, output_tokens=1), model="m")
        inner.end()
        middle.end()  # reports nothing itself
        agent_llm.record_usage(Usage(input_tokens=10, output_tokens=1), model="m")
        agent_llm.end()
        lone = start_span("lone", "CHAT_MODEL", model_span=True)  # no nested usage
        lone.record_usage(Usage(input_tokens=5, output_tokens=5), model="m")
        lone.end()
    trace = only_trace()
    spans = _by_name(trace)
    assert spans["outer"].attributes[sc.USAGE_AGGREGATE] is False
    assert sc.USAGE_AGGREGATE not in spans["lone"].attributes
    assert (trace.info.input_tokens, trace.info.output_tokens) == (15, 6)


def test_guard_holds_across_asyncio_tasks(traced: str) -> None:
    async def provider_call() -> None:
        handle = start_span("provider", "CHAT_MODEL", model_span=True)
        handle.record_usage(Usage(input_tokens=4, output_tokens=2), model="m")
        handle.end()

    async def main() -> None:
        with llmtrace.span("app"):
            outer = start_span("framework", "CHAT_MODEL", model_span=True)
            outer.attach()
            await asyncio.gather(provider_call(), provider_call())
            outer.record_usage(Usage(input_tokens=8, output_tokens=4), model="m")
            outer.end()

    asyncio.run(main())
    trace = only_trace()
    assert (trace.info.input_tokens, trace.info.output_tokens) == (8, 4)
    assert [s.parent_span_id for s in trace.spans if s.name == "provider"] == [
        _by_name(trace)["framework"].span_id
    ] * 2


def test_manual_spans_are_priced_from_model_and_usage_in_any_order(traced: str) -> None:
    pricing.set_price("m", input=1.0, output=2.0)
    with llmtrace.span("a", span_type="LLM") as s:
        s.set_usage(1000, 100)
        s.set_model("m")
    with llmtrace.span("b", span_type="LLM") as s:
        s.set_model("m")
        s.set_usage(1000, 100, cached_input_tokens=0)
    with llmtrace.span("c", span_type="LLM") as s:
        s.set_model("m")
        s.set_cost(0.5)  # an explicit cost wins over the table
        s.set_usage(1000, 100)
    with llmtrace.span("d", span_type="LLM") as s:
        s.set_model("unpriced-thing")
        s.set_usage(1, 1)
    traces = stored_traces()
    assert len(traces) == 4
    costs = {t.info.name: t.spans[0].cost for t in traces}
    assert costs == {"a": 0.0012, "b": 0.0012, "c": 0.5, "d": None}


@pytest.mark.backends
def test_model_usage_per_model_skips_double_counted_spans(
    configure_tracing: Callable[..., str], migrated_db_url: str
) -> None:
    configure_tracing(store=migrated_db_url)
    pricing.set_price("m", input=1.0, output=1.0)
    for _ in range(2):
        with llmtrace.span("app"):
            outer = start_span("framework", "CHAT_MODEL", model_span=True)
            outer.attach()
            inner = start_span("provider", "CHAT_MODEL", model_span=True)
            inner.record_usage(Usage(input_tokens=10, output_tokens=5), model="m")
            inner.end()
            outer.record_usage(Usage(input_tokens=10, output_tokens=5), model="m")
            outer.end()
            free = start_span("local", "LLM", model_span=True)
            free.record_usage(Usage(input_tokens=3, output_tokens=1), model="llama-local")
            free.end()
    assert llmtrace.flush(10)
    store = SqlStore(migrated_db_url, migrate=False)
    try:
        usage = {u.model: u for u in store.model_usage()}
        assert store.model_usage(project="elsewhere") == []
    finally:
        store.close()
    assert usage["m"].calls == 2
    assert (usage["m"].input_tokens, usage["m"].output_tokens) == (20, 10)
    assert usage["m"].cost == pytest.approx(0.00003)
    assert usage["m"].unpriced_calls == 0
    assert usage["llama-local"].cost is None and usage["llama-local"].unpriced_calls == 2


def test_cli_prices_missing_usage_and_list(traced: str, capsys: pytest.CaptureFixture[str]) -> None:
    handle = start_span("chat", "CHAT_MODEL", model_span=True)
    handle.record_usage(Usage(input_tokens=10, output_tokens=5), model="mystery-model")
    handle.end()
    assert llmtrace.flush(10)
    assert cli_main(["--store", traced, "prices", "missing"]) == 0
    out = capsys.readouterr().out
    assert "mystery-model" in out and "set_price" in out
    assert cli_main(["--store", traced, "prices", "usage", "--json"]) == 0
    assert '"unpriced_calls": 1' in capsys.readouterr().out
    assert cli_main(["prices", "list", "--model", "gpt-4o-mini"]) == 0
    assert "gpt-4o-mini" in capsys.readouterr().out
    trace_id = llmtrace.search_traces()[0].trace_id
    assert cli_main(["--store", traced, "traces", "show", trace_id]) == 0
    assert "model=mystery-model  tokens=10+5  cost=unknown" in capsys.readouterr().out


def test_instrument_names_are_checked_before_anything_is_patched() -> None:
    with pytest.raises(llmtrace.ConfigError, match="unknown integration 'opneai'"):
        instrument("openai", "opneai")
    assert instrumented() == ()
    with pytest.raises(llmtrace.ConfigError, match="name at least one"):
        instrument()
    uninstrument()  # nothing instrumented: nothing to do


def test_missing_framework_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llama_index.core" else real(name, *a),
    )
    with pytest.raises(llmtrace.ConfigError) as info:
        llmtrace.instrument("llama-index")
    assert "pip install 'llmtrace[llama-index]'" in str(info.value)
    assert "llama-index-core" in str(info.value)
