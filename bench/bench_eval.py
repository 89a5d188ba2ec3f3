"""(g) Evaluation: 1,000 rows x 3 judge scorers against a judge answering in 200 ms.

The judge is a local OpenAI-compatible server (`_judge_server.py`) in its own process: every
request waits `--latency` seconds (0.2) and gets a valid JSON verdict. The rows are the 200 RAG
rows of `datasets/rag_qa_halueval_200.jsonl` (question, retrieved context, answer, expected
answer) repeated to `--rows` (1,000).

llmtrace: `evaluate(rows, scorers=[Relevance, Faithfulness, Correctness], judge=OpenAIJudge(
cache=None, max_concurrency=C), max_workers=C)`, run logged into a fresh store. Faithfulness
asks for the answer's claims first; the server answers every array with [] ("no claims"), so it
stops after that one call and every row costs 3 judge calls. The limit is what the server's
latency alone allows: calls x latency / C.

MLflow (peer, same run, same server, same rows): `mlflow.genai.evaluate` with the built-in
judges `RelevanceToQuery`, `Correctness` and `Guidelines` (`peer_mlflow_eval.py` in
bench/.venv-mlflow), at most C judge requests in flight (MLFLOW_GENAI_EVAL_MAX_WORKERS=C, scorers
of a row in sequence, its scorer rate limiter off), tracking into a SQLite file.

The server counts requests and the peak number in flight; both systems' numbers come from it.

Usage: python bench/bench_eval.py [--rows 1000] [--concurrency 32] [--latency 0.2]
                                  [--peer-rows N] [--quick] [--[no-]peer] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_DIR,
    PEER_MISSING,
    PEER_OFF,
    add_common_args,
    peer_python,
    print_table,
    version_of,
    want_peer,
    write_json,
)

DATA = BENCH_DIR.parent / "datasets" / "rag_qa_halueval_200.jsonl"
SERVER = BENCH_DIR / "_judge_server.py"
PEER_SCRIPT = BENCH_DIR / "peer_mlflow_eval.py"
TARGET_VS_LIMIT = 1.3
TARGET_VS_MLFLOW = 3.0


def make_rows(n: int) -> list[dict[str, Any]]:
    """`n` rows: the 200 HaluEval RAG rows, repeated in order."""
    base = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    return [base[i % len(base)] for i in range(n)]


# --- the judge server --------------------------------------------------------------------------


class JudgeServer:
    """`_judge_server.py` in a subprocess; `stats()`/`reset()` over HTTP."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--latency", str(latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"judge server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        self.base_url = self.url + "/v1"

    def _call(self, path: str, post: bool = False) -> dict[str, Any]:
        req = urllib.request.Request(self.url + path, data=b"{}" if post else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        return self._call("/stats")

    def reset(self) -> None:
        self._call("/reset", post=True)

    def cpu_s(self) -> float:
        """CPU seconds the server process used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# --- llmtrace ----------------------------------------------------------------------------------


def judge_scorers() -> list[Any]:
    """Relevance (judge), Faithfulness, Correctness."""
    from evaluators.scorers import Correctness, Faithfulness, Relevance

    return [Relevance(), Faithfulness(), Correctness()]


def run_llmtrace(
    rows: list[dict[str, Any]], server: JudgeServer, concurrency: int
) -> dict[str, Any]:
    import openai  # noqa: F401  (imported before timing, as the peer imports mlflow)

    from evaluators import evaluate
    from evaluators.judge import OpenAIJudge

    judge = OpenAIJudge(
        "judge-model",
        base_url=server.base_url,
        api_key="sk-bench",
        cache=None,
        max_concurrency=concurrency,
    )
    server.reset()
    server_cpu = server.cpu_s()
    cpu = time.process_time()
    t0 = time.perf_counter()
    result = evaluate(
        rows,
        scorers=judge_scorers(),
        judge=judge,
        experiment="eval-bench",
        max_workers=concurrency,
    )
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu
    stats = server.stats()
    failed = sum(1 for r in result.scores for s in r.values() if s.error is not None)
    return {
        "rows": len(rows),
        "wall_s": wall,
        "server_requests": stats["requests"],
        "peak_in_flight": stats["peak_in_flight"],
        "server_busy_s": stats["busy_s"],
        "client_cpu_s": cpu,
        "server_cpu_s": server.cpu_s() - server_cpu,
        "judge_calls": judge.stats().calls,
        "failed_scores": failed,
        "metrics": {k: v for k, v in result.metrics.items() if k.endswith("/mean")},
    }


# --- MLflow ------------------------------------------------------------------------------------


def run_mlflow(
    rows: list[dict[str, Any]], server: JudgeServer, concurrency: int, scratch: Path
) -> dict[str, Any]:
    python = peer_python()
    if python is None:
        return {"skipped": PEER_MISSING}
    data = scratch / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMTRACE_", "OPENAI_"))}
    env["PYTHONWARNINGS"] = "ignore"
    cmd = [
        str(python),
        str(PEER_SCRIPT),
        "--data",
        str(data),
        "--base-url",
        server.base_url,
        "--uri",
        f"sqlite:///{scratch / 'mlflow.db'}",
        "--workers",
        str(concurrency),
    ]
    server.reset()
    server_cpu = server.cpu_s()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=1200, env=env, cwd=scratch, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return {"skipped": f"MLflow peer timed out: {exc}"}
    stats = server.stats()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"skipped": f"MLflow peer failed (exit {proc.returncode}): {' | '.join(tail)}"}
    out = json.loads(lines[-1])
    out["server_requests"] = stats["requests"]
    out["peak_in_flight"] = stats["peak_in_flight"]
    out["server_busy_s"] = stats["busy_s"]
    out["server_cpu_s"] = server.cpu_s() - server_cpu
    return out


# --- report ------------------------------------------------------------------------------------


def summarise(res: dict[str, Any], latency: float, concurrency: int, full_rows: int) -> list[Any]:
    calls = res["server_requests"]
    limit = calls * latency / concurrency
    per_row = res["wall_s"] / res["rows"]
    return [
        res["rows"],
        round(res["wall_s"], 1),
        round(res["server_busy_s"], 1),
        round(res["client_cpu_s"] * 1000 / calls, 2),
        round(res["server_cpu_s"] * 1000 / calls, 2),
        calls,
        round(calls / res["rows"], 2),
        res["peak_in_flight"],
        round(limit, 1),
        f"{res['wall_s'] / limit:.2f}x",
        round(per_row * 1000, 1),
        round(per_row * full_rows, 1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32, help="C, for both systems")
    parser.add_argument("--latency", type=float, default=0.2, help="judge latency, seconds")
    parser.add_argument("--peer-rows", type=int, default=None, help="MLflow on fewer rows")
    add_common_args(parser)
    args = parser.parse_args()
    n = 60 if args.quick else args.rows
    peer_n = min(args.peer_rows or n, n)
    conc, lat = args.concurrency, args.latency
    print(f"rows: {n}, concurrency: {conc}, latency: {lat * 1000:.0f} ms, peer rows: {peer_n}")

    rows = make_rows(n)
    results: dict[str, Any] = {
        "rows": n,
        "concurrency": conc,
        "latency_s": lat,
        "packages": {d: version_of(d) for d in ("llmtrace", "openai", "httpx")},
    }
    server = JudgeServer(lat)
    try:
        with tempfile.TemporaryDirectory(prefix="llmtrace-bench-eval-") as tmp:
            scratch = Path(tmp)
            os.environ["LLMTRACE_HOME"] = str(scratch / "home")
            results["llmtrace"] = run_llmtrace(rows, server, conc)
            print(f"llmtrace: {results['llmtrace']}")
            if want_peer(args):
                results["mlflow"] = run_mlflow(rows[:peer_n], server, conc, scratch)
            else:
                results["mlflow"] = {"skipped": PEER_OFF}
            print(f"mlflow: {results['mlflow']}")
    finally:
        server.close()

    headers = [
        "system",
        "rows",
        "wall s",
        "judge busy s",
        "client CPU ms/call",
        "server CPU ms/call",
        "judge calls",
        "calls/row",
        "peak in flight",
        "limit s",
        "wall/limit",
        "ms/row",
        f"est. s for {n:,} rows",
    ]
    table = [["llmtrace", *summarise(results["llmtrace"], lat, conc, n)]]
    ours = results["llmtrace"]
    peer = results["mlflow"]
    ratio_ll = ours["wall_s"] / (ours["server_requests"] * lat / conc)
    results["llmtrace"]["wall_over_limit"] = ratio_ll
    if "skipped" not in peer:
        table.append([f"MLflow {peer['mlflow_version']}", *summarise(peer, lat, conc, n)])
        speedup = (peer["wall_s"] / peer["rows"]) / (ours["wall_s"] / ours["rows"])
        results["speedup_vs_mlflow_per_row"] = speedup
    print_table(headers, table, title=f"(g) {n:,} rows x 3 judge scorers, {lat * 1000:.0f} ms")
    print(
        f"\nwall / limit: {ratio_ll:.2f}x (target <= {TARGET_VS_LIMIT}x): "
        f"{'met' if ratio_ll <= TARGET_VS_LIMIT else 'missed'}"
    )
    if "skipped" in peer:
        print(peer["skipped"])
    else:
        extrap = " (MLflow per row, extrapolated)" if peer["rows"] != n else ""
        print(
            f"speed-up vs MLflow, per row{extrap}: {speedup:.1f}x (target >= "
            f"{TARGET_VS_MLFLOW}x): {'met' if speedup >= TARGET_VS_MLFLOW else 'missed'}"
        )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
