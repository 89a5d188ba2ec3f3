"""The analytics methods of `RestStore` over the server's REST API."""

from __future__ import annotations

from llmtrace.store._rest import RestClient


class RestAnalyticsMixin(RestClient):
    """The analytics half of `RestStore`."""
