"""The evaluation datasets part of the `Store` protocol."""

from __future__ import annotations

from typing import Protocol


class DatasetStore(Protocol):
    """Storage of the evaluation datasets (`SqlStore` and `RestStore` implement it)."""
