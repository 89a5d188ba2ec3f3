"""Third-party instrumentations end to end: an app instrumented with OpenInference or with the
OpenTelemetry GenAI instrumentation (`opentelemetry-instrumentation-openai-v2`) calls the real
`openai` client against a local OpenAI-compatible server and exports over OTLP/HTTP to a live
llmtrace server; the stored spans show model, tokens, cost and messages.

The app runs in a subprocess (`_otlp_instrumented_app.py`): instrumentors patch `openai`
process-wide and read their environment once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integrations.fake_openai_server import CHAT_USAGE, EMBEDDING_USAGE, FakeOpenAIServer
from tests.server.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]
LATEST_GENAI = {
    "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
}
MESSAGES = {
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello."},
    ]
}
ANSWER = {"role": "assistant", "content": "Hello there!"}


@pytest.fixture(scope="module")
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def run_app(
    instrumentation: str, openai_server: FakeOpenAIServer, server: LiveServer, env: dict[str, str]
) -> str:
    pytest.importorskip(
        "openinference.instrumentation.openai"
        if instrumentation == "openinference"
        else "opentelemetry.instrumentation.openai_v2"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.server._otlp_instrumented_app",
            instrumentation,
            openai_server.base_url,
            server.url + "/v1/traces",
        ],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("instrumentation", "env", "chat_name"),
    [
        ("openinference", {}, "ChatCompletion"),
        ("openai-v2", LATEST_GENAI, "chat gpt-4o-mini"),
    ],
    ids=["openinference", "otel-genai"],
)
def test_instrumented_openai_app(
    server: LiveServer,
    openai_server: FakeOpenAIServer,
    instrumentation: str,
    env: dict[str, str],
    chat_name: str,
) -> None:
    trace_id = run_app(instrumentation, openai_server, server, env)
    trace = server.store.get_trace(trace_id)
    spans = {s.name: s for s in trace.spans}
    chat = spans[chat_name]
    assert (chat.span_type, chat.model) == ("CHAT_MODEL", "gpt-4o-mini")
    assert (chat.input_tokens, chat.output_tokens) == (
        CHAT_USAGE["prompt_tokens"],
        CHAT_USAGE["completion_tokens"],
    )
    assert chat.cost == pytest.approx(12 * 0.15e-6 + 5 * 0.6e-6)
    assert chat.inputs == MESSAGES
    assert chat.outputs == ANSWER
    assert chat.parent_span_id == spans["answer-question"].span_id
    embedding = next(s for s in trace.spans if s.span_type == "EMBEDDING")
    assert (embedding.model, embedding.input_tokens) == (
        "text-embedding-3-small",
        EMBEDDING_USAGE["prompt_tokens"],
    )
    info = trace.info
    assert (info.name, info.span_count) == ("answer-question", 3)
    assert (info.input_tokens, info.output_tokens) == (12 + 6, 5)
    assert info.cost == pytest.approx(chat.cost + 6 * 0.02e-6)


def test_otel_genai_without_content_capture_still_gives_model_tokens_and_cost(
    sqlite_server: LiveServer, openai_server: FakeOpenAIServer
) -> None:
    trace_id = run_app("openai-v2", openai_server, sqlite_server, {})
    chat = next(
        s for s in sqlite_server.store.get_trace(trace_id).spans if s.name.startswith("chat")
    )
    assert (chat.span_type, chat.model, chat.input_tokens, chat.output_tokens) == (
        "CHAT_MODEL",
        "gpt-4o-mini",
        12,
        5,
    )
    assert chat.cost is not None
    assert chat.inputs is None and chat.outputs is None  # content is off by default
