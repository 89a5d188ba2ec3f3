"""An evaluation whose store is an llmtrace server: predict traces go over OTLP, the run, its
result artifacts, the judge's EVALUATOR spans and every score (as assessments) over REST; the
judge is the real OpenAI client against the local fake OpenAI-compatible server."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import llmtrace
from evaluators import evaluate, load_results, load_table
from evaluators.judge import OpenAIJudge
from evaluators.scorers import Correctness, ExactMatch
from llmtrace._config import Settings
from llmtrace.tracing import _runtime
from tests.evaluators.conftest import reset_fluent_state
from tests.integrations.fake_openai_server import FakeOpenAIServer, Reply, chat_completion
from tests.server.conftest import LiveServer

_SETTINGS_ENV = [f.metadata["env"] for f in dataclasses.fields(Settings) if f.metadata.get("env")]


@pytest.fixture(autouse=True)
def clean_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in [*_SETTINGS_ENV, "LLMTRACE_API_KEY", "OTEL_EXPORTER_OTLP_HEADERS"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    yield
    reset_fluent_state()
    _runtime.reset()


def verdict(request: dict[str, Any]) -> Reply:
    """Correct exactly when the answer under review says 4."""
    prompt = request["messages"][-1]["content"]
    correct = "Answer to grade" not in prompt or "\n4" in prompt or ": 4" in prompt
    body = {"rationale": "compared with the reference", "correct": correct}
    return chat_completion(request, content=json.dumps(body))


def answer(question: str) -> str:
    return {"2+2?": "4"}.get(question, "5")


def test_judge_scorers_with_the_store_on_a_server(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    live = live_server()
    llmtrace.configure(store=live.url, flush_interval=0.05)
    rows = [
        {"inputs": {"question": "2+2?"}, "expectations": {"expected_response": "4"}},
        {"inputs": {"question": "3+3?"}, "expectations": {"expected_response": "6"}},
    ]
    with FakeOpenAIServer() as judge_server:
        judge_server.script("/v1/chat/completions", *[verdict] * 4)
        judge = OpenAIJudge(
            "judge-model",
            base_url=judge_server.base_url + "/v1",
            api_key="sk-test",
            cache=None,
            max_retries=0,
        )
        result = evaluate(
            rows,
            predict=answer,
            scorers=[ExactMatch(), Correctness()],
            judge=judge,
            experiment="remote-eval",
        )
        prompts = [r.body["messages"][-1]["content"] for r in judge_server.requests]
    assert len(prompts) == 2 and any("2+2?" in p for p in prompts)
    assert result.rows["exact_match"].tolist() == [True, False]
    assert result.rows["correctness"].notna().all()
    assert llmtrace.flush(10)

    # The run and its per-row table are on the server.
    run = live.store.get_run(result.run_id or "")
    assert run.metrics["exact_match/mean"] == 0.5
    assert run.metrics["judge_calls"] == 2.0
    assert load_results(result.run_id or "").scores == result.scores
    # Also read from a store given explicitly (the server's own database here).
    table = load_table(result.run_id or "", store=live.store)
    assert table["exact_match"].tolist() == [True, False]
    # Each row's trace (sent over OTLP) carries both scores as assessments, with their sources.
    for trace_id in result.rows["trace_id"]:
        trace = live.store.get_trace(trace_id)
        assert trace.info.run_id == result.run_id
        sources = {a.name: a.source_type for a in trace.assessments}
        assert sources == {"exact_match": "CODE", "correctness": "LLM_JUDGE"}
    # The judge calls themselves are traced as EVALUATOR spans with their token usage.
    judged = [
        s
        for t in live.store.search_traces(limit=100)
        for s in live.store.get_trace(t.trace_id).spans
        if s.span_type == "EVALUATOR"
    ]
    assert len(judged) >= 2
