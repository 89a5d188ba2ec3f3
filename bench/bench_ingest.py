"""(f) OTLP ingest beside Arize Phoenix: spans/s over OTLP/HTTP until queryable, and the lag.

Both servers get the same requests in the same run: RAG-shaped traces of four spans — a CHAIN
root, a RETRIEVER span with three documents, an LLM span with OpenInference attributes (model,
provider, token counts, system/user/assistant messages of a few hundred bytes, invocation
parameters) and a TOOL span (2% of them failing) — in OTLP/HTTP protobuf requests of 512 spans
(128 whole traces, children before their root as a BatchSpanProcessor queues them), about
0.57 MiB each. llmtrace gets `--spans` (default 102,400 = 200 requests); Phoenix, which stores
a few hundred spans/s here, gets the first `--peer-spans` of the same requests (default 20,480
= 40 requests), to keep the whole run within a few minutes.

The client. Request bodies are encoded once, before any server starts, with the encoder
opentelemetry-exporter-otlp-proto-http's OTLPSpanExporter uses (`encode_spans(spans)
.SerializePartialToString()`, the exporter's own call), then POSTed to `/v1/traces` by
`--clients` threads (default 4), each with its own keep-alive httpx connection, so that the
client is not what is measured (it uses well under a tenth of a core). The same for both
servers, byte for byte. A refused request is retried as the exporter does it (429/502/503/504
and connection errors; `Retry-After` when the server sends one, else 1, 2, 4 ... s ±20%), but
never given up: requests accepted more than 10 s after their first attempt, which the stock
exporter (default timeout 10 s) would have dropped, are counted. Before the timed part two
requests go through `OTLPSpanExporter.export()` itself, one after the other: a warm-up (which
also checks that the server takes the stock exporter's requests), then one whose visibility lag
on the idle server is reported ("idle lag").

Measured for each server and database:
- spans/s: N / (first request sent -> the last of the N spans queryable);
- acknowledged spans/s: N / (first request sent -> last HTTP 200), for context;
- visibility lag of every request: from its HTTP 200 to the first poll that finds all 512 of
  its spans. One request is polled at a time, the oldest acknowledged one not yet complete,
  every 5% of its age (5-100 ms); the poll's start time is taken. So each lag is an upper
  bound, and a request is never seen before an older one;
- CPU seconds of the server process (user + system, all its threads; PostgreSQL's own
  processes not included) and of this client process.

"Queryable" means committed in the server's database, seen on a separate connection of this
process: `SELECT count(*) FROM spans WHERE trace_id IN (<the request's 128 traces>)` for
llmtrace (its spans' primary key starts with trace_id), `... WHERE span_id IN (<the request's
512 spans>)` for Phoenix (span_id is unique-indexed there). Both servers' APIs read these same
tables. At the end the total (`SELECT count(*) FROM spans`) must be exactly what was sent.

Servers, each started here as a subprocess on a free loopback port with a fresh database:
- llmtrace: `python -m llmtrace server --store URL --port P --no-grpc` (this interpreter);
- Phoenix: `bench/.venv-phoenix/bin/phoenix serve` (create it with bench/setup_phoenix.sh;
  `LLMTRACE_BENCH_PHOENIX` names another `phoenix` executable), offline, otherwise default
  settings (its span queue holds 20,000 spans; beyond that it answers 503);
- SQLite: a file in a temporary folder; PostgreSQL: one throwaway database per server
  (`bench_ingest_<hex>`, `phoenix_ingest_<hex>`) on `LLMTRACE_BENCH_PG_URL`, dropped after.

Usage: python bench/bench_ingest.py [--quick] [--no-peer] [--backends sqlite,postgresql]
                                    [--spans 102400] [--peer-spans 20480] [--clients 4]
                                    [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import queue
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _common import BENCH_DIR, PG_ADMIN_URL, print_table, version_of, write_json
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from sqlalchemy.engine import make_url

BATCH = 512
SPANS_PER_TRACE = 4
TRACES_PER_REQUEST = BATCH // SPANS_PER_TRACE
# Spans sent to (llmtrace, Phoenix): Phoenix stores 200-300 spans/s here, so it gets the first
# 40 of the same requests, to keep the run within a few minutes.
FULL = (200 * BATCH, 40 * BATCH)  # 102,400 and 20,480
QUICK = (20 * BATCH, 5 * BATCH)  # 10,240 and 2,560
TARGET_RATIO = 2.0
TARGET_LAG_S = 1.0
# What opentelemetry-exporter-otlp-proto-http retries, and its default timeout.
RETRYABLE = frozenset({429, 502, 503, 504})
EXPORTER_TIMEOUT_S = 10.0
PROTOBUF = "application/x-protobuf"

PHOENIX_VENV = BENCH_DIR / ".venv-phoenix"
PHOENIX_MISSING = (
    "Phoenix skipped: bench/.venv-phoenix does not exist (create it with bench/setup_phoenix.sh)"
)


# --- the workload ------------------------------------------------------------------------------

QUESTIONS = (
    "What is the refund policy for damaged items?",
    "How do I reset my password if I no longer have access to my email?",
    "Where is my order #{n}? It was supposed to arrive on Monday.",
    "Can I change the delivery address of an order that has already shipped?",
    "Do you ship to Canada, and are there customs fees?",
    "How do I cancel my subscription before the next billing date?",
    "Which payment methods do you accept for business accounts?",
    "Is there a student discount, and can it be combined with other offers?",
)
DOCUMENTS = (
    "Refunds: items that arrive damaged can be returned within 30 days for a full refund. "
    "Attach a photo of the damage to the return request.",
    "Shipping: orders leave the warehouse within two business days. Tracking numbers are "
    "e-mailed when the carrier scans the parcel.",
    "Accounts: a password can be reset from the sign-in page. Without access to the e-mail "
    "address, support verifies identity with the last order number.",
    "Subscriptions renew monthly. Cancelling before the billing date stops the next charge; "
    "the current period stays active until it ends.",
    "International: we ship to Canada and the EU. Duties are prepaid at checkout, so no customs "
    "fees are charged on delivery.",
    "Payments: cards, PayPal and bank transfer. Business accounts can also pay by invoice with "
    "30-day terms after a credit check.",
)
SYSTEM_PROMPT = (
    "You are a helpful support assistant for an online store. Answer only from the context "
    "documents below and cite the ids of the documents you used. If the context does not "
    "contain the answer, say so and offer to connect the customer with a human agent. Keep "
    "answers under 120 words, friendly and precise."
)
MODELS = (("gpt-4o-mini", "openai"), ("claude-3-5-haiku", "anthropic"), ("gpt-4o", "openai"))
RESOURCE = Resource.create({"service.name": "support-bot", "deployment.environment": "bench"})
SCOPE = InstrumentationScope("openinference.instrumentation.bench", "0.1.0")


@dataclass(frozen=True)
class OtlpRequest:
    """One encoded `ExportTraceServiceRequest` and the ids of what it carries."""

    body: bytes
    trace_ids: tuple[str, ...]
    span_ids: tuple[str, ...]


def _nonzero_bits(rng: random.Random, bits: int) -> int:
    return rng.getrandbits(bits) or 1


def trace_spans(rng: random.Random, n: int, start_ns: int) -> list[ReadableSpan]:
    """The four spans of one RAG-shaped trace (root, retriever, LLM, tool)."""
    trace_id = _nonzero_bits(rng, 128)
    ids = [_nonzero_bits(rng, 64) for _ in range(SPANS_PER_TRACE)]
    ctx = [SpanContext(trace_id, s, is_remote=False, trace_flags=TraceFlags(1)) for s in ids]
    question = QUESTIONS[n % len(QUESTIONS)].format(n=100_000 + n)
    docs = rng.sample(range(len(DOCUMENTS)), 3)
    model, provider = MODELS[n % len(MODELS)]
    context = "\n".join(f"[doc-{d}] {DOCUMENTS[d]}" for d in docs)
    user = f"Context:\n{context}\n\nQuestion: {question}"
    answer = (
        f"{DOCUMENTS[docs[0]].split('. ')[0]}. If you need anything else about order "
        f"#{100_000 + n}, reply here and I will help (sources: doc-{docs[0]}, doc-{docs[1]})."
    )
    prompt_tokens, completion_tokens = 180 + rng.randrange(120), 40 + rng.randrange(80)
    error = n % 50 == 49  # 2% of the tool calls fail
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def span(
        i: int, name: str, offset_ms: float, duration_ms: float, attrs: dict[str, Any]
    ) -> ReadableSpan:
        start = start_ns + int(offset_ms * 1e6)
        failed = error and i == 3
        return ReadableSpan(
            name,
            context=ctx[i],
            parent=ctx[0] if i else None,
            resource=RESOURCE,
            attributes=attrs,
            kind=SpanKind.CLIENT if i == 2 else SpanKind.INTERNAL,
            status=Status(StatusCode.ERROR, "order service timed out")
            if failed
            else Status(StatusCode.OK),
            start_time=start,
            end_time=start + int(duration_ms * 1e6),
            instrumentation_scope=SCOPE,
        )

    llm_ms = 600 + rng.randrange(900)
    retrieval: dict[str, Any] = {"openinference.span.kind": "RETRIEVER", "input.value": question}
    for k, d in enumerate(docs):
        prefix = f"retrieval.documents.{k}.document"
        retrieval |= {
            f"{prefix}.id": f"doc-{d}",
            f"{prefix}.content": DOCUMENTS[d],
            f"{prefix}.score": round(0.9 - 0.1 * k - rng.random() * 0.05, 4),
        }
    llm: dict[str, Any] = {
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.provider": provider,
        "llm.system": provider,
        "llm.invocation_parameters": json.dumps({"temperature": 0.2, "max_tokens": 256}),
        "llm.token_count.prompt": prompt_tokens,
        "llm.token_count.completion": completion_tokens,
        "llm.token_count.total": prompt_tokens + completion_tokens,
        "input.value": json.dumps({"model": model, "messages": messages}),
        "input.mime_type": "application/json",
        "output.value": answer,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": answer,
    }
    for k, message in enumerate(messages):
        llm[f"llm.input_messages.{k}.message.role"] = message["role"]
        llm[f"llm.input_messages.{k}.message.content"] = message["content"]
    args = json.dumps({"order_id": 100_000 + n})
    tool: dict[str, Any] = {
        "openinference.span.kind": "TOOL",
        "tool.name": "lookup_order",
        "tool.description": "Look up the status of an order by its number.",
        "tool.parameters": json.dumps({"type": "object", "properties": {"order_id": {}}}),
        "input.value": args,
        "input.mime_type": "application/json",
        "output.value": "" if error else json.dumps({"status": "shipped", "carrier": "UPS"}),
    }
    root: dict[str, Any] = {
        "openinference.span.kind": "CHAIN",
        "input.value": question,
        "output.value": answer,
        "session.id": f"session-{n % 997}",
        "user.id": f"user-{n % 211}",
        "metadata": json.dumps({"channel": "chat", "locale": "en-US"}),
    }
    total_ms = 100 + llm_ms + 60
    # In the order they end, as a BatchSpanProcessor queues them: children first, root last.
    return [
        span(1, "retrieve", 2, 80, retrieval),
        span(2, "ChatCompletion", 95, llm_ms, llm),
        span(3, "lookup_order", 100 + llm_ms, 50, tool),
        span(0, "support_pipeline", 0, total_ms, root),
    ]


def make_spans(traces: int, seed: int, first: int = 0) -> list[ReadableSpan]:
    """`traces` traces' spans, one trace started every 10 ms, ending about now."""
    rng = random.Random(seed)
    base = time.time_ns() - traces * 10_000_000 - 5_000_000_000
    spans: list[ReadableSpan] = []
    for n in range(first, first + traces):
        spans += trace_spans(rng, n, base + (n - first) * 10_000_000)
    return spans


