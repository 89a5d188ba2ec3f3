"""The traced workload shared by llmtrace and the peer, so both trace exactly the same code.

Standard library only: the peer (MLflow) imports this module from its own virtualenv.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUESTION = "What is the refund policy for damaged items?"
SPANS_PER_PIPELINE = 5

# A decorator factory: span_type -> decorator (e.g. `lambda t: llmtrace.trace(span_type=t)`).
TraceFactory = Callable[[str], Callable[[Callable[..., Any]], Callable[..., Any]]]


def answer(question: str, k: int) -> str:
    """The small function of the overhead benchmark: two small arguments, a short string back."""
    return question[:k]


def build_pipeline(trace: TraceFactory) -> Callable[[str], str]:
    """A RAG-shaped pipeline of 5 nested traced functions (3 levels deep); returns its entry.

    handle -> retrieve, rerank, generate -> call_model
    """

    @trace("RETRIEVER")
    def retrieve(query: str, k: int = 3) -> list[str]:
        return [f"doc-{i}" for i in range(k)]

    @trace("RERANKER")
    def rerank(query: str, docs: list[str]) -> list[str]:
        return docs[:2]

    @trace("LLM")
    def call_model(prompt: str) -> str:
        return "Damaged items can be refunded within 30 days."

    @trace("CHAIN")
    def generate(query: str, docs: list[str]) -> str:
        return call_model(f"Context: {', '.join(docs)}\nQuestion: {query}")

    @trace("CHAIN")
    def handle(question: str) -> str:
        docs = retrieve(question)
        return generate(question, rerank(question, docs))

    return handle


# --- synthetic stored traces (search benchmark) ---------------------------------------------

QUESTIONS = (
    "What is the refund policy for damaged items?",
    "How do I reset my password?",
    "Where is my order?",
    "Can I change my delivery address?",
    "Do you ship to Canada?",
    "How do I cancel my subscription?",
    "What payment methods do you accept?",
    "Is there a student discount?",
    "How long does shipping take?",
    "Can I talk to a human?",
)
SESSIONS = 5000
TRACE_SPACING_NS = 30_000_000  # one trace every 30 ms, newest last


@dataclass
class SyntheticSpan:
    """One span of a synthetic trace; times are offsets from the trace start, in ns."""

    name: str
    span_type: str
    offset_ns: int
    duration_ns: int
    inputs: str
    outputs: str
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class SyntheticTrace:
    """A stored trace as the search benchmark wants it: varied status, latency, tags, session."""

    index: int
    start_ns: int
    duration_ns: int
    error: bool
    env: str
    session_id: str
    question: str
    spans: list[SyntheticSpan] = field(default_factory=list)


def synthetic_trace(i: int, base_ns: int) -> SyntheticTrace:
    """Trace number `i` (deterministic): ~5% ERROR, log-normal latency (median ~150 ms, ~6%
    above 500 ms), tag env prod (70%) or dev, 5,000 sessions, an LLM span in 60% of traces
    (with token usage), a retriever span in 50%; 10% of questions mention "refund"."""
    rng = random.Random(i)
    duration_ns = int(rng.lognormvariate(5.0, 0.8) * 1e6) + 1_000_000
    trace = SyntheticTrace(
        index=i,
        start_ns=base_ns + i * TRACE_SPACING_NS,
        duration_ns=duration_ns,
        error=rng.random() < 0.05,
        env="prod" if rng.random() < 0.7 else "dev",
        session_id=f"s-{rng.randrange(SESSIONS)}",
        question=QUESTIONS[rng.randrange(len(QUESTIONS))],
    )
    trace.spans.append(
        SyntheticSpan(
            "handle",
            "CHAIN",
            0,
            duration_ns,
            f'{{"question":"{trace.question}"}}',
            '"Sure, here is what I found."',
        )
    )
    if rng.random() < 0.5:
        trace.spans.append(
            SyntheticSpan(
                "retrieve",
                "RETRIEVER",
                duration_ns // 10,
                duration_ns // 5,
                f'{{"query":"{trace.question}"}}',
                '["doc-1","doc-2","doc-3"]',
            )
        )
    if rng.random() < 0.6:
        trace.spans.append(
            SyntheticSpan(
                "chat",
                "LLM",
                duration_ns // 3,
                duration_ns // 2,
                f'{{"prompt":"{trace.question}"}}',
                '"Sure, here is what I found."',
                rng.randrange(100, 2000),
                rng.randrange(10, 500),
            )
        )
    return trace


__all__ = [
    "QUESTION",
    "QUESTIONS",
    "SPANS_PER_PIPELINE",
    "SyntheticSpan",
    "SyntheticTrace",
    "TraceFactory",
    "answer",
    "build_pipeline",
    "synthetic_trace",
]
