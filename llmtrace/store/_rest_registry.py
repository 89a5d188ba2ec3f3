"""The model registry methods of `RestStore` over the server's REST API."""

from __future__ import annotations


class RestRegistryMixin:
    """The model registry half of `RestStore`."""
