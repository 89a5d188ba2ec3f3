"""`RestStore`: the `Store` interface as an HTTP client of an llmtrace server."""

from __future__ import annotations

from llmtrace.store._rest_analytics import RestAnalyticsMixin
from llmtrace.store._rest_datasets import RestDatasetsMixin
from llmtrace.store._rest_prompts import RestPromptsMixin
from llmtrace.store._rest_registry import RestRegistryMixin
from llmtrace.store._rest_traces import RestTracesMixin
from llmtrace.store._rest_tracking import RestTrackingMixin


class RestStore(
    RestTracesMixin,
    RestTrackingMixin,
    RestDatasetsMixin,
    RestRegistryMixin,
    RestPromptsMixin,
    RestAnalyticsMixin,
):
    """A store on an llmtrace server (`llmtrace server`), reached over its REST API.

    It has the methods of `SqlStore` that make up the `Store` interface and returns equal
    values (traces, assessments, runs, page tokens) and raises the same exceptions
    (`NotFoundError`, `FilterSyntaxError` with its position, ...), so that the CLI, the
    evaluation engine and the dashboard work against a server unchanged. A server that cannot
    be reached, or answers 502/503/504, raises `StoreError` after a few retries of idempotent
    calls; a refused API key raises `AuthenticationError` (a `StoreError`).

    `url` is the server's base URL; the API key defaults to `$LLMTRACE_API_KEY` and is sent as
    `Authorization: Bearer <key>`. Close the store (or use it in a `with` block) to release its
    connections.

    Example:
        >>> from llmtrace.store import RestStore
        >>> with RestStore("http://127.0.0.1:5000") as store:
        ...     errors = store.search_traces("status = 'ERROR'", limit=20)

        `open_store("http://127.0.0.1:5000")` returns one too.
    """

    def __enter__(self) -> RestStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool (the server and its data are not affected)."""
        super().close()


__all__ = ["RestStore"]
