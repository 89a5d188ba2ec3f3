"""The model registry on SQL: methods of `SqlStore`."""

from __future__ import annotations


class RegistryMixin:
    """The model registry half of `SqlStore`."""
