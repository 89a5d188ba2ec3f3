"""The demo's RAG pipeline: keyword retrieval over HaluEval passages, then one chat completion
through the real `openai` client (instrumented by llmtrace), formatted with a registered prompt.

`RagPipeline` is a plain picklable object (no client, no key inside), so it can be logged as an
`llm_pipeline` model; the OpenAI client is made on first use from `base_url` (None: the
`OPENAI_BASE_URL` of the process) and `$OPENAI_API_KEY`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import llmtrace
from dashboard._demo_words import overlap
from llmtrace import SpanType

DATASET_FILE = Path(__file__).resolve().parents[1] / "datasets" / "rag_qa_halueval_200.jsonl"
PROMPT_NAME = "demo-rag-qa"
_USER = "Question: {{ question }}\n\nContext:\n{{ context }}"
PROMPT_TEMPLATES: dict[str, list[dict[str, str]]] = {
    "v1": [
        {"role": "system", "content": "You answer questions in a few words."},
        {"role": "user", "content": _USER},
    ],
    "v2": [
        {
            "role": "system",
            "content": (
                "You answer questions only from the context below. If the context does not "
                "contain the answer, say that you don't know. Keep the answer short."
            ),
        },
        {"role": "user", "content": _USER},
    ],
}
PROMPT_MESSAGES = {
    "v1": "terse answers",
    "v2": "answer only from the context, say when it does not know",
}


def load_rows(n: int, path: Path = DATASET_FILE) -> list[dict[str, Any]]:
    """The first `n` distinct questions of the HaluEval RAG file as dataset records (inputs,
    expectations, context, metadata; the file's answers under test are left out: the pipeline
    answers). The file holds each question twice (a right and a hallucinated answer)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the demo from a checkout of llmtrace")
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if len(rows) >= n:
                break
            row = json.loads(line)
            question = row["inputs"]["question"]
            if question in seen:
                continue
            seen.add(question)
            expected = row["expectations"]["expected_response"]
            meta = row.get("metadata") or {}
            rows.append(
                {
                    "inputs": {"question": question},
                    "expectations": {"expected_response": expected},
                    "context": list(row["context"]),
                    "metadata": {"source": "HaluEval", "source_index": meta.get("source_index")},
                }
            )
    return rows


def corpus_of(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The retrieval corpus: every passage of the rows, by a stable id."""
    corpus: dict[str, str] = {}
    for row in rows:
        index = row["metadata"].get("source_index")
        for j, passage in enumerate(row["context"]):
            corpus.setdefault(f"halueval-{index}-{j}", passage)
    return corpus


class Retriever:
    """Keyword retrieval: documents ranked by the share of the query's words they contain."""

    def __init__(self, corpus: dict[str, str]) -> None:
        self.corpus = dict(corpus)

    @llmtrace.trace(name="retrieve", span_type=SpanType.RETRIEVER)
    def search(self, query: str, k: int = 2) -> list[dict[str, Any]]:
        """The top `k` documents as `{"id", "score", "content", "metadata"}`."""
        scored = sorted((-overlap(query, text), i) for i, text in self.corpus.items())
        ranked = [
            {"id": i, "score": round(-neg, 3), "content": self.corpus[i], "metadata": {}}
            for neg, i in scored
        ]
        return ranked[:k]


class RagPipeline:
    """Answer a question: retrieve, format the registered prompt, ask the chat model.

    Example:
        >>> rag = RagPipeline(corpus, "prompts:/demo-rag-qa/2", "gpt-4o-mini")
        >>> rag("Who wrote Hamlet?")
    """

    def __init__(
        self,
        corpus: dict[str, str],
        prompt_uri: str,
        model: str,
        *,
        base_url: str | None = None,
        name: str = "rag_pipeline",
        k: int = 2,
    ) -> None:
        self.retriever = Retriever(corpus)
        self.prompt_uri = prompt_uri
        self.model = model
        self.base_url = base_url
        self.k = k
        self.__name__ = name  # evaluate() names each row's span after its predict function
        self._local: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_local", None)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = {}
        self._lock = threading.Lock()

    def portable(self) -> RagPipeline:
        """A copy with no endpoint of its own (it calls `$OPENAI_BASE_URL`), to log as a model."""
        copy = RagPipeline(
            self.retriever.corpus, self.prompt_uri, self.model, name=self.__name__, k=self.k
        )
        return copy

    def _client(self) -> Any:
        with self._lock:
            if "client" not in self._local:
                import openai

                self._local["client"] = openai.OpenAI(
                    base_url=self.base_url or os.environ.get("OPENAI_BASE_URL") or None,
                    api_key=os.environ.get("OPENAI_API_KEY") or "no-key-needed",
                    max_retries=1,
                    timeout=60,
                )
            return self._local["client"]

    def _prompt(self) -> Any:
        with self._lock:
            if "prompt" not in self._local:
                self._local["prompt"] = llmtrace.load_prompt(self.prompt_uri)
            return self._local["prompt"]

    def __call__(self, question: str) -> str:
        return self.answer(question)

    @llmtrace.trace(name="rag_answer", span_type=SpanType.CHAIN)
    def answer(self, question: str, stream: bool = False) -> str:
        """Retrieve, then generate; raises ValueError/LookupError for unanswerable input."""
        if not question.strip():
            raise ValueError("the question is empty")
        docs = self.retriever.search(question, k=self.k)
        if not docs or not docs[0]["score"]:
            raise LookupError(f"no document matches {question!r}")
        context = "\n".join(f"[{i}] {d['content']}" for i, d in enumerate(docs, start=1))
        messages = self._prompt().format(question=question, context=context)
        client = self._client()
        if not stream:
            reply = client.chat.completions.create(
                model=self.model, messages=messages, temperature=0
            )
            return str(reply.choices[0].message.content or "").strip()
        chunks = client.chat.completions.create(
            model=self.model, messages=messages, temperature=0, stream=True
        )
        parts = [c.choices[0].delta.content or "" for c in chunks if c.choices]
        return "".join(parts).strip()


__all__ = [
    "DATASET_FILE",
    "PROMPT_MESSAGES",
    "PROMPT_NAME",
    "PROMPT_TEMPLATES",
    "RagPipeline",
    "Retriever",
    "corpus_of",
    "load_rows",
]
