"""Framework integrations, each an optional extra imported only when asked for.

Example:
    >>> import llmtrace
    >>> llmtrace.instrument("openai", "langchain")
    >>> llmtrace.uninstrument("openai")
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from dataclasses import dataclass
from typing import Any

from llmtrace.exceptions import ConfigError


@dataclass(frozen=True)
class _Integration:
    name: str
    module: str  # the llmtrace module with instrument()/uninstrument()
    requires: str  # the framework's import name
    extra: str  # the llmtrace extra that installs it
    distribution: str  # the framework's pip name


INTEGRATIONS: dict[str, _Integration] = {
    i.name: i
    for i in (
        _Integration("openai", "llmtrace.integrations.openai", "openai", "openai", "openai"),
        _Integration(
            "langchain",
            "llmtrace.integrations.langchain",
            "langchain_core",
            "langchain",
            "langchain-core",
        ),
        _Integration(
            "llama_index",
            "llmtrace.integrations.llama_index",
            "llama_index.core",
            "llama-index",
            "llama-index-core",
        ),
    )
}
_ALIASES = {
    "llama-index": "llama_index",
    "llamaindex": "llama_index",
    "langchain_core": "langchain",
}

_lock = threading.Lock()
_active: set[str] = set()


def _resolve(name: str) -> _Integration:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return INTEGRATIONS[key]
    except KeyError:
        known = ", ".join(repr(n) for n in INTEGRATIONS)
        raise ConfigError(f"unknown integration {name!r}; choose from {known}") from None


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load(integration: _Integration) -> Any:
    if not _find(integration.requires):
        raise ConfigError(
            f"llmtrace.instrument({integration.name!r}) needs the {integration.distribution} "
            f"package: pip install 'llmtrace[{integration.extra}]' "
            f"(or pip install {integration.distribution})"
        )
    return importlib.import_module(integration.module)


def instrument(*names: str, **options: Any) -> None:
    """Trace every call of the named frameworks: "openai", "langchain", "llama_index".

    Idempotent. Options go to each named integration (see its documentation), e.g.
    `instrument("openai", stream_usage=False)`. Raises `ConfigError` for an unknown name or
    a framework that is not installed, naming the `pip install` that fixes it.
    """
    if not names:
        raise ConfigError("name at least one integration: " + ", ".join(INTEGRATIONS))
    resolved = [_resolve(n) for n in names]
    modules = [(i, _load(i)) for i in resolved]  # all checked before any is patched
    with _lock:
        for integration, module in modules:
            module.instrument(**options)
            _active.add(integration.name)


def uninstrument(*names: str) -> None:
    """Undo `instrument()` for the named integrations (all instrumented ones if none named)."""
    with _lock:
        targets = [_resolve(n) for n in names] if names else [INTEGRATIONS[n] for n in _active]
        for integration in targets:
            if integration.name in _active:
                importlib.import_module(integration.module).uninstrument()
                _active.discard(integration.name)


def instrumented() -> tuple[str, ...]:
    """Names of the integrations currently instrumented."""
    with _lock:
        return tuple(sorted(_active))


__all__ = ["INTEGRATIONS", "instrument", "instrumented", "uninstrument"]
