"""Model serving: a REST scoring server for any model with `predict(data, params=None)`.

`create_app(model)` is the ASGI app (`POST /invocations`, `GET /ping`, `/health`, `/version`),
`serve(uri_or_model)` runs it under uvicorn, and `generate_dockerfile`/`build_docker` package a
model as a container image following the SageMaker contract. Every invocation can be a trace in
the llmtrace store, so production traffic can be reviewed and evaluated.

Example:
    >>> from llmtrace.serving import serve
    >>> serve("models:/support-bot/3", port=5000)      # then POST /invocations
"""

from __future__ import annotations

from llmtrace.serving._app import DEFAULT_MAX_BODY_BYTES, TRACE_ID_HEADER, create_app
from llmtrace.serving._docker import build_docker, generate_dockerfile
from llmtrace.serving._errors import ServingError
from llmtrace.serving._model import ModelInfo, ServableModel
from llmtrace.serving._serve import serve

__all__ = [  # noqa: RUF022 - plain sorted order, as tests/test_public_api.py expects
    "DEFAULT_MAX_BODY_BYTES",
    "ModelInfo",
    "ServableModel",
    "ServingError",
    "TRACE_ID_HEADER",
    "build_docker",
    "create_app",
    "generate_dockerfile",
    "serve",
]
