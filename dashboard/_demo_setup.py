"""What the demo puts in the store besides evaluations: prompts, the dataset, some "production"
traffic (sessions, users, streaming, two failing requests) and the registered model.

Every step can run again on the same store: existing prompt versions and the dataset are reused
(the dataset's records are merged by their inputs), new traces, runs and model versions are
added.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import llmtrace
from dashboard._demo_pipeline import PROMPT_MESSAGES, PROMPT_NAME, PROMPT_TEMPLATES, RagPipeline
from llmtrace import registry
from llmtrace.models import ModelInfo, log_model

DATASET_NAME = "demo-rag-qa"
MODEL_NAME = "demo-rag"
REQUESTER = "demo"
REVIEWER = "demo-reviewer"
USERS = ("ada", "grace", "linus", "margaret")
# Requests that fail on purpose, so that the dashboard has errors to show.
FAILING_QUESTIONS = ("", "Xyzzy plugh frobozz?")


def ensure_prompts() -> dict[str, Any]:
    """Prompt `demo-rag-qa`: the v1 (terse) and v2 (context only) templates, each registered once
    (a re-run finds them), with alias `production` on v1. Returns `{"v1": pv, "v2": pv}`."""
    store = llmtrace.get_store()
    existing: list[Any] = []
    with contextlib.suppress(llmtrace.NotFoundError):
        existing = list(store.list_prompt_versions(PROMPT_NAME, limit=100))
    found: dict[str, Any] = {}
    for variant, template in PROMPT_TEMPLATES.items():
        match = [pv for pv in existing if pv.template == template]
        if match:
            found[variant] = min(match, key=lambda pv: pv.version)
        else:
            found[variant] = llmtrace.register_prompt(
                PROMPT_NAME,
                template,
                commit_message=PROMPT_MESSAGES[variant],
                tags={"demo": variant},
                config={"temperature": 0},
            )
    llmtrace.set_prompt_alias(PROMPT_NAME, "production", found["v1"].version)
    return found


def ensure_dataset(rows: list[dict[str, Any]]) -> tuple[Any, int, int]:
    """The stored dataset `demo-rag-qa` with `rows` merged in: (dataset, inserted, updated)."""
    try:
        dataset = llmtrace.get_dataset(DATASET_NAME)
    except llmtrace.NotFoundError:
        dataset = llmtrace.create_dataset(
            DATASET_NAME,
            description="Questions, passages and right answers from HaluEval (llmtrace demo)",
            tags={"source": "HaluEval", "demo": "true"},
        )
    merged = dataset.merge_records(rows)
    return dataset, int(merged.inserted), int(merged.updated)


@dataclass
class Traffic:
    """What the simulated production traffic produced."""

    answered: int = 0
    failed: int = 0
    sessions: int = 0


def _turn(
    pipeline: RagPipeline, question: str, *, session: str | None, user: str, tag: str, stream: bool
) -> bool:
    try:
        with llmtrace.span("chat_turn", span_type="CHAIN", inputs={"question": question}) as s:
            llmtrace.update_current_trace(
                session_id=session, user_id=user, tags={"demo_run": tag, "env": "demo"}
            )
            s.set_outputs(pipeline.answer(question, stream=stream))
    except (ValueError, LookupError):
        return False  # the span recorded the exception: an ERROR trace
    return True


def simulate_traffic(pipeline: RagPipeline, questions: Iterable[str], tag: str) -> Traffic:
    """Answer `questions` as chat conversations of three turns (each a session of one user,
    every other session streamed), then the failing requests as one-off calls."""
    questions = list(questions)
    sessions = [questions[i : i + 3] for i in range(0, len(questions), 3)]
    result = Traffic(sessions=len(sessions))

    def converse(k: int) -> list[bool]:
        user = USERS[k % len(USERS)]
        return [
            _turn(pipeline, q, session=f"chat-{tag}-{k + 1}", user=user, tag=tag, stream=k % 2 == 1)
            for q in sessions[k]
        ]

    with llmtrace.ContextThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [ok for turns in pool.map(converse, range(len(sessions))) for ok in turns]
    for i, question in enumerate(FAILING_QUESTIONS):
        outcomes.append(
            _turn(pipeline, question, session=None, user=USERS[i], tag=tag, stream=False)
        )
    result.answered = sum(outcomes)
    result.failed = len(outcomes) - result.answered
    return result


@dataclass
class Registered:
    """The model version the demo registered, and its approval requests."""

    info: ModelInfo
    version: int
    staging_request: str
    production_request: str
    cancelled: int


def register_pipeline(pipeline: RagPipeline, prompt_uri: str, run_id: str) -> Registered:
    """Log `pipeline` to the run as an `llm_pipeline` model, register it as the next version of
    `demo-rag` (a model whose stage changes need approval), point `champion` at it, move it to
    Staging through an approved request, and leave its request for Production pending."""
    store = llmtrace.get_store()
    try:
        registry.create_registered_model(
            MODEL_NAME,
            description="The llmtrace demo's RAG pipeline (prompt v2)",
            tags={"demo": "true"},
            requires_approval=True,
        )
    except llmtrace.AlreadyExistsError:
        store.update_registered_model(MODEL_NAME, requires_approval=True)
    info = log_model(
        pipeline.portable(),
        "model",
        run_id=run_id,
        flavor="llm_pipeline",
        prompts=[prompt_uri],
        input_example={"question": "Which city is the head office of The Oberoi Group in?"},
        metadata={"demo": True, "dataset": DATASET_NAME},
        registered_model_name=MODEL_NAME,
    )
    version = int(info.registered_model_version or 0)
    registry.set_model_alias(MODEL_NAME, "champion", version)
    cancelled = 0
    for old in store.search_transition_requests(MODEL_NAME, status="PENDING"):
        if old.requested_by == REQUESTER and old.version != version:
            store.cancel_transition_request(
                old.request_id, cancelled_by=REQUESTER, comment=f"superseded by version {version}"
            )
            cancelled += 1
    staging = store.create_transition_request(
        MODEL_NAME, version, "Staging", requested_by=REQUESTER, comment="evaluation run attached"
    )
    store.approve_transition_request(
        staging.request_id, approved_by=REVIEWER, comment="scores look fine for staging"
    )
    production = store.create_transition_request(
        MODEL_NAME,
        version,
        "Production",
        archive_existing_versions=True,
        requested_by=REQUESTER,
        comment=f"prompt v2 (answer only from the context); evaluation run {run_id}",
    )
    return Registered(info, version, staging.request_id, production.request_id, cancelled)


__all__ = [
    "DATASET_NAME",
    "FAILING_QUESTIONS",
    "MODEL_NAME",
    "REQUESTER",
    "Registered",
    "Traffic",
    "ensure_dataset",
    "ensure_prompts",
    "register_pipeline",
    "simulate_traffic",
]
