"""`python -m dashboard.demo`: the stand-in endpoint, and a whole demo run (twice) on SQLite.

The demo runs in a child process (it configures llmtrace globally), with no OPENAI_* variables,
so it uses the stand-in; everything is then read back from the store through the public API.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard._demo_pipeline import PROMPT_TEMPLATES
from dashboard._demo_standin import STANDIN_MODEL, StandInServer, rag_answer
from dashboard._demo_verdicts import conform
from evaluators import Row, Score
from evaluators.judge import OpenAIJudge
from evaluators.scorers import (
    ContextPrecision,
    ContextRecall,
    ContextRelevance,
    Correctness,
    Faithfulness,
    Relevance,
    Toxicity,
)
from llmtrace.store import SqlStore

REPO = Path(__file__).resolve().parents[2]
ROWS = 8
CONTEXT = [
    "The Oberoi Group is a hotel company with its head office in Delhi.",
    "House of Anubis first aired in September 2006.",
]


@pytest.fixture(scope="module")
def standin() -> Iterator[StandInServer]:
    with StandInServer() as server:
        yield server


def _messages(variant: str, question: str, context: list[str]) -> list[dict[str, str]]:
    docs = "\n".join(f"[{i}] {c}" for i, c in enumerate(context, start=1))
    user = PROMPT_TEMPLATES[variant][1]["content"]
    user = user.replace("{{ question }}", question).replace("{{ context }}", docs)
    return [PROMPT_TEMPLATES[variant][0], {"role": "user", "content": user}]


def test_rag_answers_come_from_the_context_and_differ_by_prompt() -> None:
    question = "The Oberoi family is part of a hotel company with a head office in what city?"
    for variant in ("v1", "v2"):
        assert "Delhi" in rag_answer(_messages(variant, question, CONTEXT))
    unanswerable = "Which composer wrote the symphony about the moon landing?"
    assert "don't know" in rag_answer(_messages("v2", unanswerable, CONTEXT))
    assert "don't know" not in rag_answer(_messages("v1", unanswerable, CONTEXT))


def test_standin_speaks_the_openai_protocol(standin: StandInServer) -> None:
    import openai

    client = openai.OpenAI(base_url=standin.base_url, api_key="none", max_retries=0)
    messages: Any = _messages("v1", "Where is the head office of The Oberoi Group?", CONTEXT)
    reply = client.chat.completions.create(model=STANDIN_MODEL, messages=messages)
    assert reply.model == STANDIN_MODEL
    assert "Delhi" in (reply.choices[0].message.content or "")
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    stream = client.chat.completions.create(
        model=STANDIN_MODEL,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == (reply.choices[0].message.content or "").strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_standin_judge_replies_match_each_scorer_schema(standin: StandInServer) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import openai

    client = openai.OpenAI(base_url=standin.base_url, api_key="none", max_retries=0)
    faith = Faithfulness()
    schemas = {
        "relevance": Relevance().schema,  # type: ignore[attr-defined]
        "correctness": Correctness().schema,
        "graded": Correctness(graded=True).schema,
        "claims": faith.claims_schema,
        "verdicts": faith.verify_schema,
        "documents": ContextRelevance().schema,
        "statements": ContextRecall().schema,
        "toxicity": Toxicity().schema,  # type: ignore[attr-defined]
        "unknown": {
            "type": "object",
            "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
            "required": ["score"],
            "additionalProperties": False,
        },
    }
    user = (
        "<question>\nWhere is the head office?\n</question>\n\n<answer>\nIn Delhi.\n</answer>\n"
        "<context>\n[document 1]\nThe head office is in Delhi.\n</context>\n"
        "<claims>\n[claim 1]\nThe head office is in Delhi.\n\n[claim 2]\nIt opened in 1934.\n"
        "</claims>"
    )
    for name, schema in schemas.items():
        reply = client.chat.completions.create(
            model=STANDIN_MODEL,
            messages=[{"role": "user", "content": user}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            },
        )
        data = json.loads(reply.choices[0].message.content or "")
        jsonschema.validate(data, schema)
        assert reply.usage is not None and reply.usage.total_tokens > 0
        if name == "verdicts":
            assert [v["supported"] for v in data["verdicts"]] == [True, False]


def test_conform_fills_and_prunes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "rating": {"type": "integer", "enum": [1, 2, 3]},
            "items": {"type": "array", "items": {"type": "boolean"}},
        },
    }
    assert conform({"rating": 9, "extra": 1, "items": [True, "x"]}, schema) == {
        "rating": 1,
        "items": [True, False],
    }


def test_every_judge_scorer_accepts_the_standins_verdicts(standin: StandInServer) -> None:
    row = Row(
        index=0,
        inputs={"question": "Where is the head office of The Oberoi Group?"},
        outputs="The Oberoi Group has its head office in Delhi. It was founded on the moon.",
        expectations={"expected_response": "Delhi"},
        context=CONTEXT,
    )
    judge = OpenAIJudge(STANDIN_MODEL, base_url=standin.base_url, cache=None, max_retries=0)
    scorers = [
        Correctness(),
        Correctness(graded=True, name="graded"),
        Faithfulness(),
        Relevance(),
        ContextRelevance(),
        ContextPrecision(),
        ContextRecall(),
        Toxicity(),
    ]

    async def score_all() -> list[Any]:
        try:
            return [await s.score(row, judge) for s in scorers]
        finally:
            await judge.aclose()

    scores = asyncio.run(score_all())
    for scorer, score in zip(scorers, scores, strict=True):
        assert isinstance(score, Score), scorer.name
        assert score.error is None, f"{scorer.name}: {score.error}"
    by_name = {s.name: sc for s, sc in zip(scorers, scores, strict=True)}
    assert by_name["correctness"].value is True
    assert by_name["faithfulness"].value == 0.5  # the moon claim is not in the context
    assert "stand-in" in (by_name["relevance"].rationale or "")


# --- the whole demo ---------------------------------------------------------------------------


def _run_demo(url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLMTRACE_"))}
    env["LLMTRACE_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "dashboard.demo", "--no-ui", "--rows", str(ROWS), "--store", url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqlStore, list[str]]]:
    home = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{home / 'demo.db'}"
    outputs = []
    for _ in range(2):  # a re-run on the same store must work too
        done = _run_demo(url, home)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        outputs.append(done.stdout)
    store = SqlStore(url)
    try:
        yield store, outputs
    finally:
        store.close()


def test_demo_says_it_uses_the_standin(demo_store: tuple[SqlStore, list[str]]) -> None:
    _, outputs = demo_store
    for out in outputs:
        assert "LOCAL STAND-IN SERVER" in out and "NOT from a language model" in out
        assert "compare(prompt-v1, prompt-v2)" in out and "llmtrace ui --store" in out


def test_demo_traces_sessions_errors_and_prompt_links(
    demo_store: tuple[SqlStore, list[str]],
) -> None:
    store, _ = demo_store
    traffic = store.search_traces("name = 'chat_turn'", limit=200, project="demo")
    assert len(traffic) == 2 * (ROWS + 2)
    assert len([t for t in traffic if t.status == "ERROR"]) == 4
    assert len({t.session_id for t in traffic if t.session_id}) == 2 * 3  # 8 rows: 3 chats each
    assert {t.user_id for t in traffic} >= {"ada", "grace"}
    ok = next(t for t in traffic if t.status == "OK")
    spans = store.get_trace(ok.trace_id).spans
    kinds = {s.span_type for s in spans}
    assert {"CHAIN", "RETRIEVER", "CHAT_MODEL"} <= kinds
    llm = next(s for s in spans if s.span_type == "CHAT_MODEL")
    assert llm.attributes["llmtrace.prompt.name"] == "demo-rag-qa"
    assert llm.attributes["llmtrace.prompt.version"] == 1  # production -> v1
    assert llm.attributes["gen_ai.usage.input_tokens"] > 0
    assert store.get_trace(ok.trace_id).info.cost  # the stand-in model was priced
    retrieved = next(s for s in spans if s.span_type == "RETRIEVER").outputs
    assert retrieved and {"id", "score", "content"} <= set(retrieved[0])
    v2 = store.search_traces("tag.`prompt.demo-rag-qa` = '2'", limit=5, project="demo")
    assert v2, "the v2 evaluation traces are linked to prompt version 2"


def test_demo_evaluations_with_per_row_results(demo_store: tuple[SqlStore, list[str]]) -> None:
    store, _ = demo_store
    experiment = store.get_experiment_by_name("demo-rag")
    assert experiment is not None
    runs = list(store.search_runs([experiment.experiment_id], limit=50))
    assert sorted(r.info.name for r in runs) == ["prompt-v1"] * 2 + ["prompt-v2"] * 2
    for run in runs:
        assert run.metrics["rows"] == ROWS and run.metrics["predict_errors"] == 0
        for scorer in ("correctness", "faithfulness", "relevance", "latency", "length"):
            assert run.metrics[f"{scorer}/errors"] == 0, scorer
            assert run.metrics[f"{scorer}/count"] == ROWS, scorer
    latest = max(runs, key=lambda r: r.info.start_time)
    assert latest.info.name == "prompt-v2"
    assert latest.params["dataset"] == "demo-rag-qa"
    # Each row's scores are stored on its trace, with the run as their source.
    rows = store.search_traces("name = 'rag_v2'", limit=50, project="demo")
    assert len(rows) == 2 * ROWS
    names = {a.name for t in rows for a in store.get_assessments(t.trace_id)}
    assert {"correctness", "faithfulness", "relevance", "latency", "length"} <= names


def test_demo_registry_prompts_and_dataset(demo_store: tuple[SqlStore, list[str]]) -> None:
    store, _ = demo_store
    model = store.get_registered_model("demo-rag")
    assert model.requires_approval
    champion = store.get_model_version_by_alias("demo-rag", "champion")
    assert champion.version == 2  # the second run registered version 2 and moved the alias
    assert champion.stage == "Staging"
    pending = store.search_transition_requests("demo-rag", status="PENDING")
    assert [(p.version, p.to_stage, p.requested_by) for p in pending] == [(2, "Production", "demo")]
    prompt = store.get_prompt("demo-rag-qa")
    assert prompt.latest_version == 2 and prompt.aliases == {"production": 1}
    dataset = store.get_dataset("demo-rag-qa")
    assert dataset.record_count == ROWS
