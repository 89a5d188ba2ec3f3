"""`python -m llmtrace.serving [serve]`: the entrypoint of generated Docker images.

Settings come from arguments or the environment, so one image runs anywhere:
`LLMTRACE_SERVING_MODEL` (model URI or folder), `LLMTRACE_SERVING_WORKERS` (else SageMaker's
`SAGEMAKER_MODEL_SERVER_WORKERS`, else 1), `LLMTRACE_SERVING_TRACE` (false turns tracing off).
The optional `serve` argument is what SageMaker passes to a container.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from llmtrace.exceptions import LlmtraceError
from llmtrace.serving._serve import serve

_FALSE = {"0", "false", "no", "off"}


def _env_workers() -> int:
    raw = os.environ.get("LLMTRACE_SERVING_WORKERS") or os.environ.get(
        "SAGEMAKER_MODEL_SERVER_WORKERS", "1"
    )
    try:
        return max(1, int(raw))
    except ValueError:
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve until interrupted; the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m llmtrace.serving")
    parser.add_argument("command", nargs="?", choices=["serve"], help="accepted for SageMaker")
    parser.add_argument("--model", default=os.environ.get("LLMTRACE_SERVING_MODEL"))
    parser.add_argument("--host", default="0.0.0.0")  # inside a container: every interface
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=_env_workers())
    parser.add_argument(
        "--no-trace",
        action="store_true",
        default=os.environ.get("LLMTRACE_SERVING_TRACE", "").strip().lower() in _FALSE,
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("LLMTRACE_SERVING_TIMEOUT") or 60.0),
        help="seconds before an invocation gets 504 (0: no limit)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.model:
        parser.error("give --model or set LLMTRACE_SERVING_MODEL")
    try:
        serve(
            args.model,
            host=args.host,
            port=args.port,
            workers=args.workers,
            trace=not args.no_trace,
            timeout=args.timeout if args.timeout > 0 else None,
        )
    except LlmtraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
