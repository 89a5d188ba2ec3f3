"""The evaluation datasets on SQL: methods of `SqlStore`."""

from __future__ import annotations


class DatasetsMixin:
    """The evaluation datasets half of `SqlStore`."""
