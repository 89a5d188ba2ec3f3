"""The process-wide tracing runtime: settings, tracer provider, export pipeline, store.

Built lazily on first use from the environment, or by `configure()`. It owns its own
`TracerProvider` and never takes over the global one unless asked to.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from llmtrace import semconv as sc
from llmtrace._config import Settings
from llmtrace._version import __version__
from llmtrace.exceptions import ConfigError
from llmtrace.store import RestStore, Store, open_store
from llmtrace.store._engine import normalize_url
from llmtrace.tracing._payload import to_json
from llmtrace.tracing._processor import ExportProcessor, ExportStats, StampProcessor
from llmtrace.tracing._redact import Redactor
from llmtrace.tracing._sampling import RatioSampler
from llmtrace.tracing.exporters.sql import SqlSink

logger = logging.getLogger("llmtrace")


class Runtime:
    """Everything tracing needs, built from one `Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled = settings.enabled
        self.capture_inputs = settings.capture_inputs
        self.capture_outputs = settings.capture_outputs
        self.max_payload_bytes = settings.max_payload_bytes
        self._redactor = Redactor(
            secrets=settings.redact, pii=settings.redact_pii, hook=settings.redact_hook
        )
        self._needs_text_redaction = settings.redact or settings.redact_pii
        self._has_hook = settings.redact_hook is not None
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._remote = settings.store_url().startswith(("http://", "https://"))
        if not self._remote:
            normalize_url(settings.store_url())  # bad URLs fail at configure(), not later
        self.resource = Resource.create(
            {"service.name": settings.project, sc.RESOURCE_PROJECT: settings.project}
        )
        self.provider, owns_provider = self._provider()
        # Payloads of immutable values may be serialized on the export thread, unless other
        # span processors (OTLP, a shared global provider) read the attributes themselves.
        self.defer_payloads = not (
            settings.otlp_endpoint or self._remote or settings.use_global_provider
        )
        self._owns_provider = owns_provider
        self.processor: ExportProcessor | None = None
        self._extra: list[SpanProcessor] = []
        if self._remote:
            self.provider.add_span_processor(StampProcessor(self.provider.resource))
        else:
            self.processor = ExportProcessor(
                SqlSink(lambda: self.store, capture=self.capture),
                max_queue=settings.queue_size,
                batch_size=settings.batch_size,
                interval=settings.flush_interval,
                resource=self.provider.resource,
            )
            self.provider.add_span_processor(self.processor)
        otlp = settings.otlp_endpoint
        headers = None
        if self._remote:
            otlp = settings.store_url().rstrip("/") + "/v1/traces"
            headers = _server_headers(settings.api_key)
        if otlp:
            batch = BatchSpanProcessor(_otlp_exporter(otlp, headers))
            self._extra.append(batch)
            self.provider.add_span_processor(batch)
        self.tracer: otel_trace.Tracer = self.provider.get_tracer("llmtrace", __version__)

    def _provider(self) -> tuple[TracerProvider, bool]:
        if self.settings.use_global_provider:
            current = otel_trace.get_tracer_provider()
            if isinstance(current, TracerProvider):
                return current, False
            provider = TracerProvider(
                resource=self.resource,
                sampler=RatioSampler(self.settings.sample_rate, self.settings.keep_errors),
                shutdown_on_exit=False,
            )
            otel_trace.set_tracer_provider(provider)
            return provider, True
        provider = TracerProvider(
            resource=self.resource,
            sampler=RatioSampler(self.settings.sample_rate, self.settings.keep_errors),
            shutdown_on_exit=False,
        )
        return provider, True

    @property
    def store(self) -> Store:
        """The configured store, opened (and migrated) on first use: a `RestStore` when the
        store is an llmtrace server (spans still travel over OTLP)."""
        with self._store_lock:
            if self._store is None:
                url = self.settings.store_url()
                if self._remote:
                    self._store = RestStore(url, api_key=self.settings.api_key)
                else:
                    self._store = open_store(url)
            return self._store

    def capture(self, kind: str, value: object) -> str | None:
        """Bounded, redacted JSON of a payload; None if capture failed (never raises)."""
        try:
            if self._has_hook or self._needs_text_redaction:
                # Redaction happens inside serialization, before strings are cut, so a
                # truncated secret cannot leak its first characters.
                return self._redactor.serialize(kind, value, self.max_payload_bytes)
            return to_json(value, self.max_payload_bytes)
        except Exception:
            logger.debug("llmtrace could not capture %s", kind, exc_info=True)
            return None

    def flush(self, timeout: float = 30.0) -> bool:
        """Export everything finished so far; True when done within `timeout` seconds."""
        ok = True
        if self.processor is not None:
            ok = self.processor.force_flush(int(timeout * 1000))
        for extra in self._extra:
            ok = extra.force_flush(int(timeout * 1000)) and ok
        return ok

    def stats(self) -> ExportStats:
        """Export counters (zeros when spans go only to OTLP)."""
        if self.processor is None:
            return ExportStats(0, 0, 0, 0, 0, None)
        return self.processor.stats()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Flush and stop exporting; close the store."""
        if self.processor is not None:
            self.processor.shutdown(int(timeout * 1000))
        for extra in self._extra:
            try:
                extra.shutdown()
            except Exception:
                logger.debug("llmtrace OTLP shutdown failed", exc_info=True)
        if self._store is not None:
            self._store.close()


def _server_headers(api_key: str | None) -> dict[str, str] | None:
    """Headers of OTLP exports to an llmtrace server: its API key (the `api_key` setting, i.e.
    `$LLMTRACE_API_KEY`, the key `RestStore` sends) on top of any `OTEL_EXPORTER_OTLP_*HEADERS`.
    The key goes only to the configured server, never to a separate `otlp_endpoint`."""
    key = (api_key or "").strip()
    if not key:
        return None  # the exporter reads OTEL_EXPORTER_OTLP_*HEADERS itself
    from opentelemetry.util.re import parse_env_headers

    # Older exporters ignore these variables once headers are given: merged here.
    env = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or os.environ.get(
        "OTEL_EXPORTER_OTLP_HEADERS", ""
    )
    headers = {k.lower(): v for k, v in parse_env_headers(env, liberal=True).items()}
    headers["authorization"] = f"Bearer {key}"
    return headers


def _otlp_exporter(endpoint: str, headers: dict[str, str] | None = None) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(
            "exporting over OTLP needs the OTLP exporter: pip install 'llmtrace[otlp]'"
        ) from exc
    return OTLPSpanExporter(endpoint=endpoint, headers=headers)


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The current runtime, built from the environment on first use."""
    rt = _runtime
    if rt is not None:
        return rt
    with _lock:
        if _runtime is None:
            try:
                _install(Runtime(Settings.from_env()))
            except Exception as exc:
                # A bad LLMTRACE_* variable must not break the program: trace nothing, say why.
                logger.error("llmtrace tracing is disabled: %s", exc)
                _install(Runtime(Settings(enabled=False)))
        assert _runtime is not None
        return _runtime


def peek_runtime() -> Runtime | None:
    """The current runtime if one was built, without building one."""
    return _runtime


def _install(rt: Runtime) -> None:
    global _runtime
    _runtime = rt


def configure(**overrides: Any) -> Settings:
    """Replace the runtime with one built from the environment plus `overrides`."""
    redact = overrides.get("redact")
    if callable(redact) and not isinstance(redact, bool):
        overrides["redact_hook"] = redact
        overrides["redact"] = True
    settings = Settings.from_env(**overrides)
    new = Runtime(settings)
    with _lock:
        old = _runtime
        _install(new)
    if old is not None:
        old.shutdown()
    return settings


def reset() -> None:
    """Shut the runtime down and forget it; the next span builds a new one (tests use this)."""
    global _runtime
    with _lock:
        old, _runtime = _runtime, None
    if old is not None:
        old.shutdown()


def _shutdown_at_exit() -> None:
    rt = _runtime
    if rt is None:
        return
    try:
        rt.shutdown()
        dropped = rt.stats().dropped
        if dropped:
            logger.warning("llmtrace dropped %d span(s) in this process", dropped)
    except Exception:  # interpreter exit: never a traceback from telemetry
        logger.debug("llmtrace shutdown at exit failed", exc_info=True)


atexit.register(_shutdown_at_exit)

__all__ = ["Runtime", "configure", "get_runtime", "peek_runtime", "reset"]
