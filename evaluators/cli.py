"""`llmtrace eval ...` (registered through the `llmtrace.cli` entry point; filled in by the
suites work)."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add the `eval` command group to the llmtrace CLI."""


__all__ = ["register"]
