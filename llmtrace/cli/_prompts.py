"""`llmtrace prompts ...`: the prompt registry."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add the `prompts` command group."""
