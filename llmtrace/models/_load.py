"""`load_model` and `LoadedModel`: a model folder brought back, with a checked `predict`."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmtrace.models._descriptor import ModelDescriptor
from llmtrace.models._enforce import enforce_inputs, enforce_params, to_frame
from llmtrace.models._flavors import LoadInfo, Predictor, get_flavor
from llmtrace.models._save import CODE_DIR, read_input_example
from llmtrace.models._signature import ModelSignature
from llmtrace.models._uri import ResolvedModelUri, download_model, resolve_model_uri

_sys_path_lock = threading.Lock()


class LoadedModel:
    """A loaded model. `predict(data, params)` converts `data` (a DataFrame, a dict, a list
    of dicts, a string or a list of strings, a numpy array) and checks it and `params`
    against the signature before calling the model; bad input raises `ModelInputError`.

    Attributes: `descriptor` (the parsed `llmtrace-model.yaml`), `signature`, `metadata`,
    `model_uri` (as given to `load_model`), `path` (the local model folder), and for a
    `models:/` URI `registered_name` and `registered_version` (else None).

    Example:
        >>> model = llmtrace.models.load_model("models:/rag@champion")
        >>> model.predict({"question": "What is RAG?"}, params={"temperature": 0.0})
    """

    def __init__(
        self,
        predictor: Predictor,
        descriptor: ModelDescriptor,
        *,
        path: Path,
        model_uri: str,
        registered_name: str | None = None,
        registered_version: int | None = None,
    ) -> None:
        self._predictor = predictor
        self.descriptor = descriptor
        self.path = path
        self.model_uri = model_uri
        self.registered_name = registered_name
        self.registered_version = registered_version

    def __repr__(self) -> str:
        registered = (
            f" {self.registered_name!r} v{self.registered_version}"
            if self.registered_name is not None
            else ""
        )
        return (
            f"<LoadedModel{registered} flavor={self.flavor!r} uuid={self.model_uuid} "
            f"uri={self.model_uri!r}>"
        )

    @property
    def flavor(self) -> str:
        """The flavor that loaded the model."""
        return self.descriptor.flavor

    @property
    def model_uuid(self) -> str:
        """The uuid given to the model when it was saved."""
        return self.descriptor.model_uuid

    @property
    def signature(self) -> ModelSignature | None:
        """The model's signature, if it was saved with one."""
        return self.descriptor.signature

    @property
    def metadata(self) -> dict[str, Any]:
        """The free-form metadata given to `save_model`."""
        return self.descriptor.metadata

    def load_input_example(self) -> Any:
        """The input example saved with the model (None without one), in its original form."""
        name = self.descriptor.input_example
        return read_input_example(self.path / name) if name else None

    def unwrap(self) -> Any:
        """The underlying model object: the callable, `PythonModel` or estimator."""
        return self._predictor.unwrap()

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """The model's prediction for `data`.

        With an input signature the model gets a DataFrame with the signature's columns
        (converted, e.g. integers to doubles; extra columns dropped); without one it gets
        `data` as given. Params get their signature defaults; unknown ones are rejected.

        Example:
            >>> model.predict(["What is RAG?", "Who wrote it?"])
        """
        signature = self.descriptor.signature
        if signature is not None:
            checked = enforce_params(params, signature.params)
        else:
            checked = dict(params or {})
        if signature is not None and signature.inputs:
            data = enforce_inputs(to_frame(data, signature.inputs), signature.inputs)
        return self._predictor.predict(data, checked)


def _add_code_path(folder: Path) -> None:
    code = folder / CODE_DIR
    if not code.is_dir():
        return
    entry = str(code.resolve())
    with _sys_path_lock:
        if entry not in sys.path:
            sys.path.insert(0, entry)
            importlib.invalidate_caches()


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    store: Any = None,
    dst_path: str | os.PathLike[str] | None = None,
) -> LoadedModel:
    """Load a model from a folder, `file://`, `runs:/<run_id>/<path>` or `models:/<name>/<
    version|stage|latest>` / `models:/<name>@<alias>` URI. `store` resolves `models:/`
    and `runs:/` URIs (default: the configured store); a run's files are downloaded into
    `dst_path` (default: a new temporary folder).

    Example:
        >>> model = llmtrace.models.load_model("runs:/4f9c.../rag")
        >>> model.predict("What is RAG?")
    """
    resolved = resolve_model_uri(model_uri, store=store)
    return load_from_folder(download_model(resolved, store=store, dst_path=dst_path), resolved)


def load_from_folder(folder: Path, resolved: ResolvedModelUri) -> LoadedModel:
    """Load the model folder `folder`, which `resolved` pointed to."""
    descriptor = ModelDescriptor.read(folder)
    flavor = get_flavor(descriptor.flavor)
    _add_code_path(folder)
    info = LoadInfo(
        path=folder,
        descriptor=descriptor,
        model_uri=resolved.uri,
        registered_name=resolved.registered_name,
        registered_version=resolved.registered_version,
    )
    return LoadedModel(
        flavor.load(info),
        descriptor,
        path=folder,
        model_uri=resolved.uri,
        registered_name=resolved.registered_name,
        registered_version=resolved.registered_version,
    )


__all__ = ["LoadedModel", "load_from_folder", "load_model"]
