"""A local OpenAI-compatible HTTP server for tests and benchmarks (loopback only, stdlib only).

It answers ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings`` and
``/v1/responses`` (also under Azure's ``/openai/deployments/<name>/...``, recorded and scripted
under the ``/v1/...`` path) like the OpenAI API does, JSON or server-sent events
(``stream: true``), so the real ``openai`` client runs unmodified against it. Replies are
deterministic (fixed ids and timestamps), which lets tests compare what the client yields with
and without instrumentation.

By default each request gets a reply built from the request itself (the model is echoed, the
usage chunk is sent only when ``stream_options.include_usage`` is true, as OpenAI does). A test
can queue scripted replies per path; each is a `Reply` or a function of the request body
returning one, and is used once, in order:

    with FakeOpenAIServer() as server:
        server.script("/v1/chat/completions", error_reply(429), None)  # None = default reply
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
        client.chat.completions.create(model="m", messages=[...])       # retried, then 200

`latency` delays every reply (the benchmark uses 5 ms); `Reply.delay` delays one reply (longer
than the client's timeout for timeout tests) and `Reply.event_delay` paces SSE events.
"""

from __future__ import annotations

import argparse
import base64
import json
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = 1_700_000_000
CHAT_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
RESPONSES_USAGE = {
    "input_tokens": 11,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 4,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 15,
}
EMBEDDING_USAGE = {"prompt_tokens": 6, "total_tokens": 6}


