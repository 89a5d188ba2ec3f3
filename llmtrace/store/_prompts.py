"""The prompt registry on SQL: methods of `SqlStore`."""

from __future__ import annotations


class PromptsMixin:
    """The prompt registry half of `SqlStore`."""
