"""The prompt registry methods of `RestStore` over the server's REST API."""

from __future__ import annotations


class RestPromptsMixin:
    """The prompt registry half of `RestStore`."""
