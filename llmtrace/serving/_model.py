"""What the scoring server needs from a model, and the facts about it that it reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ServableModel(Protocol):
    """Anything with `predict(data, params=None)`: an `llmtrace.models.LoadedModel`, or a
    plain object in tests and custom servers.

    Optional attributes are read when present: `signature` (input validation happens inside
    `predict`), `registered_name`/`registered_version` (set when loaded from `models:/`) and
    `model_uri`.
    """

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Predictions for `data` (a DataFrame, or JSON values) with optional `params`."""
        ...


@dataclass(frozen=True)
class ModelInfo:
    """Name, version and URI of the served model, as shown by `/health` and on traces."""

    name: str | None = None
    version: str | None = None
    uri: str | None = None

    @classmethod
    def of(
        cls,
        model: object,
        *,
        name: str | None = None,
        version: str | int | None = None,
        uri: str | None = None,
    ) -> ModelInfo:
        """Explicit values first, else the model's `registered_name`, `registered_version` and
        `model_uri` attributes."""
        found_name = name if name is not None else getattr(model, "registered_name", None)
        found_version = version if version is not None else _attr(model, "registered_version")
        found_uri = uri if uri is not None else getattr(model, "model_uri", None)
        return cls(
            name=None if found_name is None else str(found_name),
            version=None if found_version is None else str(found_version),
            uri=None if found_uri is None else str(found_uri),
        )

    def as_dict(self) -> dict[str, str | None]:
        """`{"name": ..., "version": ..., "uri": ...}` for JSON answers."""
        return {"name": self.name, "version": self.version, "uri": self.uri}

    def trace_metadata(self) -> dict[str, str]:
        """Trace metadata / span attributes (`llmtrace.model.*`), unknown values left out."""
        pairs = (
            ("llmtrace.model.name", self.name),
            ("llmtrace.model.version", self.version),
            ("llmtrace.model.uri", self.uri),
        )
        return {key: value for key, value in pairs if value is not None}


def _attr(model: object, name: str) -> Any:
    return getattr(model, name, None)


__all__ = ["ModelInfo", "ServableModel"]
