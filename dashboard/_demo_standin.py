"""A local, deterministic stand-in for an OpenAI-compatible chat endpoint (stdlib only).

The demo uses it when no `OPENAI_API_KEY`/`OPENAI_BASE_URL` is set, so that `make demo` needs
no key and no network. It is **not a model**: answers and judge verdicts are computed from word
overlap, so they are plausible, repeatable and vary from row to row, nothing more.

`POST /v1/chat/completions` answers:

- a judge request (it carries `response_format` with a JSON schema, or the judges' preamble):
  a verdict valid against the schema, computed by `_demo_verdicts`;
- anything else, the demo's RAG prompt: the context sentence sharing most words with the
  question. With the terse prompt (v1) the stand-in sometimes "guesses" beyond the context (an
  unsupported extra claim, or a wrong document when nothing matches well); with the prompt that
  asks to answer only from the context (v2) it says it does not know instead.

Every reply has `usage` (so tokens and cost show) and the requested `model`; `stream=True`
returns server-sent events, with a usage chunk when `stream_options.include_usage` is set.

Example:
    >>> with StandInServer() as server:
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="none")
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dashboard._demo_verdicts import is_judge_request, verdict
from dashboard._demo_words import overlap, sentences, stable_hash

STANDIN_MODEL = "llmtrace-standin-1"
_QUESTION = re.compile(r"Question:\s*(.*?)\s*(?:\n\s*Context:|$)", re.S)
_DOC = re.compile(r"^\s*\[(\d+)\]\s*(.+)$", re.M)
_INVENTED = (
    "It was widely reported in {year}.",
    "Most sources date this to {year}.",
    "This was confirmed in an interview in {year}.",
)


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def rag_answer(messages: Sequence[Mapping[str, Any]]) -> str:
    """The stand-in's answer to the demo's RAG prompt (see the module docstring)."""
    system = " ".join(_text_of(m) for m in messages if m.get("role") == "system").lower()
    user = "\n".join(_text_of(m) for m in messages if m.get("role") != "system")
    strict = "only from the context" in system
    found = _QUESTION.search(user)
    question = found.group(1).strip() if found else user.strip()
    docs = [text for _, text in _DOC.findall(user.split("Context:", 1)[-1])]
    split = [sentences(d) for d in docs]
    candidates = [
        (overlap(question, s), i, j) for i, d in enumerate(split) for j, s in enumerate(d)
    ]
    if not candidates:
        return "I don't know: no context was given." if strict else "I am not sure."
    best_score, doc, sent = max(candidates, key=lambda c: (c[0], -c[1], -c[2]))
    best = split[doc][sent]
    seed = stable_hash(question)
    if best_score < 0.25:
        if strict:
            return "I don't know: the context does not say."
        # The terse prompt does not forbid guessing: answer from another document.
        others = [c for c in candidates if c[1] != doc] or candidates
        _, i, j = others[seed % len(others)]
        return split[i][j]
    if strict:
        # Multi-hop questions often find their answer in the next sentence: quote both.
        return " ".join(split[doc][sent : sent + 2])
    if seed % 3 == 0:
        invented = _INVENTED[seed % len(_INVENTED)].format(year=1950 + seed % 70)
        return f"{best} {invented}"
    return best


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 4 / 3))


def completion(body: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """The reply text for a chat-completions request body, and its token usage."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    text = json.dumps(verdict(body)) if is_judge_request(body) else rag_answer(messages)
    prompt = sum(_tokens(_text_of(m)) + 4 for m in messages)
    completion_tokens = _tokens(text)
    return text, {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def _latency_s(body: Mapping[str, Any], text: str) -> float:
    # Plausible, repeatable latencies: answers 40-160 ms, judge verdicts 10-50 ms.
    spread = stable_hash(text) % 100 / 100
    return (0.01 + 0.04 * spread) if is_judge_request(body) else (0.04 + 0.12 * spread)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        payload = {"error": {"message": message, "type": "invalid_request_error"}}
        self._send(status, json.dumps(payload).encode(), "application/json")

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            model = {"id": STANDIN_MODEL, "object": "model", "owned_by": "llmtrace-demo"}
            self._send(
                200, json.dumps({"object": "list", "data": [model]}).encode(), "application/json"
            )
        else:
            self._error(404, f"unknown path {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"the stand-in only serves /v1/chat/completions, not {self.path}")
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the request body is not a JSON object")
        except ValueError as exc:
            self._error(400, f"invalid JSON body: {exc}")
            return
        text, usage = completion(body)
        time.sleep(_latency_s(body, text))
        with self.server.lock:
            self.server.requests += 1
            n = self.server.requests
        model = str(body.get("model") or STANDIN_MODEL)
        ident = f"chatcmpl-standin-{n}"
        if body.get("stream"):
            options = body.get("stream_options") or {}
            self._send(
                200,
                _sse(ident, model, text, usage, bool(options.get("include_usage"))),
                "text/event-stream",
            )
            return
        reply = {
            "id": ident,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "llmtrace-standin",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        self._send(200, json.dumps(reply).encode(), "application/json")


def _sse(ident: str, model: str, text: str, usage: dict[str, int], with_usage: bool) -> bytes:
    """The reply as server-sent `chat.completion.chunk` events, one per word."""
    base = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time())}
    base["model"] = model
    pieces = re.findall(r"\S+\s*", text) or [""]
    events = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        *(
            {**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
            for p in pieces
        ),
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    if with_usage:
        events.append({**base, "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests = 0


class StandInServer:
    """The stand-in on 127.0.0.1 (a free port), served by a daemon thread.

    Example:
        >>> server = StandInServer().start()
        >>> server.base_url
        'http://127.0.0.1:40123/v1'
        >>> server.stop()
    """

    model = STANDIN_MODEL

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI `base_url` of the running server."""
        if self._server is None:
            raise RuntimeError("the stand-in server is not running: call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        """How many chat completions were answered so far."""
        return 0 if self._server is None else self._server.requests

    def start(self) -> StandInServer:
        """Listen and serve in a background thread; returns self."""
        if self._server is None:
            self._server = _Server()
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="llmtrace-demo-standin", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["STANDIN_MODEL", "StandInServer", "completion", "rag_answer"]
