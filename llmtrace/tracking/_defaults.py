"""Where the fluent API and a `TrackingClient()` without arguments find the store and settings.

The top-level package wires these to the tracing runtime (`llmtrace._api`), so that runs go to
the same store as traces and follow `llmtrace.configure()`. Tracking itself never imports the
tracing layer: runs and traces meet through `llmtrace.context`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from llmtrace._config import Settings
from llmtrace.store import Store, open_store

_store_provider: Callable[[], Store] | None = None
_settings_provider: Callable[[], Settings] | None = None
_fallback: dict[str, Store] = {}
_lock = threading.Lock()


def use_providers(*, store: Callable[[], Store], settings: Callable[[], Settings]) -> None:
    """Take the default store and settings from these callables (called on every use)."""
    global _store_provider, _settings_provider
    _store_provider, _settings_provider = store, settings


def current_settings() -> Settings:
    """The settings in force (those of the configured runtime, else the environment)."""
    if _settings_provider is not None:
        return _settings_provider()
    return Settings.from_env()


def default_store() -> Store:
    """The configured store (the one traces go to)."""
    if _store_provider is not None:
        return _store_provider()
    url = current_settings().store_url()
    with _lock:
        if url not in _fallback:
            _fallback[url] = open_store(url)
        return _fallback[url]


__all__ = ["current_settings", "default_store", "use_providers"]
