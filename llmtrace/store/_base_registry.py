"""The model registry part of the `Store` protocol."""

from __future__ import annotations

from typing import Protocol


class RegistryStore(Protocol):
    """Storage of the model registry (`SqlStore` and `RestStore` implement it)."""
