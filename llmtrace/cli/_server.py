"""CLI command group (filled in by the server/auth work)."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add the command group."""


__all__ = ["register"]
