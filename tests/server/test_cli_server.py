"""`llmtrace server` and `llmtrace keys` from the command line.

The server runs as a real subprocess (`python -m llmtrace ... server`) on a free loopback port:
on SQLite, and on PostgreSQL with `--workers 2` and as two replicas sharing one database. It
must answer /health, /ready, /version and /openapi.json, and stop cleanly (exit 0, quickly) on
SIGTERM and SIGINT. Mistakes (bad URL, unreachable database, port in use) end with one `error:`
line and a non-zero exit code.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from llmtrace.cli import main
from llmtrace.store import SqlStore
from tests.server.conftest import free_port

STARTUP_S = 60.0
STOP_S = 15.0


def has_grpc() -> bool:
    return importlib.util.find_spec("grpc") is not None


def _workers_of(pid: int) -> list[int]:
    """Ids of the uvicorn worker processes (multiprocessing spawn children) of `pid`."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            workers.append(int(entry.name))
    return workers


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTRACE_")}
    env["LLMTRACE_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class ServerProcess:
    """A `llmtrace server` subprocess."""

    process: subprocess.Popen[str]
    url: str
    log: Path
    grpc_port: int | None = None
    _stopped: bool = field(default=False, repr=False)

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"server not ready within {STARTUP_S} s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Send `sig`; returns the exit code and how long the process took to exit."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"server did not stop within {STOP_S} s on {sig!r}:\n{self.output()}")
        self._stopped = True
        return code, time.monotonic() - started


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(store: str, *args: str, grpc: bool = False, wait: bool = True) -> ServerProcess:
        port = free_port()
        grpc_port = free_port() if grpc else None
        grpc_args = ["--grpc-port", str(grpc_port)] if grpc_port else ["--no-grpc"]
        log = tmp_path / f"server-{port}.log"
        command = [sys.executable, "-m", "llmtrace", "--store", store, "server"]
        command += ["--port", str(port), *grpc_args, *args]
        with log.open("w") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=_env(tmp_path / "home"),
                cwd=tmp_path,
            )
        server = ServerProcess(process, f"http://127.0.0.1:{port}", log, grpc_port)
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def _check_endpoints(url: str) -> None:
    assert httpx.get(url + "/health", timeout=10).json() == {"status": "ok"}
    ready = httpx.get(url + "/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    version = httpx.get(url + "/version", timeout=10).json()
    assert version["api"] == "v1" and version["version"]
    document = httpx.get(url + "/openapi.json", timeout=10).json()
    assert document["info"]["title"] == "llmtrace"
    assert {"/health", "/ready", "/version", "/v1/traces"} <= set(document["paths"])


def _otlp_span(trace_id: str, name: str) -> dict[str, object]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "scope": {"name": "test"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": secrets.token_hex(8),
                                "name": name,
                                "kind": 1,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "status": {},
                            }
                        ],
                    }
                ],
            }
        ]
    }


# --- the server ------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_server_on_sqlite_serves_and_stops_cleanly(
    start_server: Callable[..., ServerProcess], tmp_path: Path, sig: int
) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'cli.db'}")

    _check_endpoints(server.url)

    code, took = server.stop(sig)
    assert code == 0, server.output()
    assert took < 10
    assert "Traceback" not in server.output()
    assert "llmtrace server on http://127.0.0.1:" in server.output()


