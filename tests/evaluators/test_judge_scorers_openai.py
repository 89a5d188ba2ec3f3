"""Judge scorers end to end through the real `OpenAIJudge` (and `openai` client) against the
local fake OpenAI-compatible server: structured-output requests, logprobs, HTTP failures."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest

from evaluators._types import Row, Score
from evaluators.judge import OpenAIJudge
from evaluators.scorers._llm_judge import LLMJudge
from evaluators.scorers._rag import Faithfulness
from tests.integrations.fake_openai_server import (
    FakeOpenAIServer,
    Reply,
    chat_completion,
    error_reply,
)

CHAT = "/v1/chat/completions"
ROW = Row(
    0,
    {"question": "When was the Eiffel Tower finished?"},
    "It was finished in 1889. It is in Rome.",
    context=["The Eiffel Tower in Paris was completed in 1889."],
)


def json_reply(data: dict[str, Any], logprobs: list[dict[str, Any]] | None = None) -> Any:
    def build(request: dict[str, Any]) -> Reply:
        reply = chat_completion(request, content=json.dumps(data))
        if logprobs is not None:
            reply.body["choices"][0]["logprobs"] = {"content": logprobs, "refusal": None}
        return reply

    return build


def token(text: str, p: float, top: dict[str, float] | None = None) -> dict[str, Any]:
    alternatives = top or {text: p}
    return {
        "token": text,
        "logprob": math.log(p),
        "bytes": None,
        "top_logprobs": [
            {"token": t, "logprob": math.log(q), "bytes": None} for t, q in alternatives.items()
        ],
    }


def judge_for(server: FakeOpenAIServer) -> OpenAIJudge:
    return OpenAIJudge(
        "judge-model",
        base_url=server.base_url + "/v1",
        api_key="sk-test",
        cache=None,
        max_retries=0,
    )


def run_score(scorer: Any, row: Row, judge: OpenAIJudge) -> Score:
    async def go() -> Score:
        try:
            result = await scorer.score(row, judge)
        finally:
            await judge.aclose()
        assert isinstance(result, Score)
        return result

    return asyncio.run(go())


def test_faithfulness_through_openai_judge() -> None:
    with FakeOpenAIServer() as server:
        server.script(
            CHAT,
            json_reply({"rationale": "two", "claims": ["Finished in 1889.", "It is in Rome."]}),
            json_reply(
                {
                    "rationale": "Paris, not Rome",
                    "verdicts": [
                        {"index": 1, "rationale": "doc 1", "supported": True},
                        {"index": 2, "rationale": "doc 1 says Paris", "supported": False},
                    ],
                }
            ),
        )
        result = run_score(Faithfulness(), ROW, judge_for(server))
        requests = server.requests_to(CHAT)
    assert result.ok, result.error
    assert result.value == 0.5 and result.metadata["unsupported"] == ["It is in Rome."]
    assert len(requests) == 2
    first = requests[0].body
    assert first["model"] == "judge-model"
    assert ROW.answer in json.dumps(first["messages"])
    fmt = first.get("response_format", {})
    assert fmt.get("type") == "json_schema"
    assert fmt["json_schema"]["schema"]["required"] == ["rationale", "claims"]
    assert "Paris" in json.dumps(requests[1].body["messages"])


def test_probability_weighted_score_through_openai_judge() -> None:
    content = [
        token('{"', 0.99),
        token("rationale", 0.99),
        token("4", 0.6, {"4": 0.6, "5": 0.3, "3": 0.1}),
        token("}", 0.99),
    ]
    with FakeOpenAIServer() as server:
        server.script(CHAT, json_reply({"rationale": "solid", "score": 4}, content))
        scorer = LLMJudge("quality", criteria="Quality.", output=range(1, 6))
        result = run_score(scorer, ROW, judge_for(server))
        body = server.requests_to(CHAT)[0].body
    assert result.ok, result.error
    assert body["logprobs"] is True and body["top_logprobs"] == 10
    assert result.value is not None
    assert result.value == pytest.approx(4 * 0.6 + 5 * 0.3 + 3 * 0.1)
    assert result.metadata["weighted"] is True


def test_http_failure_becomes_a_failed_score() -> None:
    with FakeOpenAIServer() as server:
        server.script(CHAT, error_reply(400, "bad model"))
        result = run_score(LLMJudge("x", criteria="c"), ROW, judge_for(server))
    assert not result.ok and result.value is None
    assert result.error is not None and "400" in result.error
