"""`PythonModel`: the base class of custom models of the python flavor."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmtrace.models._errors import ModelInputError


@dataclass(frozen=True)
class ModelContext:
    """What `PythonModel.load_context` gets: the local paths of the artifacts given to
    `save_model(artifacts={name: path})`, by name, and the model folder."""

    artifacts: Mapping[str, str] = field(default_factory=dict)
    model_path: Path | None = None


class PythonModel:
    """A custom model: subclass it, load heavy state in `load_context`, answer in `predict`.

    The instance is pickled with cloudpickle at save time; `load_context` runs once after
    loading, with the model's artifacts copied into the model folder.

    Example:
        >>> class Echo(llmtrace.models.PythonModel):
        ...     def load_context(self, context):
        ...         self.prefix = Path(context.artifacts["prefix"]).read_text()
        ...     def predict(self, model_input, params=None):
        ...         return [self.prefix + q for q in model_input["question"]]
        >>> llmtrace.models.save_model("echo", Echo(), artifacts={"prefix": "prefix.txt"})
    """

    def load_context(self, context: ModelContext) -> None:
        """Called once after loading; the default does nothing."""

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> Any:
        """The model's answer for `model_input` (a DataFrame when the model has an input
        signature, else the data as given to `LoadedModel.predict`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement predict()")


def accepts_params(fn: Callable[..., Any]) -> bool:
    """True when `fn` can be called with a `params=` keyword."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return any(p.name == "params" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def call_with_params(fn: Callable[..., Any], data: Any, params: Mapping[str, Any]) -> Any:
    """`fn(data, params=params)`, or `fn(data)` for a function without `params` when none
    are given."""
    if accepts_params(fn):
        return fn(data, params=dict(params))
    if params:
        raise ModelInputError(
            f"this model's predict function takes no params; got {sorted(params)}"
        )
    return fn(data)


__all__ = ["ModelContext", "PythonModel", "accepts_params", "call_with_params"]