def test_two_workers_and_two_replicas_share_postgresql(
    start_server: Callable[..., ServerProcess], migrated_postgresql_url: str
) -> None:
    url = migrated_postgresql_url
    first = start_server(url, "--workers", "2", "--auth", grpc=True)
    second = start_server(url, "--auth")
    store = SqlStore(url)
    try:
        _, secret = store.create_api_key("replicas")
        auth = {"Authorization": f"Bearer {secret}"}
        for server in (first, second):
            _check_endpoints(server.url)
        assert len(_workers_of(first.process.pid)) == 2
        assert _workers_of(second.process.pid) == []
        for _ in range(20):
            with httpx.Client(timeout=10) as client:  # a new connection each time
                assert client.get(first.url + "/api/v1/nothing", headers=auth).status_code == 404

        # A write through one replica is visible through the other.
        trace_id = secrets.token_hex(16)
        written = httpx.post(first.url + "/v1/traces", json=_otlp_span(trace_id, "a"), headers=auth)
        assert written.status_code == 200, written.text
        assert store.get_trace(trace_id).info.name == "a"
        document = httpx.get(second.url + "/openapi.json", timeout=10).json()
        if "/api/v1/traces/{trace_id}" in document["paths"]:
            read = httpx.get(f"{second.url}/api/v1/traces/{trace_id}", headers=auth, timeout=10)
            assert read.status_code == 200, read.text
            assert trace_id in read.text

        # The key is the database's: revoked there, both replicas refuse it (after the cache).
        store.revoke_api_key("replicas")
        time.sleep(5.5)
        for server in (first, second):
            assert httpx.get(server.url + "/version", timeout=10).status_code == 200
            refused = httpx.get(server.url + "/api/v1/x", headers=auth, timeout=10)
            assert refused.status_code == 401
    finally:
        store.close()

    for server in (first, second):
        code, took = server.stop(signal.SIGTERM)
        assert code == 0, server.output()
        assert took < 15
        assert "Traceback" not in server.output()


def test_grpc_receiver_with_workers_runs_in_the_supervisor(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    grpc = pytest.importorskip("grpc")
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
    from opentelemetry.proto.trace.v1 import trace_pb2

    url = f"sqlite:///{tmp_path / 'grpc.db'}"
    server = start_server(url, "--workers", "2", grpc=True)
    trace_id = secrets.token_bytes(16)
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        spans=[
                            trace_pb2.Span(
                                trace_id=trace_id,
                                span_id=secrets.token_bytes(8),
                                name="over-grpc",
                                start_time_unix_nano=1_700_000_000_000_000_000,
                                end_time_unix_nano=1_700_000_001_000_000_000,
                            )
                        ]
                    )
                ]
            )
        ]
    )

    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]
        stub.Export(request, timeout=30)

    store = SqlStore(url)
    try:
        assert store.get_trace(trace_id.hex()).info.name == "over-grpc"
    finally:
        store.close()
    code, _ = server.stop(signal.SIGTERM)
    assert code == 0, server.output()
    assert "OTLP/gRPC port" in server.output()


def test_auth_without_keys_warns_how_to_create_one(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'w.db'}", "--auth")
    server.stop()

    warning = [line for line in server.output().splitlines() if line.startswith("warning:")]
    assert len(warning) == 1
    assert "no active API key" in warning[0] and "keys create" in warning[0]


def _run(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmtrace", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "home"),
        cwd=tmp_path,
        timeout=timeout,
    )


def _assert_one_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert needle in errors[0], errors[0]


def test_port_in_use_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        store = f"sqlite:///{tmp_path / 'p.db'}"
        server = ["--store", store, "server"]
        http = _run(tmp_path, *server, "--port", str(port), "--no-grpc")
        grpc = _run(tmp_path, *server, "--port", str(free_port()), "--grpc-port", str(port))

    _assert_one_error(http, 1, f"cannot listen for HTTP on 127.0.0.1:{port}")
    if has_grpc():
        _assert_one_error(grpc, 1, f"cannot listen for OTLP/gRPC on 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("store", "code", "needle"),
    [
        ("nosuchdb://x/y", 2, "unsupported store URL"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/nothing", 1, "the store failed"),
        ("http://127.0.0.1:5000", 2, "must be a database URL"),
    ],
    ids=["bad-url", "unreachable", "server-url"],
)
def test_store_mistakes_are_one_error_line(
    tmp_path: Path, store: str, code: int, needle: str
) -> None:
    result = _run(tmp_path, "server", "--store", store, "--no-grpc", "--port", str(free_port()))
    _assert_one_error(result, code, needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--workers", "0"], "workers must be >= 1"),
        (["--max-body-mb", "0"], "max_body_bytes"),
        (["--grpc-port", "70000"], "invalid port 70000"),
        (["--ingest-queue-spans", "0"], "ingest_queue_spans must be positive"),
    ],
)
def test_bad_options_are_one_error_line(tmp_path: Path, args: list[str], needle: str) -> None:
    if "--grpc-port" in args and not has_grpc():
        pytest.skip("grpcio is not installed")
    result = _run(tmp_path, "--store", f"sqlite:///{tmp_path / 'o.db'}", "server", *args)
    _assert_one_error(result, 2, needle)