def encode_requests(spans: int, seed: int = 5) -> list[OtlpRequest]:
    """`spans` spans as pre-encoded requests of BATCH spans (whole traces), like the exporter
    would send them."""
    traces = make_spans(math.ceil(spans / BATCH) * TRACES_PER_REQUEST, seed, first=1000)
    out = []
    for i in range(0, len(traces), BATCH):
        batch = traces[i : i + BATCH]
        out.append(request_of(batch, encode_spans(batch).SerializePartialToString()))
    return out


def request_of(spans: Sequence[ReadableSpan], body: bytes = b"") -> OtlpRequest:
    """The request carrying `spans` (its ids; `body` when it is sent raw)."""
    contexts = [s.get_span_context() for s in spans]
    return OtlpRequest(
        body=body,
        trace_ids=tuple(dict.fromkeys(f"{c.trace_id:032x}" for c in contexts if c)),
        span_ids=tuple(f"{c.span_id:016x}" for c in contexts if c),
    )


# --- reading a server's database ---------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """Counts committed spans in a server's database, on connections of its own."""

    backend: str  # "sqlite" or "postgresql"
    target: str  # SQLite file path, or a libpq URL
    by_trace: bool  # llmtrace: look spans up by trace_id; Phoenix: by span_id

    def connect(self) -> Any:
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.target, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            return conn
        import psycopg

        return psycopg.connect(self.target, autocommit=True, connect_timeout=10)

    def count_all(self, conn: Any) -> int:
        return int(conn.execute("SELECT count(*) FROM spans").fetchall()[0][0])

    def count_request(self, conn: Any, req: OtlpRequest) -> int:
        column, ids = ("trace_id", req.trace_ids) if self.by_trace else ("span_id", req.span_ids)
        if self.backend == "sqlite":
            marks = ",".join("?" * len(ids))
            sql = f"SELECT count(*) FROM spans WHERE {column} IN ({marks})"
            return int(conn.execute(sql, ids).fetchall()[0][0])  # fetchall: statement reset
        sql = f"SELECT count(*) FROM spans WHERE {column} = ANY(%s)"
        return int(conn.execute(sql, (list(ids),)).fetchone()[0])


