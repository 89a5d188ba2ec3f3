"""Errors of experiment tracking that the store does not raise itself."""

from __future__ import annotations

from llmtrace.exceptions import InvalidParameterError, LlmtraceError


class RunStateError(LlmtraceError, RuntimeError):
    """The fluent API was used in a state that does not allow it: no active run, a run already
    active (without `nested=True`), resuming a deleted run, ..."""


class InvalidArtifactPathError(InvalidParameterError):
    """An artifact path would escape the run's artifact root (`..`, an absolute path, a NUL
    byte, a backslash), or a folder being uploaded holds a symlink pointing outside it."""


__all__ = ["InvalidArtifactPathError", "RunStateError"]
