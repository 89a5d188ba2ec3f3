"""Flavors: how a model object is written into a model folder and brought back to predict.

A flavor is a small object with `save` (write the model, return its loader settings for the
descriptor), `requirements` (packages it needs) and `load` (return a `Predictor`). The
`python` and `sklearn` flavors live here, `llm_pipeline` in its own module.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cloudpickle  # type: ignore[import-untyped]
import numpy as np
import pandas as pd

from llmtrace.exceptions import InvalidParameterError
from llmtrace.models._descriptor import ModelDescriptor
from llmtrace.models._errors import ModelInputError, ModelLoadError
from llmtrace.models._python_model import ModelContext, PythonModel, call_with_params

ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class SaveOptions:
    """Flavor-specific arguments of `save_model`."""

    artifacts: Mapping[str, str] = field(default_factory=dict)
    predict_method: str | None = None
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadInfo:
    """What a flavor knows about the model it loads."""

    path: Path
    descriptor: ModelDescriptor
    model_uri: str
    registered_name: str | None = None
    registered_version: int | None = None


class Predictor(Protocol):
    """A loaded model: `predict` gets checked input (a DataFrame when the model has an input
    signature) and checked params."""

    def predict(self, data: Any, params: Mapping[str, Any]) -> Any: ...

    def unwrap(self) -> Any: ...


class Flavor(Protocol):
    """How one kind of model is saved and loaded."""

    name: str

    def save(self, model: Any, folder: Path, options: SaveOptions) -> dict[str, Any]: ...

    def requirements(self) -> list[str]: ...

    def load(self, info: LoadInfo) -> Predictor: ...


def pinned(distribution: str) -> str | None:
    """`name==version` of an installed distribution, or None."""
    try:
        return f"{distribution}=={importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def dump_pickle(obj: Any, path: Path, what: str) -> None:
    try:
        data = cloudpickle.dumps(obj)
    except Exception as exc:
        raise InvalidParameterError(
            f"the {what} cannot be serialised with cloudpickle ({type(exc).__name__}: {exc}); "
            "keep clients, locks and open files out of it (create them in load_context)"
        ) from exc
    path.write_bytes(data)


def load_pickle(path: Path, what: str, hint: str = "") -> Any:
    try:
        return cloudpickle.loads(path.read_bytes())
    except ModuleNotFoundError as exc:
        raise ModelLoadError(
            f"loading the {what} needs the module {exc.name!r}, which is not installed or "
            f"importable{hint}: install the model's requirements.txt, or save the model with "
            "code_paths=[...] holding that module"
        ) from exc
    except FileNotFoundError as exc:
        raise ModelLoadError(f"the model folder lacks {path.name}") from exc


# --- python -------------------------------------------------------------------------------------


def _copy_artifacts(artifacts: Mapping[str, str], folder: Path) -> dict[str, str]:
    """Copy each artifact into `artifacts/<name>/`; returns name -> path relative to folder."""
    copied: dict[str, str] = {}
    for name, source in artifacts.items():
        src = Path(source)
        if not src.exists():
            raise InvalidParameterError(f"artifact {name!r}: {source} does not exist")
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise InvalidParameterError(f"artifact name {name!r} must be a plain name")
        target = folder / ARTIFACTS_DIR / name / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            shutil.copy2(src, target)
        copied[name] = target.relative_to(folder).as_posix()
    return copied


class _PythonPredictor:
    def __init__(self, model: Any) -> None:
        self._model = model
        self._fn = model.predict if isinstance(model, PythonModel) else model

    def predict(self, data: Any, params: Mapping[str, Any]) -> Any:
        return call_with_params(self._fn, data, params)

    def unwrap(self) -> Any:
        return self._model


class PythonFlavor:
    """A plain callable `fn(model_input[, params=...])` or a `PythonModel` instance."""

    name = "python"
    file = "python_model.pkl"

    def save(self, model: Any, folder: Path, options: SaveOptions) -> dict[str, Any]:
        if not (isinstance(model, PythonModel) or callable(model)):
            raise InvalidParameterError(
                f"the python flavor takes a callable or a PythonModel, got {type(model).__name__}"
            )
        dump_pickle(model, folder / self.file, "python model")
        return {
            "python_model": self.file,
            "kind": "class" if isinstance(model, PythonModel) else "callable",
            "artifacts": _copy_artifacts(options.artifacts, folder),
        }

    def requirements(self) -> list[str]:
        return [r for r in (pinned("cloudpickle"),) if r]

    def load(self, info: LoadInfo) -> Predictor:
        loader = info.descriptor.loader
        model = load_pickle(info.path / loader.get("python_model", self.file), "python model")
        if isinstance(model, PythonModel):
            artifacts = {
                name: str(info.path / rel) for name, rel in (loader.get("artifacts") or {}).items()
            }
            model.load_context(ModelContext(artifacts=artifacts, model_path=info.path))
        return _PythonPredictor(model)


# --- sklearn ------------------------------------------------------------------------------------

_SKLEARN_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def is_sklearn_model(model: Any) -> bool:
    """True for scikit-learn estimators and pipelines (checked without importing sklearn)."""
    return any(cls.__module__.split(".")[0] == "sklearn" for cls in type(model).__mro__)


class _SklearnPredictor:
    def __init__(self, model: Any, method: str) -> None:
        self._model = model
        self._method = getattr(model, method)

    def predict(self, data: Any, params: Mapping[str, Any]) -> Any:
        if params:
            raise ModelInputError(f"scikit-learn models take no params; got {sorted(params)}")
        if isinstance(data, pd.DataFrame) and not hasattr(self._model, "feature_names_in_"):
            # Fitted on an array: passing column names would only trigger a warning.
            data = data.to_numpy()
        elif isinstance(data, (list, tuple)):
            data = np.asarray(data)
        return self._method(data)

    def unwrap(self) -> Any:
        return self._model


class SklearnFlavor:
    """A fitted scikit-learn estimator or pipeline; `predict_method` picks `predict`
    (default), `predict_proba`, `predict_log_proba` or `decision_function`."""

    name = "sklearn"
    file = "model.pkl"

    def save(self, model: Any, folder: Path, options: SaveOptions) -> dict[str, Any]:
        if not is_sklearn_model(model):
            raise InvalidParameterError(
                f"the sklearn flavor takes a scikit-learn estimator, got {type(model).__name__}"
            )
        method = options.predict_method or "predict"
        if method not in _SKLEARN_METHODS:
            raise InvalidParameterError(
                f"predict_method {method!r} is not one of {', '.join(_SKLEARN_METHODS)}"
            )
        if not hasattr(model, method):
            raise InvalidParameterError(f"{type(model).__name__} has no method {method}()")
        dump_pickle(model, folder / self.file, "scikit-learn model")
        return {"model_file": self.file, "predict_method": method}

    def requirements(self) -> list[str]:
        return [r for r in (pinned("scikit-learn"), pinned("cloudpickle")) if r]

    def load(self, info: LoadInfo) -> Predictor:
        loader = info.descriptor.loader
        hint = " (pip install scikit-learn)"
        model = load_pickle(info.path / loader.get("model_file", self.file), "model", hint)
        return _SklearnPredictor(model, str(loader.get("predict_method", "predict")))


def flavor_registry() -> dict[str, Flavor]:
    """Every known flavor by name."""
    from llmtrace.models._llm_pipeline import LlmPipelineFlavor

    return {f.name: f for f in (PythonFlavor(), SklearnFlavor(), LlmPipelineFlavor())}


def get_flavor(name: str) -> Flavor:
    """The flavor called `name`; `ModelLoadError` naming it when unknown."""
    flavors = flavor_registry()
    if name not in flavors:
        raise ModelLoadError(
            f"unknown model flavor {name!r}: this llmtrace knows {', '.join(sorted(flavors))} "
            "(was the model saved by a newer llmtrace or a plugin?)"
        )
    return flavors[name]


__all__ = [
    "Flavor",
    "LoadInfo",
    "Predictor",
    "PythonFlavor",
    "SaveOptions",
    "SklearnFlavor",
    "get_flavor",
    "is_sklearn_model",
    "pinned",
]
