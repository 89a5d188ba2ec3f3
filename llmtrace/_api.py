"""Top-level functions of `llmtrace`: configuration, flushing and trace queries."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from llmtrace import pricing
from llmtrace._config import Settings
from llmtrace.store import Store, Trace, TraceList
from llmtrace.tracing import _runtime
from llmtrace.tracing._processor import ExportStats
from llmtrace.tracking import _defaults as _tracking_defaults


def configure(
    *,
    store: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    enabled: bool | None = None,
    sample_rate: float | None = None,
    keep_errors: bool | None = None,
    capture_inputs: bool | None = None,
    capture_outputs: bool | None = None,
    redact: bool | Callable[[str, object], object] | None = None,
    redact_pii: bool | None = None,
    max_payload_bytes: int | None = None,
    otlp_endpoint: str | None = None,
    use_global_provider: bool | None = None,
    queue_size: int | None = None,
    batch_size: int | None = None,
    flush_interval: float | None = None,
    artifacts: str | os.PathLike[str] | None = None,
    async_logging: bool | None = None,
) -> Settings:
    """Configure tracing. Optional: with no call, settings come from `LLMTRACE_*` variables.

    Arguments left as None keep the value from the environment (or the default). Reconfiguring
    flushes and closes the previous pipeline.

    - `store`: SQLAlchemy URL (`sqlite:///traces.db`, `postgresql://...`, `mysql://...`) or the
      http(s) URL of an llmtrace server. Default `sqlite:///~/.llmtrace/llmtrace.db`
      (`$LLMTRACE_HOME` moves the folder). Env: `LLMTRACE_STORE`.
    - `api_key`: the key of an llmtrace server started with `--auth` (`LLMTRACE_API_KEY`); sent
      with OTLP exports and REST queries to that server only.
    - `project`: groups traces (`LLMTRACE_PROJECT`, default "default").
    - `sample_rate`: fraction of traces kept; `keep_errors` keeps sampled-out traces that
      contain an error (default True).
    - `capture_inputs`/`capture_outputs`: record arguments and return values.
    - `redact`: True masks secrets (default), False turns masking off, a callable
      `(kind, value) -> value` is a hook run before serialization (masking stays on).
      `redact_pii` also masks emails, phone and card numbers.
    - `max_payload_bytes`: bound on each captured payload (default 64 KiB).
    - `otlp_endpoint`: also export spans over OTLP/HTTP there.
    - `use_global_provider`: join (or become) the global OpenTelemetry tracer provider.
    - `queue_size`, `batch_size`, `flush_interval`: the export pipeline's bounds.
    - `artifacts`: where new experiments keep run artifacts: a folder, `file:///folder` or
      `s3://bucket/prefix` (`LLMTRACE_ARTIFACTS`, default `$LLMTRACE_HOME/artifacts`).
    - `async_logging`: fluent `log_*` calls of runs return at once and are written by a
      background thread (`LLMTRACE_ASYNC_LOGGING`, default False).

    Example:
        >>> llmtrace.configure(store="sqlite:///traces.db", project="support-bot")
    """
    return _runtime.configure(
        store=store,
        api_key=api_key,
        project=project,
        enabled=enabled,
        sample_rate=sample_rate,
        keep_errors=keep_errors,
        capture_inputs=capture_inputs,
        capture_outputs=capture_outputs,
        redact=redact,
        redact_pii=redact_pii,
        max_payload_bytes=max_payload_bytes,
        otlp_endpoint=otlp_endpoint,
        use_global_provider=use_global_provider,
        queue_size=queue_size,
        batch_size=batch_size,
        flush_interval=flush_interval,
        artifacts=os.fspath(artifacts) if artifacts is not None else None,
        async_logging=async_logging,
    )


def flush(timeout: float = 30.0) -> bool:
    """Write every finished span to the store; True when done within `timeout` seconds."""
    rt = _runtime.peek_runtime()
    return True if rt is None else rt.flush(timeout)


def shutdown(timeout: float = 10.0) -> None:
    """Flush and stop the export pipeline (done automatically at interpreter exit)."""
    rt = _runtime.peek_runtime()
    if rt is not None:
        rt.shutdown(timeout)


def stats() -> ExportStats:
    """Export counters: spans exported, dropped, queued, failed write attempts; and the models
    called without a known price (`unpriced_models`: model -> calls; their cost is null until
    a price is set with `llmtrace.set_price`).

    Example:
        >>> llmtrace.stats().dropped
        0
    """
    rt = _runtime.peek_runtime()
    base = ExportStats(0, 0, 0, 0, 0, None) if rt is None else rt.stats()
    return replace(base, unpriced_models=pricing.unpriced_models())


def get_store() -> Store:
    """The configured store (opened and migrated on first use)."""
    return _runtime.get_runtime().store


def search_traces(
    filter: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    limit: int = 100,
    page_token: str | None = None,
    project: str | None = None,
) -> TraceList:
    """Search stored traces, newest first. See the README for the filter language.

    Example:
        >>> page = llmtrace.search_traces("status = 'ERROR' and latency_ms > 500", limit=20)
        >>> page.to_pandas()
        >>> more = llmtrace.search_traces(..., page_token=page.next_page_token)
    """
    return get_store().search_traces(
        filter, order_by=order_by, limit=limit, page_token=page_token, project=project
    )


def get_trace(trace_id: str) -> Trace:
    """One stored trace with its span tree; `NotFoundError` if unknown."""
    return get_store().get_trace(trace_id)


def delete_traces(
    *,
    older_than: timedelta | datetime | None = None,
    filter: str | None = None,
    project: str | None = None,
    batch_size: int = 1000,
) -> int:
    """Delete matching stored traces in bounded batches; returns how many were deleted."""
    return get_store().delete_traces(
        older_than=older_than, filter=filter, project=project, batch_size=batch_size
    )


def _settings() -> Settings:
    return _runtime.get_runtime().settings


# Runs go to the store traces go to, and follow configure(): tracking never imports tracing.
_tracking_defaults.use_providers(store=get_store, settings=_settings)

__all__ = [
    "configure",
    "delete_traces",
    "flush",
    "get_store",
    "get_trace",
    "search_traces",
    "shutdown",
    "stats",
]
