"""The judge client against a local OpenAI-compatible server: structured output and its
fallbacks, tolerant parsing and repair, retries, logprobs, the cache, tracing, concurrency."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluators.judge import (
    JudgeCache,
    JudgeError,
    OpenAIJudge,
    _openai,
    get_judge,
    parse_json,
)
from tests.integrations.fake_openai_server import (
    FakeOpenAIServer,
    Reply,
    chat_completion,
    error_reply,
)
from tests.tracing.conftest import stored_traces

CHAT = "/v1/chat/completions"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"score": {"type": "integer"}, "reason": {"type": "string"}},
    "required": ["score", "reason"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "You grade answers."},
    {"role": "user", "content": "Question: 2+2? Answer: 4"},
]


def answer(content: str) -> Callable[[dict[str, Any]], Reply]:
    return lambda request: chat_completion(request, content=content)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh_modes(configure_tracing: Callable[..., str]) -> Iterator[None]:
    configure_tracing()  # spans go to a temporary store
    _openai._ENDPOINT_MODE.clear()
    yield
    _openai._ENDPOINT_MODE.clear()


def make(server: FakeOpenAIServer, **options: Any) -> OpenAIJudge:
    options.setdefault("cache", None)
    options.setdefault("backoff", 0.01)
    return OpenAIJudge("judge-model", base_url=server.base_url, api_key="sk-test", **options)


def ask(judge: OpenAIJudge, **kwargs: Any) -> Any:
    async def go() -> Any:
        try:
            return await judge.complete(MESSAGES, **kwargs)
        finally:
            await judge.aclose()

    return asyncio.run(go())


def test_json_schema_success_and_prompt(server: FakeOpenAIServer) -> None:
    server.script(CHAT, answer('{"score": 5, "reason": "right"}'))
    judge = make(server)
    reply = ask(judge, schema=SCHEMA, schema_name="grade")
    assert reply.data == {"score": 5, "reason": "right"}
    assert (reply.input_tokens, reply.output_tokens, reply.cached) == (12, 5, False)
    (request,) = server.requests_to(CHAT)
    assert request.body["messages"] == MESSAGES
    assert request.body["temperature"] == 0
    fmt = request.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"] == {"name": "grade", "schema": SCHEMA, "strict": True}
    assert judge.stats().calls == 1


def test_rejected_json_schema_falls_back_to_json_object_and_is_remembered(
    server: FakeOpenAIServer,
) -> None:
    server.script(
        CHAT,
        error_reply(400, "response_format json_schema is not supported by this model"),
        answer('{"score": 3, "reason": "ok"}'),
        answer('{"score": 4, "reason": "ok"}'),
    )
    judge = make(server)
    assert ask(judge, schema=SCHEMA).data["score"] == 3
    assert ask(judge, schema=SCHEMA).data["score"] == 4
    first, second, third = server.requests_to(CHAT)
    assert first.body["response_format"]["type"] == "json_schema"
    for request in (second, third):
        assert request.body["response_format"] == {"type": "json_object"}
        system = request.body["messages"][0]
        assert system["role"] == "system" and '"required": ["score", "reason"]' in system["content"]
        assert request.body["messages"][1:] == MESSAGES


def test_json_object_rejected_falls_back_to_plain_text(server: FakeOpenAIServer) -> None:
    server.script(
        CHAT,
        error_reply(400, "response_format is unsupported"),
        error_reply(400, "response_format json_object unsupported"),
        answer('{"score": 2, "reason": "meh"}'),
    )
    reply = ask(make(server), schema=SCHEMA)
    assert reply.data["score"] == 2
    assert "response_format" not in server.requests_to(CHAT)[-1].body


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"score": 4, "reason": "fenced"}\n```',
        'Here is my verdict: {"score": 4, "reason": "with {braces} inside"} Thanks!',
        'Sure.\n```\n{"score": 4, "reason": "bare fence"}\n```\n',
    ],
)
def test_tolerant_parsing(server: FakeOpenAIServer, text: str) -> None:
    server.script(CHAT, answer(text))
    reply = ask(make(server), schema=SCHEMA)
    assert reply.data["score"] == 4
    assert len(server.requests_to(CHAT)) == 1


def test_malformed_then_repaired(server: FakeOpenAIServer) -> None:
    server.script(CHAT, answer('{"score": 4, "reason": '), answer('{"score": 4, "reason": "x"}'))
    judge = make(server)
    reply = ask(judge, schema=SCHEMA)
    assert reply.data == {"score": 4, "reason": "x"}
    assert (reply.input_tokens, reply.output_tokens) == (24, 10)  # both calls counted
    repair = server.requests_to(CHAT)[1].body["messages"]
    assert repair[:2] == MESSAGES
    assert repair[2] == {"role": "assistant", "content": '{"score": 4, "reason": '}
    assert repair[3]["role"] == "user" and "valid JSON" in repair[3]["content"]


def test_wrong_types_are_repaired(server: FakeOpenAIServer) -> None:
    server.script(CHAT, answer('{"score": "high"}'), answer('{"score": 1, "reason": "y"}'))
    assert ask(make(server), schema=SCHEMA).data["score"] == 1
    assert "'reason'" in server.requests_to(CHAT)[1].body["messages"][-1]["content"]


def test_malformed_twice_raises(server: FakeOpenAIServer) -> None:
    server.script(CHAT, answer("no json here"), answer("still none"))
    judge = make(server)
    with pytest.raises(JudgeError, match="after one repair"):
        ask(judge, schema=SCHEMA)
    assert judge.stats().errors == 1 and judge.stats().calls == 2


def test_429_then_200_honours_retry_after(server: FakeOpenAIServer) -> None:
    server.script(
        CHAT,
        error_reply(429, "slow down", headers={"retry-after-ms": "300"}),
        answer('{"score": 1, "reason": "r"}'),
    )
    judge = make(server, backoff=0.0)
    started = time.perf_counter()
    assert ask(judge, schema=SCHEMA).data["score"] == 1
    assert time.perf_counter() - started >= 0.3
    stats = judge.stats()
    assert (stats.retries, stats.calls, stats.errors) == (1, 1, 0)


def test_retry_after_seconds_header(server: FakeOpenAIServer) -> None:
    server.script(
        CHAT,
        Reply(status=503, body={"error": {"message": "busy"}}, headers={"retry-after": "0.2"}),
        None,
    )
    started = time.perf_counter()
    assert ask(make(server, backoff=0.0)).text == "Hello there!"
    assert time.perf_counter() - started >= 0.2


def test_timeout_then_success(server: FakeOpenAIServer) -> None:
    server.script(CHAT, Reply(delay=1.0, body={}), answer("fine"))
    judge = make(server, timeout=0.3)
    reply = ask(judge)
    assert reply.text == "fine" and reply.data is None
    assert judge.stats().retries == 1


def test_500s_exhaust_retries(server: FakeOpenAIServer) -> None:
    server.script(CHAT, *[error_reply(500, "boom") for _ in range(3)])
    judge = make(server, max_retries=2)
    with pytest.raises(JudgeError, match=r"after 3 attempts.*500"):
        ask(judge)
    assert len(server.requests_to(CHAT)) == 3
    assert judge.stats().retries == 2 and judge.stats().errors == 1


def test_client_error_is_not_retried(server: FakeOpenAIServer) -> None:
    server.script(CHAT, error_reply(401, "bad key", type="authentication_error"))
    with pytest.raises(JudgeError, match="401"):
        ask(make(server))
    assert len(server.requests_to(CHAT)) == 1


def with_logprobs(request: dict[str, Any]) -> Reply:
    reply = chat_completion(request, content="Yes")
    reply.body["choices"][0]["logprobs"] = {
        "content": [
            {
                "token": "Yes",
                "logprob": -0.1,
                "bytes": None,
                "top_logprobs": [
                    {"token": "Yes", "logprob": -0.1, "bytes": None},
                    {"token": "No", "logprob": -2.5, "bytes": None},
                ],
            }
        ],
        "refusal": None,
    }
    return reply


def test_logprobs(server: FakeOpenAIServer) -> None:
    server.script(CHAT, with_logprobs)
    reply = ask(make(server), logprobs=2)
    (token,) = reply.logprobs
    assert (token.token, token.logprob) == ("Yes", -0.1)
    assert dict(token.top) == {"Yes": -0.1, "No": -2.5}
    body = server.requests_to(CHAT)[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 2


def test_cache_second_run_makes_no_call(server: FakeOpenAIServer, tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    server.script(CHAT, with_logprobs, answer('{"score": 3, "reason": "c"}'))
    first = make(server, cache=path)
    fresh = ask(first, logprobs=2)
    assert ask(first, schema=SCHEMA).data["score"] == 3
    assert len(server.requests_to(CHAT)) == 2

    second = make(server, cache=path)  # a new judge, as in a re-run
    again = ask(second, logprobs=2)
    assert again.cached and again.text == fresh.text and again.logprobs == fresh.logprobs
    assert ask(second, schema=SCHEMA).data == {"score": 3, "reason": "c"}
    assert len(server.requests_to(CHAT)) == 2  # zero new calls
    assert second.stats().cached == 2 and second.stats().calls == 0
    assert isinstance(second.cache, JudgeCache) and second.cache.hits == 2

    async def other_prompt() -> Any:
        return await second.complete([{"role": "user", "content": "different"}])

    asyncio.run(other_prompt())
    assert len(server.requests_to(CHAT)) == 3  # a different prompt misses


def test_failures_are_not_cached(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.script(CHAT, error_reply(400, "nope"), answer("ok"))
    judge = make(server, cache=tmp_path / "c.db")
    with pytest.raises(JudgeError):
        ask(judge)
    assert ask(judge).text == "ok"


def test_cache_is_shared_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    code = (
        "import sys; from evaluators.judge import JudgeCache, JudgeReply;"
        "JudgeCache(sys.argv[1]).put('k', JudgeReply('from child', data={'a': 1}, cost=0.5))"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    reply = JudgeCache(path).get("k")
    assert reply is not None and reply.cached
    assert (reply.text, reply.data, reply.cost) == ("from child", {"a": 1}, 0.0)


def test_default_cache_lives_in_llmtrace_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    judge = OpenAIJudge("m", base_url="http://127.0.0.1:9/v1", api_key="k")
    assert judge.cache is not None
    assert judge.cache.path == tmp_path / "home" / "judge_cache.db"


def test_evaluator_span_with_tokens_and_cost(
    server: FakeOpenAIServer, configure_tracing: Callable[..., str], tmp_path: Path
) -> None:
    from llmtrace import pricing

    pricing.set_price("judge-model", input=1.0, output=2.0)
    try:
        server.script(CHAT, answer('{"score": 5, "reason": "r"}'))
        judge = make(server, cache=tmp_path / "c.db")
        reply = ask(judge, schema=SCHEMA)
        cached = ask(judge, schema=SCHEMA)
    finally:
        pricing.reset_prices()
    assert reply.cost == pytest.approx((12 * 1.0 + 5 * 2.0) / 1e6)
    assert cached.cached and cached.cost == 0.0
    assert judge.stats().cost == pytest.approx(reply.cost)
    traces = stored_traces()
    spans = [s for t in traces for s in t.spans]
    assert [s.name for s in spans] == ["judge:judge-model", "judge:judge-model"]
    live, hit = spans
    assert str(live.span_type) == "EVALUATOR"
    assert (live.input_tokens, live.output_tokens, live.model) == (12, 5, "judge-model")
    assert live.cost == pytest.approx(reply.cost)
    assert live.attributes["judge.cached"] is False
    assert hit.attributes["judge.cached"] is True


def test_concurrency_is_bounded_and_parallel() -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        judge = make(server, max_concurrency=16)

        async def run() -> float:
            await judge.complete([{"role": "user", "content": "warm up"}])  # store, client
            started = time.perf_counter()
            await asyncio.gather(*(judge.complete(MESSAGES) for _ in range(64)))
            elapsed = time.perf_counter() - started
            assert judge.limiter.peak == 16
            await judge.aclose()
            return elapsed

        elapsed = asyncio.run(run())
    assert len(server.requests_to(CHAT)) == 65
    assert elapsed < 0.8, elapsed  # 4 waves of 50 ms, not 64 x 50 ms = 3.2 s


def test_adaptive_concurrency_halves_on_429s(server: FakeOpenAIServer) -> None:
    server.script(CHAT, *[error_reply(429, "slow") for _ in range(8)])
    judge = make(server, max_concurrency=8)

    async def run() -> tuple[float, int]:
        await asyncio.gather(*(judge.complete(MESSAGES) for _ in range(8)))
        limit = judge.limiter.limit
        other = make(server, max_concurrency=8)
        shared = other.limiter is judge.limiter
        await judge.aclose()
        return limit, int(shared)

    limit, shared = asyncio.run(run())
    assert limit < 8 and shared == 1
    assert judge.stats().retries == 8 and judge.stats().calls == 8


def test_azure_deployment(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    judge = get_judge("azure:my-deploy", cache=None)
    assert isinstance(judge, OpenAIJudge) and judge.azure

    async def go() -> Any:
        return await judge.complete(MESSAGES)

    assert asyncio.run(go()).text == "Hello there!"
    (request,) = server.requests_to(CHAT)
    assert request.headers["api-key"] == "az-key"


def test_get_judge_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    judge = get_judge("openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1", cache=None)
    assert isinstance(judge, OpenAIJudge) and judge.model == "gpt-4o-mini"
    assert judge.base_url == "http://127.0.0.1:9/v1"
    assert get_judge(judge) is judge
    monkeypatch.setenv("LLMTRACE_JUDGE", "openai:from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    from_env = get_judge(cache=None)
    assert isinstance(from_env, OpenAIJudge) and from_env.model == "from-env"
    assert from_env.base_url == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("LLMTRACE_JUDGE")
    with pytest.raises(ValueError, match="LLMTRACE_JUDGE"):
        get_judge()
    with pytest.raises(ValueError, match="unknown judge provider"):
        get_judge("anthropic:claude")
    with pytest.raises(TypeError):
        get_judge(42)


def test_parse_json_checks_schema() -> None:
    assert parse_json('x {"a": [1, {"b": 2}]} y') == {"a": [1, {"b": 2}]}
    with pytest.raises(ValueError, match="required key 'reason'"):
        parse_json('{"score": 1}', SCHEMA)
    with pytest.raises(ValueError, match="integer"):
        parse_json('{"score": true, "reason": "r"}', SCHEMA)
    with pytest.raises(ValueError, match="one of"):
        parse_json('{"v": "maybe"}', {"properties": {"v": {"enum": ["yes", "no"]}}})
    assert json.dumps(parse_json('{"score": 2.0, "reason": ""}', SCHEMA)) == (
        '{"score": 2.0, "reason": ""}'
    )


def test_langchain_judge_parses_and_repairs() -> None:
    fake = pytest.importorskip("langchain_core.language_models.fake_chat_models")
    from evaluators.judge import LangChainJudge

    model = fake.FakeListChatModel(
        responses=["no json", '```json\n{"score": 2, "reason": "r"}\n```']
    )
    judge = get_judge(model)
    assert isinstance(judge, LangChainJudge)

    async def go() -> Any:
        return await judge.complete(MESSAGES, schema=SCHEMA)

    reply = asyncio.run(go())
    assert reply.data == {"score": 2, "reason": "r"}
    assert judge.stats().calls == 2
    bad = fake.FakeListChatModel(responses=["nope", "still nope"])
    with pytest.raises(JudgeError, match="repair"):
        asyncio.run(LangChainJudge(bad).complete(MESSAGES, schema=SCHEMA))


def test_evaluation_rerun_makes_zero_judge_calls(server: FakeOpenAIServer, tmp_path: Path) -> None:
    from evaluators import evaluate
    from evaluators.scorers._llm_judge import LLMJudge

    verdict = answer('{"rationale": "matches", "verdict": true}')
    server.script(CHAT, *[verdict] * 5)
    data = [{"inputs": f"q{i}", "outputs": f"a{i}"} for i in range(5)]

    def run() -> Any:
        judge = get_judge(
            "openai:judge-model", base_url=server.base_url, api_key="k", cache=tmp_path / "c.db"
        )
        scorer = LLMJudge("correct", criteria="The answer is correct.")
        return evaluate(data, scorers=[scorer], judge=judge, log=False), judge

    first, judge1 = run()
    assert judge1.stats().calls == 5
    assert len(server.requests_to(CHAT)) == 5
    assert "q3" in json.dumps([r.body["messages"] for r in server.requests_to(CHAT)])
    second, judge2 = run()
    assert len(server.requests_to(CHAT)) == 5  # the re-run made no judge call
    assert judge2.stats().cached == 5 and judge2.stats().calls == 0
    assert first.rows["correct"].tolist() == second.rows["correct"].tolist()