@dataclass
class Reply:
    """One scripted HTTP reply: a JSON `body`, or SSE `events` (dicts are sent as JSON)."""

    status: int = 200
    body: Any = None
    events: Sequence[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    event_delay: float = 0.0
    # SSE only: end with "data: [DONE]" (chat and legacy completions do, Responses does not).
    done_marker: bool = True


ReplySource = Reply | Callable[[dict[str, Any]], Reply] | None


@dataclass
class Recorded:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


# --- reply builders ----------------------------------------------------------------------------


def error_reply(
    status: int,
    message: str = "fake error",
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An OpenAI-style error body. 429/5xx get ``retry-after-ms: 1`` so client retries are fast."""
    hdrs = dict(headers or {})
    if status == 429 or status >= 500:
        hdrs.setdefault("retry-after-ms", "1")
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return Reply(status=status, body=body, headers=hdrs)


def chat_completion(
    request: dict[str, Any],
    *,
    content: str | None = "Hello there!",
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = CHAT_USAGE,
    model: str | None = None,
    n: int = 1,
) -> Reply:
    """A ``chat.completion`` object; `tool_calls` items are ``{"id", "name", "arguments"}``."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": t["id"],
                "type": "function",
                "function": {"name": t["name"], "arguments": t["arguments"]},
            }
            for t in tool_calls
        ]
    reason = finish_reason or ("tool_calls" if tool_calls else "stop")
    body: dict[str, Any] = {
        "id": "chatcmpl-fake-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": model or request.get("model", "unknown"),
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": reason}
            for i in range(n)
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return Reply(body=body)


def chat_stream(
    request: dict[str, Any],
    *,
    pieces: Sequence[str] = ("Hel", "lo", " there!"),
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = CHAT_USAGE,
    model: str | None = None,
    event_delay: float = 0.0,
) -> Reply:
    """``chat.completion.chunk`` events as OpenAI sends them.

    The usage chunk (empty ``choices``) and ``"usage": null`` on every other chunk are sent only
    when the request asks for ``stream_options.include_usage``. Tool calls stream as a first
    delta with id and name, then the arguments in two halves.
    """
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": "chatcmpl-fake-2",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model or request.get("model", "unknown"),
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return out

    events: list[Any] = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": p}) for p in pieces]
    for i, call in enumerate(tool_calls or []):
        args = call["arguments"]
        half = len(args) // 2
        head = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        for part in (args[:half], args[half:]):
            events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    events.append(chunk({}, "tool_calls" if tool_calls else "stop"))
    if include_usage:
        events.append({**base, "choices": [], "usage": usage})
    return Reply(events=events, event_delay=event_delay)


def completion(
    request: dict[str, Any],
    *,
    text: str = " world",
    usage: dict[str, Any] | None = None,
) -> Reply:
    """A legacy ``text_completion`` object."""
    body = {
        "id": "cmpl-fake-1",
        "object": "text_completion",
        "created": CREATED,
        "model": request.get("model", "unknown"),
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "length"}],
        "usage": usage or {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return Reply(body=body)


def completion_stream(request: dict[str, Any], *, pieces: Sequence[str] = (" wor", "ld")) -> Reply:
    """Legacy completion chunks; a usage chunk only with ``stream_options.include_usage``."""
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": "cmpl-fake-2",
        "object": "text_completion",
        "created": CREATED,
        "model": request.get("model", "unknown"),
    }
    events: list[Any] = []
    for i, piece in enumerate(pieces):
        finish = "length" if i == len(pieces) - 1 else None
        item = {
            **base,
            "choices": [{"index": 0, "text": piece, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            item["usage"] = None
        events.append(item)
    if include_usage:
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        events.append({**base, "choices": [], "usage": usage})
    return Reply(events=events)


def embedding(request: dict[str, Any], *, dims: int = 4) -> Reply:
    """One vector per input (``[0.5, 1.0, ...]``), base64-encoded when the client asks for it."""
    inputs = request.get("input")
    count = len(inputs) if isinstance(inputs, list) and inputs and not _is_int(inputs[0]) else 1
    data = []
    for i in range(count):
        vector = [0.5 * (j + 1) + i for j in range(dims)]
        encoded: Any = vector
        if request.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    body = {
        "object": "list",
        "data": data,
        "model": request.get("model", "unknown"),
        "usage": EMBEDDING_USAGE,
    }
    return Reply(body=body)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def response_object(
    request: dict[str, Any],
    *,
    text: str | None = "Hi from responses",
    function_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = RESPONSES_USAGE,
    status: str = "completed",
) -> dict[str, Any]:
    """A Responses API ``response`` object (a dict)."""
    output: list[dict[str, Any]] = []
    if text is not None:
        part = {"type": "output_text", "text": text, "annotations": []}
        output.append(
            {
                "id": "msg_fake_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [part],
            }
        )
    for call in function_calls or []:
        output.append(
            {
                "id": "fc_" + call["call_id"],
                "type": "function_call",
                "call_id": call["call_id"],
                "name": call["name"],
                "arguments": call["arguments"],
                "status": "completed",
            }
        )
    return {
        "id": "resp_fake_1",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": request.get("model", "unknown"),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools", []),
        "temperature": request.get("temperature"),
        "top_p": request.get("top_p"),
        "max_output_tokens": request.get("max_output_tokens"),
        "usage": usage,
    }


def response(request: dict[str, Any], **kwargs: Any) -> Reply:
    """A non-streamed Responses API reply (see `response_object`)."""
    return Reply(body=response_object(request, **kwargs))


def response_stream(
    request: dict[str, Any],
    *,
    pieces: Sequence[str] = ("Hi from", " responses"),
    usage: dict[str, Any] | None = RESPONSES_USAGE,
) -> Reply:
    """Responses API events: created, text deltas, done events and ``response.completed``."""
    text = "".join(pieces)
    seq = iter(range(1000))
    pending = {**response_object(request, text=None, usage=None), "status": "in_progress"}
    item = {"id": "msg_fake_1", "type": "message", "role": "assistant", "status": "in_progress"}
    events: list[Any] = [
        {"type": "response.created", "sequence_number": next(seq), "response": pending},
        {
            "type": "response.output_item.added",
            "sequence_number": next(seq),
            "output_index": 0,
            "item": {**item, "content": []},
        },
    ]
    for piece in pieces:
        events.append(
            {
                "type": "response.output_text.delta",
                "sequence_number": next(seq),
                "item_id": "msg_fake_1",
                "output_index": 0,
                "content_index": 0,
                "delta": piece,
                "logprobs": [],
            }
        )
    events.append(
        {
            "type": "response.output_text.done",
            "sequence_number": next(seq),
            "item_id": "msg_fake_1",
            "output_index": 0,
            "content_index": 0,
            "text": text,
            "logprobs": [],
        }
    )
    final = response_object(request, text=text, usage=usage)
    events.append({"type": "response.completed", "sequence_number": next(seq), "response": final})
    return Reply(events=events, done_marker=False)


def default_reply(path: str, request: dict[str, Any]) -> Reply:
    """What the server answers when nothing is scripted for `path`."""
    streaming = bool(request.get("stream"))
    if path == "/v1/chat/completions":
        return chat_stream(request) if streaming else chat_completion(request)
    if path == "/v1/completions":
        return completion_stream(request) if streaming else completion(request)
    if path == "/v1/embeddings":
        return embedding(request)
    if path == "/v1/responses":
        return response_stream(request) if streaming else response(request)
    return error_reply(404, f"no route for {path}", code="not_found")


# --- the server --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when many clients connect at once,
    # and a dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing a keep-alive connection (timeout, loop shut down) is not an error.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """A threaded HTTP server on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[ReplySource]] = {}
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give the OpenAI client (``http://127.0.0.1:<port>/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, path: str, *replies: ReplySource) -> None:
        """Queue replies for `path` (e.g. ``/v1/chat/completions``); None means the default."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        """The requests received on `path`, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> FakeOpenAIServer:
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(Recorded(path=path, headers=headers, body=body))
            queue = self._scripts.get(path)
            source = queue.popleft() if queue else None
        if source is None:
            return default_reply(path, body)
        if isinstance(source, Reply):
            return source
        return source(body)


def _handler_for(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes; with Nagle's algorithm on, the body
        # would wait for the client's delayed ACK (~40 ms on Linux).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            path = _route(self.path.split("?", 1)[0])
            reply = server._next_reply(path, body, {k.lower(): v for k, v in self.headers.items()})
            pause = server.latency + reply.delay
            if pause:
                time.sleep(pause)
            try:
                if reply.events is not None:
                    self._send_events(reply)
                else:
                    self._send_json(reply)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timeout, early close)

        def _send_json(self, reply: Reply) -> None:
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-request-id", "req_fake")
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_events(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("x-request-id", "req_fake")
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            for payload in _sse_payloads(reply):
                self._write_chunk(payload)
                if reply.event_delay:
                    time.sleep(reply.event_delay)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _write_chunk(self, payload: bytes) -> None:
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

    return Handler


_ROUTES = ("/chat/completions", "/completions", "/embeddings", "/responses")


def _route(path: str) -> str:
    """``/v1/<route>`` for any path ending in a known route (Azure puts the deployment before
    it: ``/openai/deployments/<name>/chat/completions``)."""
    for route in _ROUTES:
        if path.endswith(route):
            return "/v1" + route
    return path


def _sse_payloads(reply: Reply) -> Iterator[bytes]:
    for event in reply.events or ():
        if isinstance(event, (bytes, str)):
            text = event.decode() if isinstance(event, bytes) else event
            yield f"data: {text}\n\n".encode()
            continue
        name = event.get("type") if not reply.done_marker else None
        prefix = f"event: {name}\n" if name else ""
        yield f"{prefix}data: {json.dumps(event)}\n\n".encode()
    if reply.done_marker:
        yield b"data: [DONE]\n\n"


__all__ = [
    "CHAT_USAGE",
    "EMBEDDING_USAGE",
    "RESPONSES_USAGE",
    "FakeOpenAIServer",
    "Recorded",
    "Reply",
    "chat_completion",
    "chat_stream",
    "completion",
    "completion_stream",
    "default_reply",
    "embedding",
    "error_reply",
    "response",
    "response_object",
    "response_stream",
]


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until killed; prints the base URL on its first line (used by bench_openai.py)."""
    parser = argparse.ArgumentParser(description="A local OpenAI-compatible server.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(latency=args.latency)
    print(server.base_url, flush=True)
    try:
        server._httpd.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