def test_grpc_flags_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["server", "--grpc-port", "4317", "--no-grpc"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_grpc_defaults_to_4317_when_grpcio_is_installed() -> None:
    from llmtrace.cli import build_parser
    from llmtrace.cli._server import grpc_port

    parser = build_parser()
    default = grpc_port(parser.parse_args(["server"]))
    assert default == (4317 if has_grpc() else None)
    assert grpc_port(parser.parse_args(["server", "--no-grpc"])) is None
    if has_grpc():
        assert grpc_port(parser.parse_args(["server", "--grpc-port", "4400"])) == 4400


# --- keys ------------------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def keys_cli(
    capsys: pytest.CaptureFixture[str],
    migrated_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Result]:
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LLMTRACE_STORE", raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(["--store", migrated_db_url, "keys", *args])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def test_keys_create_list_revoke(keys_cli: Callable[..., Result], migrated_db_url: str) -> None:
    created = keys_cli("create", "ci")
    assert created.code == 0, created.err
    secret = created.out.strip()
    assert secret.startswith("llmt_") and "\n" not in secret
    assert "shown this once and cannot be shown again" in created.err
    assert "read-write" in created.err

    reader = keys_cli("create", "dashboard", "--read-only")
    assert reader.code == 0 and "read-only" in reader.err

    table = keys_cli("list")
    lines = table.out.strip().splitlines()
    assert lines[0].split()[:3] == ["KEY", "ID", "NAME"]
    assert [line.split()[1:3] for line in lines[1:]] == [["ci", "write"], ["dashboard", "read"]]
    assert secret not in table.out

    listed = [json.loads(line) for line in keys_cli("list", "--json").out.splitlines()]
    assert [(k["name"], k["scope"], k["revoked_at"]) for k in listed] == [
        ("ci", "write", None),
        ("dashboard", "read", None),
    ]
    ci_id = listed[0]["key_id"]
    assert secret.startswith(f"llmt_{ci_id}_")

    revoked = keys_cli("revoke", ci_id)
    assert revoked.code == 0 and ci_id in revoked.out

    assert [k.split()[1] for k in keys_cli("list").out.strip().splitlines()[1:]] == ["dashboard"]
    everything = [json.loads(line) for line in keys_cli("list", "--all", "--json").out.splitlines()]
    assert [k["revoked_at"] is not None for k in everything] == [True, False]
    assert "REVOKED" in keys_cli("list", "--all").out

    store = SqlStore(migrated_db_url)
    try:
        assert store.authenticate_api_key(secret) is None
    finally:
        store.close()


def test_keys_mistakes_are_one_error_line(keys_cli: Callable[..., Result]) -> None:
    unknown = keys_cli("revoke", "nope")
    assert unknown.code == 1 and unknown.err.startswith("error: no API key")

    keys_cli("create", "twin")
    keys_cli("create", "twin")
    ambiguous = keys_cli("revoke", "twin")
    assert ambiguous.code == 2 and "revoke one by its key id" in ambiguous.err

    empty = keys_cli("create", " ")
    assert empty.code == 2 and empty.err.startswith("error: an API key name")
    assert len(empty.err.strip().splitlines()) == 1


def test_keys_store_may_follow_the_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "home"))
    store = f"sqlite:///{tmp_path / 'after.db'}"

    assert main(["keys", "create", "late", "--store", store]) == 0
    assert main(["keys", "list", "--json", "--store", store]) == 0

    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1])["name"] == "late"
    # The default store was not touched.
    assert not (tmp_path / "home" / "llmtrace.db").exists()


def test_a_key_from_the_cli_opens_a_server(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'k.db'}"
    created = _run(tmp_path, "--store", store, "keys", "create", "reader", "--read-only")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    server = start_server(store, "--auth")

    auth = {"X-API-Key": secret}
    assert httpx.get(server.url + "/api/v1/nothing", headers=auth).status_code == 404
    assert httpx.post(server.url + "/v1/traces", json={}, headers=auth).status_code == 403
    assert httpx.get(server.url + "/api/v1/nothing").status_code == 401
    assert "warning:" not in server.output()
