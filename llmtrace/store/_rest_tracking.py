"""Experiment-tracking methods of `RestStore` (filled in by the REST tracking work)."""

from __future__ import annotations

from llmtrace.store._rest import RestClient


class RestTrackingMixin(RestClient):
    """Experiments, runs, params, metrics and tags over the server's REST API."""


__all__ = ["RestTrackingMixin"]
