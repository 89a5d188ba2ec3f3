"""`llmtrace models serve|build-docker|generate-dockerfile`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

_MIB = 1024 * 1024


def register(sub: Any) -> None:
    """Add the serving commands to the `models` group's subparsers."""
    p = sub.add_parser(
        "serve",
        help="serve a model over REST (/invocations, /ping, /health, /version)",
        description=(
            "Run a scoring server for a model: POST /invocations takes JSON (dataframe_split, "
            "dataframe_records, instances or inputs, with optional params) or CSV and answers "
            '{"predictions": ...}. Each request is a trace in the store (--store, '
            "$LLMTRACE_STORE) unless --no-trace."
        ),
    )
    _model_arg(p)
    p.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="where request traces go (database or llmtrace server URL); same as the global "
        "--store",
    )
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR", help="default 127.0.0.1")
    p.add_argument("--port", type=int, default=5000, metavar="N", help="default 5000")
    p.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default 1)"
    )
    p.add_argument("--no-trace", action="store_true", help="do not trace requests")
    p.add_argument(
        "--max-body-mb",
        type=float,
        default=32.0,
        metavar="MIB",
        help="largest request body, in MiB (default 32); larger ones get 413",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="answer 504 when the model takes longer than S seconds (default 60; 0: no limit)",
    )
    p.set_defaults(handler=_serve)

    g = sub.add_parser(
        "generate-dockerfile",
        help="write a Docker build context that serves a model on port 8080",
        description=(
            "Write a Dockerfile, requirements.txt and a copy of the model folder to a directory. "
            "The image serves /ping and /invocations on port 8080 (the SageMaker contract)."
        ),
    )
    _model_arg(g)
    g.add_argument(
        "-d", "--output-directory", required=True, metavar="DIR", help="where to write it"
    )
    _image_args(g)
    g.set_defaults(handler=_generate)

    b = sub.add_parser(
        "build-docker",
        help="build a Docker image that serves a model on port 8080",
        description="Generate the build context of generate-dockerfile and run `docker build`.",
    )
    _model_arg(b)
    b.add_argument("-n", "--name", required=True, metavar="IMAGE", help="image name[:tag]")
    _image_args(b)
    b.set_defaults(handler=_build)


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-m",
        "--model-uri",
        required=True,
        metavar="URI",
        help="the model: models:/name/version, models:/name@alias, runs:/<run>/path or a folder",
    )


def _image_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-image", default=None, metavar="IMAGE", help="default python:3.11-slim")
    p.add_argument(
        "--llmtrace-requirement",
        default=None,
        metavar="REQ",
        help="how the image installs llmtrace: a pip requirement or a wheel file "
        "(default: this version from the package index)",
    )


def _serve(args: argparse.Namespace) -> int:
    from llmtrace.serving import serve

    if not args.no_trace and args.store:
        # Set for this process and inherited by worker processes.
        os.environ["LLMTRACE_STORE"] = args.store
    print(
        f"serving {args.model_uri} on http://{args.host}:{args.port} "
        f"(workers {args.workers}; tracing {'off' if args.no_trace else 'on'})",
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(
            args.model_uri,
            host=args.host,
            port=args.port,
            workers=args.workers,
            trace=not args.no_trace,
            max_body_bytes=int(args.max_body_mb * _MIB),
            timeout=args.timeout if args.timeout > 0 else None,
            log_level="warning",
        )
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _image_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if args.base_image:
        kwargs["base_image"] = args.base_image
    if args.llmtrace_requirement:
        kwargs["llmtrace_requirement"] = args.llmtrace_requirement
    return kwargs


def _generate(args: argparse.Namespace) -> int:
    from llmtrace.serving import generate_dockerfile

    path = generate_dockerfile(args.model_uri, args.output_directory, **_image_kwargs(args))
    print(f"wrote {path.parent} (build it with: docker build -t IMAGE {path.parent})")
    return 0


def _build(args: argparse.Namespace) -> int:
    from llmtrace.serving import build_docker

    build_docker(args.model_uri, args.name, **_image_kwargs(args))
    print(f"built image {args.name} (run it with: docker run -p 8080:8080 {args.name})")
    return 0
