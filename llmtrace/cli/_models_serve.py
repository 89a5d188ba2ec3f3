"""`llmtrace models serve|build-docker|generate-dockerfile`."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add the serving commands to the `models` group's subparsers."""
