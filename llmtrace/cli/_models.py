"""`llmtrace models ...`: the model registry, and serving a model over REST."""

from __future__ import annotations

from typing import Any

from llmtrace.cli import _models_registry, _models_serve


def register(commands: Any) -> None:
    """Add the `models` command group."""
    models = commands.add_parser(
        "models",
        help="register, promote and serve models",
        description="Model registry (versions, aliases, stages, approvals) and model serving.",
    )
    sub = models.add_subparsers(dest="models_command", metavar="COMMAND")
    sub.required = True
    _models_registry.register(sub)
    _models_serve.register(sub)
