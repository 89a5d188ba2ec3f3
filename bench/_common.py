"""Shared helpers of the benchmarks: timing, machine description, peer runner, throwaway DBs.

Everything here is standard library plus SQLAlchemy (already an llmtrace dependency), so the
benchmark scripts stay short and readable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PEER_SCRIPT = BENCH_DIR / "peer_mlflow.py"
PEER_VENV = BENCH_DIR / ".venv-mlflow"

# Throwaway databases are created on these servers (override with the environment variables).
PG_ADMIN_URL = os.environ.get("LLMTRACE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_ADMIN_URL = os.environ.get("LLMTRACE_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


# --- timing ------------------------------------------------------------------------------------


def timed_ms(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median wall time of `fn` over `runs` runs, in milliseconds, and the last result."""
    samples = []
    result: object = None
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        result = fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(samples), result


# --- machine and versions ----------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def version_of(dist: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def llmtrace_revision() -> str | None:
    """The repository's commit (read-only git calls), flagged when llmtrace/ has local edits."""
    repo = str(BENCH_DIR.parent)
    try:
        head = subprocess.run(
            ["git", "-C", repo, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", repo, "status", "--porcelain", "--", "llmtrace"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head} + uncommitted changes in llmtrace/" if dirty else head


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and the versions of the packages that matter here."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "llmtrace_revision": llmtrace_revision(),
        "packages": {
            d: version_of(d)
            for d in ("llmtrace", "opentelemetry-sdk", "sqlalchemy", "psycopg", "pymysql")
        },
    }


# --- the peer (MLflow, in its own virtualenv) --------------------------------------------------


def peer_python() -> Path | None:
    """Interpreter of the MLflow virtualenv (`$LLMTRACE_BENCH_PEER_PYTHON` overrides), or None."""
    override = os.environ.get("LLMTRACE_BENCH_PEER_PYTHON")
    if override:
        return Path(override)
    for candidate in (PEER_VENV / "bin" / "python", PEER_VENV / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return None


PEER_MISSING = (
    "MLflow peer skipped: bench/.venv-mlflow does not exist (create it with bench/setup_peer.sh)"
)


def run_peer(args: Sequence[str], timeout: float = 900) -> dict[str, Any]:
    """Run `peer_mlflow.py` with the peer's interpreter; its JSON output, or {"skipped": why}."""
    python = peer_python()
    if python is None:
        return {"skipped": PEER_MISSING}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMTRACE_")}
    env["PYTHONWARNINGS"] = "ignore"
    try:
        # A scratch working directory: whatever MLflow writes relative to it stays out of here.
        with tempfile.TemporaryDirectory(prefix="llmtrace-bench-peer-") as cwd:
            proc = subprocess.run(
                [str(python), str(PEER_SCRIPT), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=cwd,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"skipped": f"MLflow peer failed: {exc}"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"skipped": f"MLflow peer failed (exit {proc.returncode}): {' | '.join(tail)}"}
    return json.loads(lines[-1])


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """--quick, --peer/--no-peer and --json, shared by every benchmark script."""
    parser.add_argument("--quick", action="store_true", help="a short smoke run (< 60 s)")
    peer = parser.add_mutually_exclusive_group()
    peer.add_argument("--peer", action="store_true", help="measure MLflow even with --quick")
    peer.add_argument("--no-peer", action="store_true", help="skip MLflow")
    parser.add_argument("--json", help="also write the results to this file")


def want_peer(args: argparse.Namespace) -> bool:
    """MLflow runs by default, except in --quick mode (its start-up alone takes ~10 s)."""
    if args.no_peer:
        return False
    return bool(args.peer or not args.quick)


PEER_OFF = "MLflow peer skipped (--no-peer, or --quick without --peer)"


# --- throwaway server databases ----------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database(backend: str) -> Iterator[str | None]:
    """Yield the URL of a fresh database on `backend` ("postgresql" or "mysql"), dropped after.

    Yields None when the server or its driver is unavailable, so callers can skip it.
    """
    import sqlalchemy as sa

    from llmtrace.store._engine import normalize_url

    admin_url = PG_ADMIN_URL if backend == "postgresql" else MYSQL_ADMIN_URL
    name = f"llmtrace_bench_{uuid.uuid4().hex[:8]}"
    try:
        url = normalize_url(admin_url)
        connect_args = {"connect_timeout": 5}
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args=connect_args)
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # server down, driver missing, no permission
        print(f"  [{backend}] skipped: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
        yield None
        return
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception), admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


# --- output ------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 1) -> str:
    """Numbers with thousands separators; None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """A plain-text table (Markdown pipe syntax, so it can be pasted into the README)."""
    cells = [[str(h) for h in headers], *[[fmt(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if title:
        print(f"\n{title}")
    for i, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """Write results as JSON when `path` is given (run_all.py collects them this way)."""
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str))


__all__ = [
    "BENCH_DIR",
    "PEER_MISSING",
    "PEER_OFF",
    "add_common_args",
    "fmt",
    "machine_info",
    "peer_python",
    "print_table",
    "run_peer",
    "throwaway_database",
    "timed_ms",
    "version_of",
    "want_peer",
    "write_json",
]