class VisibilityWatcher(threading.Thread):
    """Finds when each acknowledged request's spans are all queryable.

    One request is polled at a time, the oldest acknowledged one still incomplete; when it is
    complete, the next one is checked at once. A request that became visible before an older
    one is therefore seen no earlier than the older one: every time recorded is an upper bound.
    The poll interval grows with the request's age (5% of it, 5-100 ms), so that watching costs
    the server little while resolving short lags finely.
    """

    def __init__(self, probe: Probe, requests: Sequence[OtlpRequest]) -> None:
        super().__init__(daemon=True, name="visibility-watcher")
        self.probe = probe
        self.requests = requests
        self.acked: dict[int, float] = {}
        self.visible: dict[int, float] = {}
        self.polls = 0
        self.error: BaseException | None = None
        self._pending: dict[int, float] = {}  # in acknowledgement order
        self._cond = threading.Condition()
        self._closing = False

    def acknowledged(self, index: int, t_ack: float) -> None:
        with self._cond:
            self.acked[index] = t_ack
            self._pending[index] = t_ack
            self._cond.notify()

    def run(self) -> None:
        try:
            conn = self.probe.connect()
            try:
                self._loop(conn)
            finally:
                conn.close()
        except BaseException as exc:  # reported by finish()
            self.error = exc
            with self._cond:
                self._cond.notify_all()

    def _loop(self, conn: Any) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                index, t_ack = next(iter(self._pending.items()))
            t_poll = time.perf_counter()
            self.polls += 1
            if self.probe.count_request(conn, self.requests[index]) >= BATCH:
                with self._cond:
                    del self._pending[index]
                    self.visible[index] = t_poll
                    self._cond.notify_all()
                continue
            with self._cond:
                self._cond.wait(min(0.1, max(0.005, 0.05 * (t_poll - t_ack))))

    def wait_all(self, count: int, deadline: float) -> float | None:
        """Block until `count` requests are acknowledged and visible; the time the last one was
        seen, or None at the deadline."""
        with self._cond:
            while len(self.visible) < count and self.error is None:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))
            if self.error is not None:
                raise RuntimeError(f"visibility watcher failed: {self.error!r}") from self.error
            return max(self.visible.values())

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self.join(10)

    def lags(self) -> list[float]:
        """Seconds from each visible request's HTTP 200 to the poll that found it complete."""
        return [max(0.0, t - self.acked[i]) for i, t in self.visible.items()]


