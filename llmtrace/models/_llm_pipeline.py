"""The `llm_pipeline` flavor: a Python callable (a RAG chain, an agent step) called once per
input row under a trace, with the prompt versions it uses recorded in the descriptor."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from llmtrace.exceptions import InvalidParameterError
from llmtrace.models._enforce import to_frame
from llmtrace.models._errors import ModelInputError
from llmtrace.models._flavors import LoadInfo, Predictor, SaveOptions, dump_pickle, load_pickle
from llmtrace.models._flavors import pinned as _pinned
from llmtrace.models._python_model import accepts_params
from llmtrace.semconv import TRACE_METADATA_PREFIX
from llmtrace.tracing import span

# Attributes of the span of each predicted row. uuid, name and version also go into the
# trace's metadata under the same keys (the keys the scoring server uses), so that
# search_traces("metadata.`llmtrace.model.uuid` = '...'") finds a model's traces.
MODEL_UUID_ATTRIBUTE = "llmtrace.model.uuid"
MODEL_FLAVOR_ATTRIBUTE = "llmtrace.model.flavor"
MODEL_URI_ATTRIBUTE = "llmtrace.model.uri"
MODEL_PROMPTS_ATTRIBUTE = "llmtrace.model.prompts"
MODEL_NAME_ATTRIBUTE = "llmtrace.model.name"
MODEL_VERSION_ATTRIBUTE = "llmtrace.model.version"

_PROMPT_URI = re.compile(r"^prompts:/[^/@\s]+(/[0-9]+|@[A-Za-z0-9_.-]+)?$")


def prompt_uris(prompts: Iterable[Any] | None) -> tuple[str, ...]:
    """Prompt references as URIs: `prompts:/<name>/<version>`, `prompts:/<name>@<alias>` or
    `prompts:/<name>` strings, or objects with a `uri` attribute (a registry `PromptVersion`)."""
    uris: list[str] = []
    for prompt in prompts or ():
        uri = prompt if isinstance(prompt, str) else getattr(prompt, "uri", None)
        if not isinstance(uri, str) or not _PROMPT_URI.match(uri):
            raise InvalidParameterError(
                f"prompt {prompt!r} is not a prompt URI: use 'prompts:/<name>/<version>', "
                "'prompts:/<name>@<alias>' or a registered PromptVersion"
            )
        uris.append(uri)
    return tuple(uris)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _call_row(fn: Callable[..., Any], row: dict[Any, Any], params: Mapping[str, Any]) -> Any:
    """Call the pipeline on one row: positionally for unnamed columns, else with the row's
    present values as keyword arguments (an absent optional column leaves the function's
    default), else with the whole row as one mapping when the function takes one argument."""
    extra: dict[str, Any] = {}
    if params:
        if not accepts_params(fn):
            raise ModelInputError(f"this pipeline takes no params; got {sorted(params)}")
        extra["params"] = dict(params)
    if all(isinstance(key, int) for key in row):  # positional columns
        return fn(*row.values(), **extra)
    present = {str(k): v for k, v in row.items() if not _missing(v)}
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to inspect: trust the columns
        return fn(**present, **extra)
    try:
        signature.bind(**present, **extra)
    except TypeError as exc:
        try:
            signature.bind(row, **extra)
        except TypeError:
            raise ModelInputError(
                f"the pipeline cannot take a row with columns {sorted(present)}: {exc}"
            ) from exc
        return fn(row, **extra)  # a function taking the whole row as one mapping
    return fn(**present, **extra)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so that rows are JSON-friendly in spans."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", None) == 0 else value


class _PipelinePredictor:
    def __init__(self, fn: Callable[..., Any], info: LoadInfo) -> None:
        self._fn = fn
        descriptor = info.descriptor
        self._name = str(descriptor.loader.get("name") or "llm_pipeline")
        searchable = {
            MODEL_UUID_ATTRIBUTE: descriptor.model_uuid,
            MODEL_NAME_ATTRIBUTE: info.registered_name,
            MODEL_VERSION_ATTRIBUTE: (
                str(info.registered_version) if info.registered_version is not None else None
            ),
        }
        self._attributes: dict[str, Any] = {
            MODEL_FLAVOR_ATTRIBUTE: descriptor.flavor,
            MODEL_URI_ATTRIBUTE: info.model_uri,
        }
        for key, value in searchable.items():
            if value is not None:
                self._attributes[key] = value
                self._attributes[TRACE_METADATA_PREFIX + key] = value
        if descriptor.prompts:
            self._attributes[MODEL_PROMPTS_ATTRIBUTE] = list(descriptor.prompts)

    def predict(self, data: Any, params: Mapping[str, Any]) -> Any:
        frame = data if isinstance(data, pd.DataFrame) else to_frame(data, [])
        results = []
        for record in frame.to_dict(orient="records"):
            row = {key: _plain(value) for key, value in record.items()}
            shown = row if not all(isinstance(k, int) for k in row) else list(row.values())
            with span(
                self._name, span_type="CHAIN", inputs=shown, attributes=self._attributes
            ) as live:
                result = _call_row(self._fn, row, params)
                live.set_outputs(result)
            results.append(result)
        return results

    def unwrap(self) -> Any:
        return self._fn


class LlmPipelineFlavor:
    """A callable called once per row: with the row's columns as keyword arguments (or
    positionally for unnamed columns, or as one mapping when its parameters do not match),
    plus `params=` when it takes them. Each row runs in a span carrying the model's uuid and
    prompts."""

    name = "llm_pipeline"
    file = "pipeline.pkl"

    def save(self, model: Any, folder: Path, options: SaveOptions) -> dict[str, Any]:
        if not callable(model):
            raise InvalidParameterError(
                f"the llm_pipeline flavor takes a callable, got {type(model).__name__}"
            )
        dump_pickle(model, folder / self.file, "pipeline")
        name = getattr(model, "__name__", None) or type(model).__name__
        return {"pipeline_file": self.file, "name": name}

    def requirements(self) -> list[str]:
        return [r for r in (_pinned("cloudpickle"),) if r]

    def load(self, info: LoadInfo) -> Predictor:
        fn = load_pickle(
            info.path / info.descriptor.loader.get("pipeline_file", self.file), "pipeline"
        )
        return _PipelinePredictor(fn, info)


__all__ = [
    "MODEL_FLAVOR_ATTRIBUTE",
    "MODEL_NAME_ATTRIBUTE",
    "MODEL_PROMPTS_ATTRIBUTE",
    "MODEL_URI_ATTRIBUTE",
    "MODEL_UUID_ATTRIBUTE",
    "MODEL_VERSION_ATTRIBUTE",
    "LlmPipelineFlavor",
    "prompt_uris",
]
