"""The prompt registry part of the `Store` protocol."""

from __future__ import annotations

from typing import Protocol


class PromptStore(Protocol):
    """Storage of the prompt registry (`SqlStore` and `RestStore` implement it)."""
