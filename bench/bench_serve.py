"""(h) Model serving beside MLflow: requests/s and latency of `/invocations` under `wrk`.

One model, the identity function (returns its input), saved twice: with
`llmtrace.models.save_model` and, in the MLflow virtualenv, with `mlflow.pyfunc.save_model`
(`peer_mlflow_serve.py`). Servers, each a subprocess on a free loopback port with the same
number of worker processes (`--workers`, default 1):

- llmtrace, tracing on: `python -m llmtrace --store sqlite:///<tmp>/traces.db models serve`
  (every request becomes a trace written to SQLite by the server's export thread);
- llmtrace, tracing off: the same with `--no-trace`;
- MLflow: `mlflow models serve --env-manager local` as it ships (uvicorn with its access log);
- MLflow, access log off (`UVICORN_ACCESS_LOG=false`): llmtrace's CLI logs only warnings, so
  this is the like-for-like MLflow configuration.

The load comes from `wrk` (install: `apt-get install wrk`), with a fixed small number of
threads and connections (default 1 thread, 8 keep-alive connections) so that it leaves the
server its core on a 2-core machine; each server gets the same payload byte for byte. Rounds
are interleaved (every server once per round, the order rotated) and the median round is
reported: requests/s, p50 and p99 latency from wrk's `--latency` distribution, non-2xx
answers, and the server's CPU time per request (user + system of its process tree).

Payloads: `split` = `{"dataframe_split": {"columns": ["question", "k"], "data": [[..., 3]]}}`
(one row, the classic tabular form), `inputs` = `{"inputs": ["What is ...?"]}` (an LLM-style
list of strings).

Usage: python bench/bench_serve.py [--quick] [--no-peer] [--rounds 3] [--duration 8]
                                   [--connections 8] [--threads 1] [--workers 1]
                                   [--payloads split,inputs] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    PEER_MISSING,
    PEER_OFF,
    _cpu_model,
    _memory_gib,
    add_common_args,
    peer_python,
    print_table,
    version_of,
    want_peer,
    write_json,
)

PEER_SCRIPT = BENCH_DIR / "peer_mlflow_serve.py"
PAYLOADS: dict[str, dict[str, Any]] = {
    "split": {
        "dataframe_split": {
            "columns": ["question", "k"],
            "data": [["What is retrieval-augmented generation?", 3]],
        }
    },
    "inputs": {"inputs": ["What is retrieval-augmented generation?"]},
}
_TICKS = os.sysconf("SC_CLK_TCK")


def identity(data: Any, params: Any = None) -> Any:
    """The served model, for both systems: its input, unchanged."""
    return data


# --- servers -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU, memory, OS, Python and the packages on the request path (of this interpreter)."""
    import platform

    dists = ("llmtrace", "opentelemetry-sdk", "sqlalchemy", "uvicorn", "starlette", "orjson")
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {d: version_of(d) for d in (*dists, "pandas", "httptools", "uvloop")},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    samples: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and every process below it."""
        return sum(_cpu_of(pid) for pid in _tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += children
        frontier = children
    return found


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def start(name: str, cmd: list[str], env: dict[str, str], cwd: Path, url: str) -> Server:
    log = cwd / f"{re.sub(r'[^a-z]+', '-', name.lower())}.log"
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with its workers
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited during startup:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                return Server(name, url, proc, log)
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer /ping within 120 s")


def clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMTRACE_", "MLFLOW_"))}
    env["LLMTRACE_HOME"] = str(tmp / "home")
    env["PYTHONWARNINGS"] = "ignore"
    return env


@contextlib.contextmanager
def servers(args: argparse.Namespace, tmp: Path) -> Iterator[list[Server]]:
    import llmtrace.models

    started: list[Server] = []
    try:
        model_dir = tmp / "llmtrace-model"
        llmtrace.models.save_model(model_dir, identity)
        base = [sys.executable, "-m", "llmtrace"]
        serve = ["models", "serve", "-m", str(model_dir), "--workers", str(args.workers)]
        for name, extra in (
            ("llmtrace, tracing on", []),
            ("llmtrace, tracing off", ["--no-trace"]),
        ):
            port = free_port()
            store = ["--store", f"sqlite:///{tmp / f'traces-{port}.db'}"]
            cmd = [*base, *store, *serve, *extra, "--port", str(port)]
            url = f"http://127.0.0.1:{port}"
            started.append(start(name, cmd, clean_env(tmp), tmp, url))
        python = peer_python() if want_peer(args) else None
        if python is not None:
            peer_dir = tmp / "mlflow-model"
            subprocess.run(
                [str(python), str(PEER_SCRIPT), "save", str(peer_dir)],
                cwd=tmp, env=clean_env(tmp), check=True, capture_output=True,
            )  # fmt: skip
            env = clean_env(tmp)
            # `mlflow models serve` runs `uvicorn` by name: the peer's own must come first.
            env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
            for name, access_log in (("MLflow", None), ("MLflow, access log off", "false")):
                port = free_port()
                cmd = [
                    str(python.parent / "mlflow"), "models", "serve", "-m", str(peer_dir),
                    "--env-manager", "local", "-p", str(port), "-w", str(args.workers),
                ]  # fmt: skip
                run_env = dict(env)
                if access_log is not None:
                    run_env["UVICORN_ACCESS_LOG"] = access_log
                url = f"http://127.0.0.1:{port}"
                started.append(start(name, cmd, run_env, tmp, url))
        yield started
    finally:
        for server in started:
            server.stop()


# --- load --------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, script: Path, args: argparse.Namespace, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{round(seconds)}s", "--latency",
         "-s", str(script), url + "/invocations"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        assert match is not None, out
        result[f"p{pct}_ms"] = _ms(match.group(1))
    requests = re.search(r"(\d+) requests in", out)
    result["requests"] = float(requests.group(1)) if requests else 0.0
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = float(bad.group(1)) if bad else 0.0
    return result


def lua_script(tmp: Path, name: str, body: bytes) -> Path:
    path = tmp / f"{name}.lua"
    quoted = body.decode().replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{quoted}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def check_same_answers(started: list[Server], body: bytes) -> dict[str, Any]:
    """Every server gives the same predictions for the payload (else the comparison is moot)."""
    answers = {}
    for server in started:
        r = httpx.post(
            server.url + "/invocations",
            content=body,
            headers={"content-type": "application/json"},
            timeout=10,
        )
        r.raise_for_status()
        answers[server.name] = r.json()
    first = next(iter(answers.values()))
    if any(a != first for a in answers.values()):
        raise RuntimeError(f"the servers disagree: {answers}")
    return first  # type: ignore[no-any-return]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (or brew install wrk)")
    results: dict[str, Any] = {"machine": machine(), "settings": vars(args).copy()}
    with tempfile.TemporaryDirectory(prefix="llmtrace-bench-serve-") as tmp_name:
        tmp = Path(tmp_name)
        with servers(args, tmp) as started:
            if want_peer(args) and peer_python() is None:
                results["peer"] = PEER_MISSING
            elif not want_peer(args):
                results["peer"] = PEER_OFF
            for payload in args.payloads:
                body = json.dumps(PAYLOADS[payload], separators=(",", ":")).encode()
                answer = check_same_answers(started, body)
                script = lua_script(tmp, payload, body)
                for server in started:  # warm-up: imports, first pandas calls, JIT-free caches
                    wrk(server.url, script, args, 2)
                rounds: dict[str, list[dict[str, float]]] = {s.name: [] for s in started}
                for r in range(args.rounds):
                    order = started[r % len(started) :] + started[: r % len(started)]
                    for server in order:
                        cpu0 = server.cpu_seconds()
                        sample = wrk(server.url, script, args, args.duration)
                        cpu = server.cpu_seconds() - cpu0
                        sample["cpu_us_per_request"] = cpu / max(sample["requests"], 1) * 1e6
                        rounds[server.name].append(sample)
                results[payload] = {"answer": answer, "rounds": rounds}
    return results


def median_round(samples: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median requests/s (its latencies belong to the same run)."""
    ranked = sorted(samples, key=lambda s: s["rps"])
    return ranked[len(ranked) // 2]


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    for payload in args.payloads:
        rounds = results[payload]["rounds"]
        base = statistics.median(
            s["rps"] for s in rounds.get("MLflow, access log off", [{"rps": 0}])
        )
        rows = []
        for name, samples in rounds.items():
            m = median_round(samples)
            spread = f"{min(s['rps'] for s in samples):,.0f}-{max(s['rps'] for s in samples):,.0f}"
            rows.append([
                name, m["rps"], spread, m["p50_ms"], m["p99_ms"], m["cpu_us_per_request"],
                int(sum(s["non_2xx"] for s in samples)),
                f"{m['rps'] / base:.2f}x" if base else "—",
            ])  # fmt: skip
        print_table(
            ["server", "req/s (median round)", "req/s range", "p50 ms", "p99 ms",
             "server CPU µs/req", "non-2xx", "vs MLflow, access log off"],
            rows,
            title=f"/invocations, payload '{payload}', {args.workers} worker(s), wrk "
            f"-t{args.threads} -c{args.connections}, {args.rounds} x {args.duration} s",
        )  # fmt: skip
    if "peer" in results:
        print(f"\n{results['peer']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--payloads", default="split,inputs")
    args = parser.parse_args()
    args.payloads = [p for p in args.payloads.split(",") if p]
    unknown = set(args.payloads) - set(PAYLOADS)
    if unknown:
        parser.error(f"unknown payload(s) {sorted(unknown)}; known: {sorted(PAYLOADS)}")
    if args.quick:
        args.rounds, args.duration = 1, 3.0
    results = measure(args)
    report(results, args)
    write_json(args.json, results)


if __name__ == "__main__":
    main()
