"""Settings: every option declared once, with its environment variable, type and default.

`configure(**kwargs)` overrides what the environment says; the environment overrides defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from llmtrace.exceptions import ConfigError

RedactHook = Callable[[str, object], object]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def default_home() -> Path:
    """Folder of the default store: `$LLMTRACE_HOME`, else `~/.llmtrace`."""
    home = os.environ.get("LLMTRACE_HOME")
    return Path(home).expanduser() if home else Path.home() / ".llmtrace"


def default_store_url() -> str:
    """`sqlite:///<home>/llmtrace.db`: where traces go when nothing else is configured."""
    return f"sqlite:///{default_home() / 'llmtrace.db'}"


def _env(name: str) -> dict[str, str]:
    return {"env": name}


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with `Settings.from_env(**overrides)`."""

    # Where traces are stored: a SQLAlchemy URL, or an http(s) URL of an llmtrace server.
    store: str | None = field(default=None, metadata=_env("LLMTRACE_STORE"))
    # API key for an llmtrace server store (sent with OTLP exports and REST queries).
    api_key: str | None = field(default=None, metadata=_env("LLMTRACE_API_KEY"), repr=False)
    project: str = field(default="default", metadata=_env("LLMTRACE_PROJECT"))
    enabled: bool = field(default=True, metadata=_env("LLMTRACE_ENABLED"))
    # Fraction of traces kept (head sampling on the trace id).
    sample_rate: float = field(default=1.0, metadata=_env("LLMTRACE_SAMPLE_RATE"))
    # Keep a sampled-out trace anyway when any of its spans ends with an error.
    keep_errors: bool = field(default=True, metadata=_env("LLMTRACE_KEEP_ERRORS"))
    capture_inputs: bool = field(default=True, metadata=_env("LLMTRACE_CAPTURE_INPUTS"))
    capture_outputs: bool = field(default=True, metadata=_env("LLMTRACE_CAPTURE_OUTPUTS"))
    # Built-in masking of secrets (API keys, bearer tokens, ...) in captured payloads.
    redact: bool = field(default=True, metadata=_env("LLMTRACE_REDACT"))
    # Opt-in masking of emails, phone numbers and payment card numbers.
    redact_pii: bool = field(default=False, metadata=_env("LLMTRACE_REDACT_PII"))
    # User hook (kind, value) -> value, run before serialization. Code only, no env var.
    redact_hook: RedactHook | None = field(default=None, metadata={})
    max_payload_bytes: int = field(default=65536, metadata=_env("LLMTRACE_MAX_PAYLOAD_BYTES"))
    # Also export to this OTLP/HTTP endpoint (e.g. http://collector:4318/v1/traces).
    otlp_endpoint: str | None = field(default=None, metadata=_env("LLMTRACE_OTLP_ENDPOINT"))
    # Register llmtrace's provider as the global OpenTelemetry provider.
    use_global_provider: bool = field(default=False, metadata=_env("LLMTRACE_USE_GLOBAL_PROVIDER"))
    queue_size: int = field(default=200_000, metadata=_env("LLMTRACE_QUEUE_SIZE"))
    batch_size: int = field(default=2048, metadata=_env("LLMTRACE_BATCH_SIZE"))
    flush_interval: float = field(default=0.5, metadata=_env("LLMTRACE_FLUSH_INTERVAL"))
    # Where new experiments keep run artifacts: a folder, file:///folder or s3://bucket/prefix.
    # Default: $LLMTRACE_HOME/artifacts.
    artifacts: str | None = field(default=None, metadata=_env("LLMTRACE_ARTIFACTS"))
    # Fluent log_* calls enqueue and return at once; a background thread writes them.
    async_logging: bool = field(default=False, metadata=_env("LLMTRACE_ASYNC_LOGGING"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `LLMTRACE_*` environment variables, then `overrides` (None = unset)."""
        env = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, f in known.items():
            var = f.metadata.get("env")
            if var and var in env:
                values[name] = _parse(name, f.type, env[var], var)
        for name, value in overrides.items():
            if name not in known:
                raise ConfigError(
                    f"unknown setting {name!r}; known settings: {', '.join(sorted(known))}"
                )
            if value is not None:
                values[name] = _coerce(name, known[name].type, value)
        settings = replace(cls(), **values)
        settings._validate()
        return settings

    def store_url(self) -> str:
        """The store URL, or the default SQLite file."""
        return self.store or default_store_url()

    def artifact_root(self) -> str:
        """Where new experiments keep artifacts: `artifacts`, else `<home>/artifacts`.

        A relative folder is made absolute, since it is stored with each experiment.
        """
        root = self.artifacts or str(default_home() / "artifacts")
        if _artifact_scheme(root):
            stripped = root.rstrip("/")
            return root if stripped.endswith(":") else stripped
        return os.path.abspath(os.path.expanduser(root))

    def _validate(self) -> None:
        scheme = None if self.artifacts is None else _artifact_scheme(self.artifacts)
        if scheme not in (None, "", "s3", "file"):
            raise ConfigError(
                f"artifacts must be a folder, file:///folder or s3://bucket/prefix, "
                f"got {self.artifacts!r}"
            )
        if not 0.0 <= self.sample_rate <= 1.0:
            raise ConfigError(f"sample_rate must be between 0 and 1, got {self.sample_rate}")
        if self.max_payload_bytes < 256:
            raise ConfigError(f"max_payload_bytes must be >= 256, got {self.max_payload_bytes}")
        if self.queue_size < 1 or self.batch_size < 1:
            raise ConfigError("queue_size and batch_size must be positive")
        if self.flush_interval <= 0:
            raise ConfigError(f"flush_interval must be > 0, got {self.flush_interval}")
        if not self.project:
            raise ConfigError("project must be a non-empty string")


def _artifact_scheme(location: str) -> str:
    """The URI scheme of an artifact location ("" for a plain path, even C:\\ on Windows)."""
    head, sep, _ = location.partition("://")
    if sep and head.isalnum() and len(head) > 1:
        return head.lower()
    return "file" if location.startswith("file:") else ""


def _parse(name: str, type_: Any, raw: str, var: str) -> Any:
    text = raw.strip()
    kind = str(type_)
    try:
        if kind == "bool":
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(text.replace("_", ""))
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(
            f"environment variable {var}={raw!r} is not a valid {kind} for setting {name!r}"
        ) from None
    return text or None


def _coerce(name: str, type_: Any, value: Any) -> Any:
    kind = str(type_)
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "str | None": isinstance(value, str),
        "RedactHook | None": callable(value),
    }.get(kind, True)
    if not ok:
        raise ConfigError(f"setting {name!r} expects {kind}, got {type(value).__name__}")
    return float(value) if kind == "float" else value


__all__ = ["Settings", "default_home", "default_store_url"]
