"""The peer's side of the evaluation benchmark (`bench_eval.py`): `mlflow.genai.evaluate`.

Runs with the interpreter of `bench/.venv-mlflow` against the judge server at `--base-url`
(`bench/_judge_server.py`), tracking into a SQLite file, and prints one JSON line:

    python peer_mlflow_eval.py --data rows.jsonl --base-url http://127.0.0.1:PORT/v1 \
        --uri sqlite:////tmp/x/mlflow.db --workers 32

Three built-in LLM judges score every row: `RelevanceToQuery`, `Correctness` and a
`Guidelines` judge (the answer must be supported by the context given in the inputs), all on
`openai:/judge-model`, whose base URL comes from `OPENAI_API_BASE`. The concurrency is set
through MLflow's own variables: `MLFLOW_GENAI_EVAL_MAX_WORKERS=--workers` rows at a time, each
row's scorers one after another (`MLFLOW_GENAI_EVAL_MAX_SCORER_WORKERS=1`), so at most
`--workers` judge requests are in flight, as for llmtrace; its scorer rate limiter (adaptive,
starting at 10 rows/s) is switched off (`MLFLOW_GENAI_EVAL_SCORER_RATE_LIMIT=0`) unless
`--rate-limit` is given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

MODEL = "openai:/judge-model"
GUIDELINE = "The response must be supported by the context given in the request."


def load(path: str, limit: int | None) -> list[dict[str, Any]]:
    """The rows of `bench_eval.py` in MLflow's format (inputs, outputs, expectations)."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            rows.append(
                {
                    "inputs": {
                        "question": r["inputs"]["question"],
                        "context": "\n\n".join(r["context"]),
                    },
                    "outputs": r["outputs"],
                    "expectations": {"expected_response": r["expectations"]["expected_response"]},
                }
            )
            if limit and len(rows) >= limit:
                break
    return rows


def main() -> None:
    """Parse the arguments, run `mlflow.genai.evaluate` once, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="rows as JSON lines (bench_eval.py's)")
    parser.add_argument("--rows", type=int, default=None, help="only the first N rows")
    parser.add_argument("--base-url", required=True, help="OpenAI-compatible base URL")
    parser.add_argument("--uri", required=True, help="MLflow tracking URI")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--rate-limit", default="0", help="MLFLOW_GENAI_EVAL_SCORER_RATE_LIMIT")
    args = parser.parse_args()

    env = {
        "OPENAI_API_BASE": args.base_url,
        "OPENAI_BASE_URL": args.base_url,
        "OPENAI_API_KEY": "sk-bench",
        "MLFLOW_GENAI_EVAL_MAX_WORKERS": str(args.workers),
        "MLFLOW_GENAI_EVAL_MAX_SCORER_WORKERS": "1",
        "MLFLOW_GENAI_EVAL_SCORER_RATE_LIMIT": args.rate_limit,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "TQDM_DISABLE": "1",
    }
    os.environ.update(env)
    t0 = time.perf_counter()
    import mlflow
    from mlflow.genai.scorers import Correctness, Guidelines, RelevanceToQuery

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(args.uri)
    mlflow.set_experiment("eval-bench")
    rows = load(args.data, args.rows)
    scorers = [
        RelevanceToQuery(model=MODEL),
        Correctness(model=MODEL),
        Guidelines(name="grounded", guidelines=GUIDELINE, model=MODEL),
    ]
    startup_s = time.perf_counter() - t0

    cpu = time.process_time()
    t0 = time.perf_counter()
    result = mlflow.genai.evaluate(data=rows, scorers=scorers)
    wall_s = time.perf_counter() - t0
    cpu = time.process_time() - cpu

    metrics = dict(result.metrics)
    out = {
        "rows": len(rows),
        "wall_s": wall_s,
        "startup_s": startup_s,
        "client_cpu_s": cpu,
        "metrics": metrics,
        "env": {k: v for k, v in env.items() if k.startswith("MLFLOW_GENAI")},
        "mlflow_version": mlflow.__version__,
        "python": sys.version.split()[0],
    }
    print(json.dumps(out, default=str))
    sys.stdout.flush()
    os._exit(0)  # skip MLflow's exit hooks: everything is written


if __name__ == "__main__":
    main()