# --- the servers -------------------------------------------------------------------------------


@dataclass
class ServerSpec:
    """How to start one server on one database, and how to read that database."""

    server: str  # "llmtrace" or "Phoenix"
    backend: str
    argv: list[str]
    env: dict[str, str]
    port: int
    ready_path: str
    probe: Probe
    log: Path
    cwd: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def phoenix_executable() -> Path | None:
    """`phoenix` of bench/.venv-phoenix (`$LLMTRACE_BENCH_PHOENIX` overrides), or None."""
    override = os.environ.get("LLMTRACE_BENCH_PHOENIX")
    if override:
        return Path(override)
    candidate = PHOENIX_VENV / "bin" / "phoenix"
    return candidate if candidate.exists() else None


def phoenix_version(executable: Path) -> str | None:
    python = executable.parent / "python"
    code = "from importlib.metadata import version; print(version('arize-phoenix'))"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        return out.stdout.strip()
    return None


def _base_env(drop_prefix: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith((drop_prefix, "OTEL_"))}


def llmtrace_spec(backend: str, db: str, scratch: Path) -> ServerSpec:
    """`python -m llmtrace server` on a SQLite file (`db` = path) or PostgreSQL URL."""
    port = free_port()
    url = f"sqlite:///{db}" if backend == "sqlite" else db
    env = _base_env("LLMTRACE_")
    env["LLMTRACE_HOME"] = str(scratch / "llmtrace-home")
    argv = [sys.executable, "-m", "llmtrace", "server", "--store", url, "--port", str(port)]
    argv += ["--no-grpc", "--artifacts", str(scratch / "llmtrace-artifacts")]
    return ServerSpec(
        server="llmtrace",
        backend=backend,
        argv=argv,
        env=env,
        port=port,
        ready_path="/ready",
        probe=Probe(backend, db, by_trace=True),
        log=scratch / "llmtrace.log",
        cwd=scratch,
    )


