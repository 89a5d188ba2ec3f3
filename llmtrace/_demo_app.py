"""The example pipeline behind `llmtrace demo`: retrieval, reranking, a tool and a fake model.

Everything runs offline and deterministically; the "model" composes its answer from the best
document and reports token usage like a real provider would.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import llmtrace
from llmtrace import SpanType

CORPUS = {
    "kb-1": "To reset your password open Settings, choose Security and press Reset password.",
    "kb-2": "Refunds are issued to the original payment method within 5 business days.",
    "kb-3": "Our support team answers chats from 8am to 8pm CET, Monday to Friday.",
    "kb-4": "Premium plans cost 12 euros per month and include priority support.",
    "kb-5": "You can export your data as CSV from the Reports page.",
}

QUESTIONS = [
    "How do I reset my password?",
    "When will I get my refund?",
    "What does the premium plan cost per year?",
    "When is support available?",
    "",  # an empty question fails validation: the demo shows an ERROR trace
    "How can I export my data?",
    "What is 12 * 12?",
    "Do you offer priority support?",
]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "we",
        "what",
        "when",
        "will",
        "with",
        "you",
        "your",
    ]
)


def _words(text: str) -> set[str]:
    # Crude stemming (first five letters) so that "refund" matches "refunds".
    return {w[:5] for w in _WORD.findall(text.lower()) if w not in _STOP}


@llmtrace.trace(span_type=SpanType.RETRIEVER)
def retrieve(query: str, k: int = 3) -> list[dict[str, object]]:
    """Keyword-overlap search over the tiny knowledge base."""
    q = _words(query)
    scored = [
        {"id": doc_id, "text": text, "score": len(q & _words(text)) / (len(q) or 1)}
        for doc_id, text in CORPUS.items()
    ]
    scored.sort(key=lambda d: float(str(d["score"])), reverse=True)
    time.sleep(0.002)
    return scored[:k]


@llmtrace.trace(span_type=SpanType.RERANKER)
def rerank(query: str, docs: list[dict[str, object]]) -> list[dict[str, object]]:
    """Prefer shorter documents among equal scores."""
    return sorted(docs, key=lambda d: (-float(str(d["score"])), len(str(d["text"]))))


@llmtrace.trace(span_type=SpanType.TOOL)
def calculator(expression: str) -> float:
    """Evaluate `a * b` style arithmetic."""
    a, op, b = re.findall(r"\d+|[*+/-]", expression)[:3]
    x, y = float(a), float(b)
    return {"*": x * y, "+": x + y, "-": x - y, "/": x / y}[op]


def fake_chat(messages: list[dict[str, str]]) -> str:
    """A deterministic stand-in for a chat model, traced as a CHAT_MODEL span."""
    with llmtrace.span(
        "chat demo-echo-1", span_type=SpanType.CHAT_MODEL, inputs={"messages": messages}
    ) as s:
        s.set_model("demo-echo-1", provider="llmtrace-demo")
        context = messages[-1]["content"]
        answer = context.split("Context: ", 1)[-1].split(" | ")[0]
        time.sleep(0.005)
        s.set_usage(
            input_tokens=sum(len(m["content"].split()) for m in messages),
            output_tokens=len(answer.split()),
        )
        s.set_outputs({"role": "assistant", "content": answer})
        return answer


@llmtrace.trace(span_type=SpanType.CHAIN)
def answer_question(question: str, user: str, run_tag: str) -> str:
    """Validate, retrieve, rerank and generate an answer (with a tool for arithmetic)."""
    llmtrace.update_current_trace(
        session_id=f"session-{user}", user_id=user, tags={"demo_run": run_tag, "env": "demo"}
    )
    if not question.strip():
        raise ValueError("question is empty")
    if re.search(r"\d+\s*[*+/-]\s*\d+", question):
        return f"The result is {calculator(question):g}."
    docs = rerank(question, retrieve(question))
    context = " | ".join(str(d["text"]) for d in docs)
    messages = [
        {"role": "system", "content": "Answer from the context."},
        {"role": "user", "content": f"Question: {question}\nContext: {context}"},
    ]
    return fake_chat(messages)


def answer_all(questions: list[str], run_tag: str) -> list[tuple[str, str]]:
    """Answer questions on a thread pool; each question is its own trace."""
    # The demo model is not in the shipped price table: give it a price (USD per 1M tokens),
    # as you would for a private deployment, so its calls are costed.
    llmtrace.set_price("demo-echo-1", input=0.15, output=0.6)

    def safe(i_q: tuple[int, str]) -> tuple[str, str]:
        i, q = i_q
        try:
            return q, answer_question(q, f"user-{i % 3}", run_tag)
        except ValueError as exc:
            return q, f"(failed: {exc})"

    with llmtrace.ContextThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(safe, enumerate(questions)))


@llmtrace.trace(span_type=SpanType.CHAT_MODEL, output_reducer="".join)
async def _stream_tokens(text: str) -> AsyncIterator[str]:
    for word in text.split():
        await asyncio.sleep(0)
        yield word + " "


@llmtrace.trace(span_type=SpanType.AGENT)
async def stream_answer(question: str, run_tag: str) -> str:
    """Answer with a streamed (async generator) model call and a parallel lookup."""
    llmtrace.update_current_trace(tags={"demo_run": run_tag, "streaming": "true"})
    docs, _ = await asyncio.gather(
        asyncio.to_thread(llmtrace.with_context(retrieve), question),
        asyncio.sleep(0.001),
    )
    return "".join([tok async for tok in _stream_tokens(str(docs[0]["text"]))]).strip()
