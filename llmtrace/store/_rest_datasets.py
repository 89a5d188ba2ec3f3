"""The evaluation datasets methods of `RestStore` over the server's REST API."""

from __future__ import annotations


class RestDatasetsMixin:
    """The evaluation datasets half of `RestStore`."""
