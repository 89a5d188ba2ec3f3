"""`serve()`: run the scoring server under uvicorn, in one process or several workers."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmtrace.serving._app import DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT_S, create_app
from llmtrace.serving._errors import ServingError
from llmtrace.serving._model import ServableModel

if TYPE_CHECKING:
    from starlette.applications import Starlette

# How `serve(..., workers=N)` hands its settings to each uvicorn worker process.
CONFIG_ENV = "LLMTRACE_SERVING_CONFIG"


@dataclass(frozen=True)
class ServeConfig:
    """What a worker process needs to build the same app as its parent."""

    model_uri: str
    model_name: str | None = None
    model_version: str | None = None
    trace: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timeout: float | None = DEFAULT_TIMEOUT_S


def load(model_uri: str | os.PathLike[str]) -> ServableModel:
    """Load a model by URI (`models:/name/version`, `runs:/...`, a folder) with
    `llmtrace.models.load_model`."""
    from llmtrace.models import load_model

    model: ServableModel = load_model(model_uri)
    return model


def serve(
    model: str | os.PathLike[str] | ServableModel,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    model_name: str | None = None,
    model_version: str | int | None = None,
    trace: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    log_level: str = "info",
) -> None:
    """Serve a model (a URI, a folder, or a loaded model) until interrupted.

    `workers > 1` starts that many processes, each loading the model from its URI (a model
    object cannot be shared between processes). Traces go to the store configured by
    `llmtrace.configure` / `LLMTRACE_STORE` unless `trace=False`. An invocation not answered
    within `timeout` seconds gets 504 (None: no limit).

    Example:
        >>> serve("models:/support-bot/3", port=8080, workers=2)
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise ServingError(
            f"model serving needs uvicorn: pip install 'llmtrace[server]' ({exc})"
        ) from exc
    if workers < 1:
        raise ServingError(f"workers must be at least 1, not {workers}")
    version = None if model_version is None else str(model_version)
    if isinstance(model, (str, os.PathLike)):
        uri = os.fspath(model)
        if isinstance(model, Path) or Path(uri).exists():
            uri = str(Path(uri).resolve())  # worker processes may start elsewhere
        if workers > 1:
            config = ServeConfig(uri, model_name, version, trace, max_body_bytes, timeout)
            os.environ[CONFIG_ENV] = json.dumps(asdict(config))
            uvicorn.run(
                f"{__name__}:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
            )
            return
        app: Any = app_for(ServeConfig(uri, model_name, version, trace, max_body_bytes, timeout))
    else:
        if workers > 1:
            raise ServingError(
                "workers > 1 needs a model URI or folder, not a loaded model: each worker "
                "process loads its own copy"
            )
        app = create_app(
            model,
            model_name=model_name,
            model_version=version,
            trace=trace,
            max_body_bytes=max_body_bytes,
            timeout=timeout,
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def app_from_env() -> Starlette:
    """Factory of uvicorn worker processes: settings from `LLMTRACE_SERVING_CONFIG`."""
    try:
        config = ServeConfig(**json.loads(os.environ[CONFIG_ENV]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ServingError(f"${CONFIG_ENV} is missing or malformed: {exc}") from exc
    return app_for(config)


def app_for(config: ServeConfig) -> Starlette:
    """Load the model of `config` and build its app."""
    model = load(config.model_uri)
    return create_app(
        model,
        model_name=config.model_name,
        model_version=config.model_version,
        model_uri=getattr(model, "model_uri", None) or config.model_uri,
        trace=config.trace,
        max_body_bytes=config.max_body_bytes,
        timeout=config.timeout,
    )


__all__ = ["CONFIG_ENV", "ServeConfig", "app_for", "app_from_env", "load", "serve"]
