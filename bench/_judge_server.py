"""A local OpenAI-compatible judge server for `bench_eval.py` (stdlib only, loopback only).

Runs in its own process, so its latency sleeps never compete with the benchmarked client for
the GIL. Every `POST .../chat/completions` waits `--latency` seconds, then answers with a valid
JSON verdict:

- with `response_format.json_schema`: an object with the schema's properties (recursively):
  strings -> "ok" (`result` -> "yes", MLflow's pass value), enums -> their first value,
  integers/numbers -> their maximum, else 1, booleans -> true, arrays -> [];
- otherwise (`json_object` or plain text): `{"result": "yes", "rationale": "ok"}`.

`GET /stats` returns `{"requests": n, "peak_in_flight": n, "busy_s": s}` (busy_s: from the
first request's arrival to the last reply); `POST /reset` zeroes them.
The port is printed on stdout (`PORT <n>`) once the server listens.

    python bench/_judge_server.py --latency 0.2 [--port 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_lock = threading.Lock()
_stats: dict[str, Any] = {
    "requests": 0,
    "in_flight": 0,
    "peak_in_flight": 0,
    "first": None,
    "last": None,
}
LATENCY = 0.2


def fill(schema: Any, key: str = "") -> Any:
    """A value satisfying `schema` (the subset of JSON Schema judges use)."""
    if not isinstance(schema, dict):
        return "ok"
    if schema.get("enum"):
        return schema["enum"][0]
    for combo in ("anyOf", "oneOf", "allOf"):
        if schema.get(combo):
            return fill(schema[combo][0], key)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return {k: fill(v, k) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("maximum", max(1, schema.get("minimum", 1)))
    return "yes" if key == "result" else "ok"


def verdict(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        defs = schema.get("$defs") or {}
        if "$ref" in schema and defs:  # pydantic's top-level reference
            schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], schema)
        return json.dumps(fill(schema))
    return json.dumps({"result": "yes", "rationale": "ok"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every reply.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, payload: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/stats"):
            with _lock:
                first, last = _stats["first"], _stats["last"]
                busy = None if first is None or last is None else last - first
                self._send(
                    {**{k: _stats[k] for k in ("requests", "peak_in_flight")}, "busy_s": busy}
                )
        else:
            self._send({"error": "not found"}, 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/").endswith("/reset"):
            with _lock:
                _stats.update(requests=0, in_flight=0, peak_in_flight=0, first=None, last=None)
            self._send({"ok": True})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send({"error": {"message": f"unknown path {self.path}"}}, 404)
            return
        with _lock:
            _stats["requests"] += 1
            if _stats["first"] is None:
                _stats["first"] = time.perf_counter()
            _stats["in_flight"] += 1
            _stats["peak_in_flight"] = max(_stats["peak_in_flight"], _stats["in_flight"])
        try:
            body = json.loads(raw or b"{}")
            content = verdict(body)
            time.sleep(LATENCY)
            self._send(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": body.get("model", "judge"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                }
            )
        finally:
            with _lock:
                _stats["in_flight"] -= 1
                _stats["last"] = time.perf_counter()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def main() -> None:
    global LATENCY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before each reply")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    LATENCY = args.latency
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
