"""Errors of the model format."""

from __future__ import annotations

from llmtrace.exceptions import InvalidParameterError, LlmtraceError


class ModelInputError(InvalidParameterError):
    """The data or params given to `predict` do not match the model's signature: a required
    column is missing, a value has a type that cannot be converted safely, a param is unknown.
    The message names the column or param and the type expected. A scoring server answers it
    with HTTP 400.
    """


class ModelLoadError(LlmtraceError):
    """A model folder cannot be loaded: no descriptor, a malformed descriptor, or a flavor
    this version of llmtrace does not know."""


__all__ = ["ModelInputError", "ModelLoadError"]