def phoenix_spec(executable: Path, backend: str, db: str, scratch: Path) -> ServerSpec:
    """`phoenix serve`, offline, on a SQLite file (`db` = path) or PostgreSQL URL."""
    port = free_port()
    work = scratch / "phoenix-home"
    work.mkdir(exist_ok=True)
    env = _base_env("PHOENIX_")
    env |= {
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_SQL_DATABASE_URL": f"sqlite:///{db}" if backend == "sqlite" else db,
        # No phone-home: no telemetry pixels, no web fonts or downloads, no agent assistant.
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
        "PHOENIX_LOG_MIGRATIONS": "false",
        "DO_NOT_TRACK": "1",
    }
    return ServerSpec(
        server="Phoenix",
        backend=backend,
        argv=[str(executable), "serve"],
        env=env,
        port=port,
        ready_path="/healthz",
        probe=Probe(backend, db, by_trace=False),
        log=scratch / "phoenix.log",
        cwd=scratch,
    )


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc), or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


@contextlib.contextmanager
def running(spec: ServerSpec, timeout: float = 180.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server, wait until it answers its readiness route, stop it afterwards."""
    with spec.log.open("wb") as log:
        proc = subprocess.Popen(
            spec.argv, stdout=log, stderr=subprocess.STDOUT, env=spec.env, cwd=spec.cwd
        )
    try:
        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=5.0) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{spec.server} exited ({proc.returncode}): {_tail(spec)}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(spec.base_url + spec.ready_path).status_code == 200:
                        break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{spec.server} not ready after {timeout:.0f} s")
                time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _tail(spec: ServerSpec, lines: int = 5) -> str:
    with contextlib.suppress(OSError):
        text = spec.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])
    return ""


# --- the load ----------------------------------------------------------------------------------


@dataclass
class LoadStats:
    """What the senders saw."""

    acks: dict[int, float] = field(default_factory=dict)
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    beyond_exporter_timeout: int = 0
    rejected_spans: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _retry_delay(response: httpx.Response | None, attempt: int, rng: random.Random) -> float:
    if response is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(response.headers.get("retry-after", "")))
    return float(2**attempt) * rng.uniform(0.8, 1.2)


def post_request(
    client: httpx.Client, url: str, req: OtlpRequest, stats: LoadStats, deadline: float
) -> float:
    """POST one request until it is accepted; the time of its HTTP 200."""
    rng = random.Random()
    first = time.perf_counter()
    for attempt in range(10_000):
        response: httpx.Response | None = None
        try:
            response = client.post(url, content=req.body, headers={"Content-Type": PROTOBUF})
        except httpx.TransportError as exc:
            label = type(exc).__name__
        else:
            if response.status_code == 200:
                t_ack = time.perf_counter()
                answer = ExportTraceServiceResponse.FromString(response.content)
                with stats.lock:
                    stats.rejected_spans += answer.partial_success.rejected_spans
                    if t_ack - first > EXPORTER_TIMEOUT_S:
                        stats.beyond_exporter_timeout += 1
                return t_ack
            label = str(response.status_code)
            if response.status_code not in RETRYABLE:
                raise RuntimeError(f"POST {url}: HTTP {label}: {response.text[:300]}")
        with stats.lock:
            stats.retries += 1
            stats.statuses[label] = stats.statuses.get(label, 0) + 1
        if time.perf_counter() > deadline:
            raise RuntimeError(f"POST {url}: still refused ({label}) at the case's deadline")
        time.sleep(_retry_delay(response, min(attempt, 5), rng))
    raise AssertionError("unreachable")


def send_all(
    url: str,
    requests: Sequence[OtlpRequest],
    clients: int,
    on_ack: Callable[[int, float], None],
    deadline: float,
) -> LoadStats:
    """Send every request from `clients` threads (each its own connection)."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(requests)):
        todo.put(i)
    stats = LoadStats()
    errors: list[BaseException] = []

    def worker() -> None:
        with httpx.Client(timeout=httpx.Timeout(120.0)) as client:
            while not errors:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    t_ack = post_request(client, url, requests[index], stats, deadline)
                except BaseException as exc:
                    errors.append(exc)
                    return
                with stats.lock:
                    stats.acks[index] = t_ack
                on_ack(index, t_ack)

    threads = [threading.Thread(target=worker, name=f"sender-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return stats


def _percentile(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def _wait_for_count(probe: Probe, conn: Any, target: int, deadline: float) -> int:
    """Poll the total span count (every 0.1 s) until it reaches `target` or the deadline."""
    while True:
        count = probe.count_all(conn)
        if count >= target or time.perf_counter() > deadline:
            return count
        time.sleep(0.1)


def _export(url: str, spans: Sequence[ReadableSpan]) -> float | None:
    """Send `spans` with the stock OTLPSpanExporter; the time it returned, None if it failed."""
    exporter = OTLPSpanExporter(endpoint=url, timeout=60)
    try:
        result = exporter.export(spans)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    return time.perf_counter() if result is SpanExportResult.SUCCESS else None


def _lag(probe: Probe, conn: Any, req: OtlpRequest, t_ack: float, timeout: float) -> float | None:
    """Seconds from `t_ack` until all of `req`'s spans are queryable (polled as the watcher
    does); None after `timeout`."""
    while True:
        t_poll = time.perf_counter()
        if probe.count_request(conn, req) >= len(req.span_ids):
            return max(0.0, t_poll - t_ack)
        if t_poll - t_ack > timeout:
            return None
        time.sleep(min(0.1, max(0.005, 0.05 * (t_poll - t_ack))))


def run_case(
    spec: ServerSpec,
    requests: Sequence[OtlpRequest],
    warmups: Sequence[Sequence[ReadableSpan]],
    clients: int,
    timeout: float,
) -> dict[str, Any]:
    """Start the server; send `warmups[0]` with the stock exporter (warm-up, and a check that
    the server takes it) and `warmups[1]` (the lag of one request on an idle server); then
    send `requests` from `clients` senders and measure."""
    n_spans = len(requests) * BATCH
    t_launch = time.perf_counter()
    with running(spec) as proc:
        out: dict[str, Any] = {"startup_s": time.perf_counter() - t_launch}
        url = spec.base_url + "/v1/traces"
        conn = spec.probe.connect()
        watcher = VisibilityWatcher(spec.probe, requests)
        try:
            idle: list[float | None] = []
            for spans in warmups:
                t_ack = _export(url, spans)
                if t_ack is None:
                    why = f"the stock OTLPSpanExporter failed against {spec.server}"
                    return {"skipped": f"{why}: {_tail(spec, 3)}"}
                idle.append(_lag(spec.probe, conn, request_of(spans), t_ack, 120))
            baseline = spec.probe.count_all(conn)
            expected = sum(len(spans) for spans in warmups)
            if None in idle or baseline != expected:
                return {"skipped": f"warm-up: {baseline} of {expected} spans stored"}
            out["idle_lag_ms"] = _ms(idle[-1])
            watcher.start()
            cpu0, load0 = _cpu_seconds(proc.pid), os.getloadavg()[0]
            client0 = time.process_time()
            t0 = time.perf_counter()
            deadline = t0 + timeout
            stats = send_all(url, requests, clients, watcher.acknowledged, deadline)
            t_acked = max(stats.acks.values())
            t_done = watcher.wait_all(len(requests), deadline)
            cpu1, load1 = _cpu_seconds(proc.pid), os.getloadavg()[0]
            client_cpu = time.process_time() - client0
            watcher.close()
            # Not timed: the total, which must be exactly the warm-ups + N.
            count = _wait_for_count(spec.probe, conn, baseline + n_spans, deadline)
        finally:
            watcher.close()
            conn.close()
    stored = count - baseline
    lags = watcher.lags()
    out |= {
        "spans": n_spans,
        "requests": len(requests),
        "stored": stored,
        "seconds": None if t_done is None else t_done - t0,
        "spans_per_s": None if t_done is None or stored != n_spans else n_spans / (t_done - t0),
        "acked_seconds": t_acked - t0,
        "acked_spans_per_s": n_spans / (t_acked - t0),
        "lag_requests": len(lags),
        "lag_p50_ms": _ms(_percentile(lags, 50)),
        "lag_p99_ms": _ms(_percentile(lags, 99)),
        "lag_max_ms": _ms(max(lags, default=None)),
        "lag_within_target": sum(lag <= TARGET_LAG_S for lag in lags),
        "watcher_polls": watcher.polls,
        "retries": stats.retries,
        "retry_statuses": stats.statuses,
        "beyond_exporter_timeout": stats.beyond_exporter_timeout,
        "rejected_spans": stats.rejected_spans,
        "server_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        "client_cpu_s": client_cpu,
        "load_1min": [round(load0, 2), round(load1, 2)],
    }
    if t_done is None or stored != n_spans:
        out["problem"] = (
            f"{len(lags)} of {len(requests)} requests and {stored:,} of {n_spans:,} spans "
            f"queryable within the {timeout:.0f} s timeout"
        )
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


# --- databases ---------------------------------------------------------------------------------


@contextlib.contextmanager
def databases(backend: str, scratch: Path) -> Iterator[dict[str, str] | None]:
    """{"llmtrace": db, "Phoenix": db}: SQLite paths, or URLs of two fresh PostgreSQL databases
    (dropped afterwards); None when PostgreSQL is unreachable."""
    if backend == "sqlite":
        yield {"llmtrace": str(scratch / "llmtrace.db"), "Phoenix": str(scratch / "phoenix.db")}
        return
    import psycopg

    suffix = uuid.uuid4().hex[:8]
    names = {"llmtrace": f"bench_ingest_{suffix}", "Phoenix": f"phoenix_ingest_{suffix}"}
    admin_url = make_url(PG_ADMIN_URL).set(drivername="postgresql")
    admin_dsn = admin_url.render_as_string(hide_password=False)
    created: list[str] = []
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            for name in names.values():
                conn.execute(f"CREATE DATABASE {name}")
                created.append(name)
    except Exception as exc:  # server down, no permission
        print(f"  [{backend}] skipped: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
        yield None
        return
    try:
        yield {
            server: admin_url.set(database=name).render_as_string(hide_password=False)
            for server, name in names.items()
        }
    finally:
        with (
            contextlib.suppress(Exception),
            psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn,
        ):
            for name in created:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- report ------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def report(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Print the table and the verdicts; returns the problems found."""
    rows, verdicts, problems = [], [], []
    for backend, servers in results.items():
        peer = servers.get("Phoenix", {})
        peer_rate = peer.get("spans_per_s")
        for server, res in servers.items():
            if "skipped" in res:
                verdicts.append(f"[{backend}] {server} skipped: {res['skipped']}")
                continue
            if "problem" in res:
                problems.append(f"[{backend}] {server}: {res['problem']}")
            rate = res["spans_per_s"]
            ratio = f"{rate / peer_rate:.2f}x" if rate and peer_rate else "—"
            rows.append(
                [
                    backend,
                    server,
                    f"{res['spans']:,}",
                    _num(res["seconds"], 1),
                    _num(rate),
                    ratio,
                    _num(res["acked_spans_per_s"]),
                    _num(res["idle_lag_ms"], 1),
                    _num(res["lag_p50_ms"], 1),
                    _num(res["lag_p99_ms"], 1),
                    _num(res["lag_max_ms"], 1),
                    f"{res['lag_within_target']}/{res['requests']}",
                    f"{res['retries']:,}",
                    _num(res["server_cpu_s"], 1),
                ]
            )
        ours = servers.get("llmtrace", {})
        if "spans_per_s" in ours:
            if peer_rate and ours["spans_per_s"]:
                ratio_v = ours["spans_per_s"] / peer_rate
                met = "met" if ratio_v >= TARGET_RATIO else "MISSED"
                verdicts.append(
                    f"[{backend}] throughput: llmtrace {ratio_v:.2f}x Phoenix "
                    f"(target >= {TARGET_RATIO:g}x): {met}"
                )
            ok = ours["lag_within_target"] == ours["requests"]
            verdicts.append(
                f"[{backend}] visibility: {ours['lag_within_target']} of {ours['requests']} "
                f"llmtrace requests queryable within {TARGET_LAG_S:g} s of their HTTP 200 "
                f"(max {_num(ours['lag_max_ms'], 1)} ms): {'met' if ok else 'MISSED'}"
            )
    print_table(
        ["backend", "server", "spans", "s to queryable", "spans/s", "vs Phoenix",
         "acked spans/s", "idle lag ms", "lag p50 ms", "lag p99 ms", "lag max ms", "≤ 1 s",
         "retries", "server CPU s"],
        rows,
        f"(f) OTLP/HTTP ingest, {BATCH}-span requests, until every span is queryable",
    )  # fmt: skip
    print()
    for line in verdicts:
        print(line)
    return problems


def _machine(phoenix: str | None) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "packages": {
            d: version_of(d)
            for d in ("llmtrace", "opentelemetry-exporter-otlp-proto-http", "httpx", "psycopg")
        },
        "arize-phoenix": phoenix,
    }


def main() -> None:
    """Encode the requests, run every (backend, server) case, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (< 2 min)")
    parser.add_argument("--no-peer", action="store_true", help="skip Phoenix")
    parser.add_argument("--no-llmtrace", action="store_true", help="measure only Phoenix")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument(
        "--spans",
        type=int,
        help=f"spans sent to llmtrace (default {FULL[0]:,}; {QUICK[0]:,} quick)",
    )
    parser.add_argument(
        "--peer-spans",
        type=int,
        help=f"spans sent to Phoenix: the first ones of the same requests "
        f"(default {FULL[1]:,}; {QUICK[1]:,} quick)",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent senders (default 4)")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per case before giving up"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    spans, peer_spans = args.spans or sizes[0], args.peer_spans or sizes[1]
    phoenix = None if args.no_peer else phoenix_executable()
    version = phoenix_version(phoenix) if phoenix else None
    if args.no_peer:
        print("Phoenix skipped (--no-peer)")
    elif phoenix is None:
        print(PHOENIX_MISSING)
    t_enc = time.perf_counter()
    requests = encode_requests(max(spans, peer_spans))
    counts = {"llmtrace": math.ceil(spans / BATCH), "Phoenix": math.ceil(peer_spans / BATCH)}
    warmups = [make_spans(TRACES_PER_REQUEST, seed) for seed in (1, 2)]
    mib = sum(len(r.body) for r in requests) / len(requests) / 2**20
    print(
        f"{len(requests)} requests of {BATCH} spans ({mib:.2f} MiB each) encoded in "
        f"{time.perf_counter() - t_enc:.1f} s; llmtrace gets {counts['llmtrace']}, Phoenix "
        f"{counts['Phoenix']}; {args.clients} senders; Phoenix {version or '—'}"
    )
    print("load before: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with (
            tempfile.TemporaryDirectory(prefix="llmtrace-bench-ingest-") as tmp,
            databases(backend, Path(tmp)) as dbs,
        ):
            if dbs is None:
                continue
            scratch = Path(tmp)
            specs = []
            if not args.no_llmtrace:
                specs.append(llmtrace_spec(backend, dbs["llmtrace"], scratch))
            if phoenix is not None:
                specs.append(phoenix_spec(phoenix, backend, dbs["Phoenix"], scratch))
            results[backend] = {}
            for spec in specs:
                print(f"[{backend}] {spec.server} ...", file=sys.stderr, flush=True)
                try:
                    mine = requests[: counts[spec.server]]
                    res = run_case(spec, mine, warmups, args.clients, args.timeout)
                except Exception as exc:
                    res = {"skipped": f"{type(exc).__name__}: {exc}"}
                results[backend][spec.server] = res
                print(f"[{backend}] {spec.server}: {json.dumps(res)}", file=sys.stderr)
    problems = report(results)
    print("load after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    write_json(
        args.json,
        {
            "benchmark": "ingest",
            "machine": _machine(version),
            "spans": {server: n * BATCH for server, n in counts.items()},
            "batch": BATCH,
            "clients": args.clients,
            "results": results,
            "problems": problems,
        },
    )
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
