"""`save_model` and `log_model`: write a model folder, locally or into a run's artifacts."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmtrace._version import __version__
from llmtrace.exceptions import InvalidParameterError
from llmtrace.models._descriptor import REQUIREMENTS_FILE, ModelDescriptor
from llmtrace.models._enforce import enforce_inputs, to_frame
from llmtrace.models._errors import ModelInputError
from llmtrace.models._flavors import SaveOptions, flavor_registry, is_sklearn_model, pinned
from llmtrace.models._llm_pipeline import prompt_uris
from llmtrace.models._python_model import PythonModel
from llmtrace.models._signature import ModelSignature, infer_schema

CODE_DIR = "code"
INPUT_EXAMPLE_FILE = "input_example.json"
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class ModelInfo:
    """What `log_model` returns: where the model is (`model_uri`, `run_id`, `artifact_path`),
    what it is (`flavor`, `model_uuid`, `signature`, `descriptor`), and the version it was
    registered as when `registered_model_name` was given.

    Example:
        >>> info = llmtrace.models.log_model(answer, "rag", prompts=["prompts:/qa/3"])
        >>> llmtrace.models.load_model(info.model_uri).predict("What is RAG?")
    """

    model_uri: str
    run_id: str
    artifact_path: str
    flavor: str
    model_uuid: str
    signature: ModelSignature | None
    descriptor: ModelDescriptor
    registered_model_version: int | None = None


def _pick_model(model: Any, python_model: Any) -> Any:
    if model is not None and python_model is not None:
        raise InvalidParameterError("pass the model once: either model or python_model")
    chosen = model if model is not None else python_model
    if chosen is None:
        raise InvalidParameterError(
            "no model given: pass a callable, a PythonModel or an estimator"
        )
    return chosen


def _detect_flavor(model: Any, prompts: Sequence[str]) -> str:
    if is_sklearn_model(model):
        return "sklearn"
    if prompts and not isinstance(model, PythonModel):
        return "llm_pipeline"
    return "python"


def _requirement_name(line: str) -> str:
    match = _REQUIREMENT_NAME.match(line)
    return match.group(1).lower().replace("_", "-") if match else line.strip().lower()


def _user_requirements(requirements: Sequence[str] | str | os.PathLike[str] | None) -> list[str]:
    if requirements is None:
        return []
    if isinstance(requirements, (str, os.PathLike)):
        path = Path(requirements)
        if not path.is_file():
            raise InvalidParameterError(
                f"requirements {os.fspath(requirements)!r} is not a file; pass a list of "
                "requirement strings or the path of a requirements file"
            )
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        lines = list(requirements)
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def merged_requirements(inferred: Iterable[str], user: Sequence[str]) -> list[str]:
    """The inferred requirements, each replaced by the user's line for the same package, then
    the user's other lines."""
    by_user = {_requirement_name(line): line for line in user}
    merged = [by_user.pop(_requirement_name(line), line) for line in inferred]
    return merged + [line for line in user if _requirement_name(line) in by_user]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} values cannot be stored in JSON")


def _example_payload(example: Any) -> dict[str, Any]:
    """A JSON document that `load_input_example` turns back into the example."""
    if isinstance(example, pd.DataFrame):
        data = json.loads(example.to_json(orient="split", date_format="iso"))
        return {"type": "dataframe", "data": data}
    if isinstance(example, pd.Series):
        values = json.loads(example.to_json(orient="records", date_format="iso"))
        return {"type": "series", "name": example.name, "data": values}
    if isinstance(example, np.ndarray):
        return {"type": "ndarray", "dtype": str(example.dtype), "data": example.tolist()}
    if isinstance(example, str):
        return {"type": "str", "data": example}
    if isinstance(example, Mapping):
        return {"type": "dict", "data": dict(example)}
    if isinstance(example, (list, tuple)):
        return {"type": "list", "data": list(example)}
    raise InvalidParameterError(
        f"unsupported input_example type {type(example).__name__}: use a DataFrame, dict, list "
        "of dicts, string, list of strings or numpy array"
    )


def read_input_example(path: Path) -> Any:
    """The input example stored by `save_model` (inverse of `_example_payload`)."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    kind, data = payload["type"], payload["data"]
    if kind == "dataframe":
        return pd.DataFrame(data["data"], columns=data["columns"], index=data.get("index"))
    if kind == "series":
        return pd.Series(data, name=payload.get("name"))
    if kind == "ndarray":
        return np.asarray(data, dtype=payload.get("dtype"))
    return data


def _write_example(example: Any, folder: Path, signature: ModelSignature | None) -> str:
    payload = _example_payload(example)
    if signature is not None and signature.inputs:
        try:
            enforce_inputs(to_frame(example, signature.inputs), signature.inputs)
        except ModelInputError as exc:
            raise InvalidParameterError(
                f"the input example does not match the signature: {exc}"
            ) from exc
    try:
        text = json.dumps(payload, default=_json_default, ensure_ascii=False, indent=1)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"the input example cannot be written as JSON: {exc}") from exc
    (folder / INPUT_EXAMPLE_FILE).write_text(text, encoding="utf-8")
    return INPUT_EXAMPLE_FILE


def _copy_code(code_paths: Sequence[str | os.PathLike[str]], folder: Path) -> list[str]:
    copied = []
    for entry in code_paths:
        src = Path(entry)
        if not src.exists():
            raise InvalidParameterError(f"code path {os.fspath(entry)!r} does not exist")
        target = folder / CODE_DIR / src.resolve().name
        if target.exists():
            raise InvalidParameterError(f"two code paths are named {src.name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, target)
        copied.append(target.relative_to(folder).as_posix())
    return copied


def _prepare_folder(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidParameterError(
            f"cannot save a model to {path}: it already exists and is not an empty folder "
            "(choose a new path, or delete it first)"
        )
    path.mkdir(parents=True, exist_ok=True)


def _active_run_id() -> str | None:
    from llmtrace.tracking import active_run

    run = active_run()
    return run.run_id if run is not None else None


def save_model(
    path: str | os.PathLike[str],
    model: Any = None,
    *,
    python_model: Any = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    requirements: Sequence[str] | str | os.PathLike[str] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    metadata: Mapping[str, Any] | None = None,
    prompts: Sequence[Any] | None = None,
    flavor: str | None = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    predict_method: str | None = None,
) -> ModelDescriptor:
    """Write a model folder at `path` (which must not exist or be empty); returns its
    descriptor.

    - `model` (or `python_model=`): a callable `fn(model_input[, params=...])`, a
      `PythonModel`, a scikit-learn estimator, or for `llm_pipeline` a function called per row.
    - `flavor`: "python", "sklearn" or "llm_pipeline"; detected when None (an estimator is
      sklearn, a callable with `prompts` is llm_pipeline, anything else python).
    - `signature`: inputs/outputs/params (`infer_signature`); without one, the inputs are
      inferred from `input_example`, which is stored as `input_example.json`.
    - `requirements`: pip lines or a requirements file, merged over inferred pins
      (llmtrace, pandas, numpy and the flavor's packages) into `requirements.txt`.
    - `code_paths`: files/folders copied into `code/`, which is put on `sys.path` at load.
    - `artifacts`: {name: local path} copied into the folder, given to
      `PythonModel.load_context` as `context.artifacts[name]`.
    - `prompts`: prompt URIs the pipeline uses (`prompts:/qa/3`, `prompts:/qa@prod`).
    - `predict_method`: for sklearn, "predict" (default), "predict_proba", ...

    Example:
        >>> llmtrace.models.save_model("out/rag", answer, prompts=["prompts:/qa/3"],
        ...                            input_example={"question": "What is RAG?"})
    """
    chosen = _pick_model(model, python_model)
    prompt_list = prompt_uris(prompts)
    flavor_name = flavor or _detect_flavor(chosen, prompt_list)
    flavors = flavor_registry()
    if flavor_name not in flavors:
        raise InvalidParameterError(
            f"unknown flavor {flavor_name!r}: use one of {', '.join(sorted(flavors))}"
        )
    impl = flavors[flavor_name]
    if signature is None and input_example is not None:
        signature = ModelSignature(inputs=infer_schema(input_example))
    user_requirements = _user_requirements(requirements)
    folder = Path(path)
    existed = folder.is_dir()
    _prepare_folder(folder)
    try:
        options = SaveOptions(
            artifacts={k: os.fspath(v) for k, v in (artifacts or {}).items()},
            predict_method=predict_method,
            prompts=prompt_list,
        )
        loader = impl.save(chosen, folder, options)
        inferred = [f"llmtrace=={__version__}", pinned("pandas"), pinned("numpy")]
        inferred += impl.requirements()
        reqs = merged_requirements([r for r in inferred if r], user_requirements)
        (folder / REQUIREMENTS_FILE).write_text("\n".join(reqs) + "\n", encoding="utf-8")
        descriptor = ModelDescriptor(
            flavor=flavor_name,
            model_uuid=uuid.uuid4().hex,
            created_at=dt.datetime.now(dt.timezone.utc),
            llmtrace_version=__version__,
            python_version=platform.python_version(),
            loader=loader,
            signature=signature,
            input_example=(
                _write_example(input_example, folder, signature)
                if input_example is not None
                else None
            ),
            requirements=reqs,
            code_paths=_copy_code(code_paths or (), folder),
            metadata=dict(metadata or {}),
            prompts=list(prompt_list),
            run_id=_active_run_id(),
        )
        descriptor.write(folder)
    except BaseException:
        # Leave no half-written model behind: the folder was empty or absent before.
        shutil.rmtree(folder, ignore_errors=True)
        if existed:
            folder.mkdir(parents=True, exist_ok=True)
        raise
    return descriptor


def log_model(
    model: Any = None,
    artifact_path: str = "model",
    *,
    python_model: Any = None,
    run_id: str | None = None,
    registered_model_name: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save a model (same keyword arguments as `save_model`) into a run's artifacts under
    `artifact_path`; returns a `ModelInfo` whose `model_uri` is `runs:/<run_id>/<path>`.

    The run is `run_id`, else the active run; without either, a run is started for the
    model and ended (FINISHED) before returning, so no run is left open.
    `registered_model_name` also registers the logged model as the next version of that
    registered model (`ModelInfo.registered_model_version`).

    Example:
        >>> with llmtrace.start_run(name="rag-v2"):
        ...     info = llmtrace.models.log_model(answer, "rag", prompts=["prompts:/qa/3"])
        >>> info.model_uri
        'runs:/4f9c.../rag'
    """
    from llmtrace.tracking import TrackingClient, active_run, start_run

    artifact_path = artifact_path.strip("/")
    if not artifact_path:
        raise InvalidParameterError("artifact_path must name a folder, e.g. 'model'")
    chosen = _pick_model(model, python_model)
    if run_id is None:
        active = active_run()
        if active is None:
            with start_run() as run:
                return log_model(
                    chosen,
                    artifact_path,
                    run_id=run.run_id,
                    registered_model_name=registered_model_name,
                    **kwargs,
                )
        run_id = active.run_id
    target = run_id
    with tempfile.TemporaryDirectory(prefix="llmtrace-model-") as tmp:
        local = Path(tmp) / "model"
        descriptor = save_model(local, chosen, **kwargs)
        descriptor.run_id, descriptor.artifact_path = target, artifact_path
        descriptor.write(local)
        TrackingClient().log_artifacts(target, local, artifact_path)
    model_uri = f"runs:/{target}/{artifact_path}"
    registered = None
    if registered_model_name is not None:
        from llmtrace.registry import register_model

        registered = int(register_model(model_uri, registered_model_name).version)
    return ModelInfo(
        model_uri=model_uri,
        run_id=target,
        artifact_path=artifact_path,
        flavor=descriptor.flavor,
        model_uuid=descriptor.model_uuid,
        signature=descriptor.signature,
        descriptor=descriptor,
        registered_model_version=registered,
    )


__all__ = [
    "CODE_DIR",
    "INPUT_EXAMPLE_FILE",
    "ModelInfo",
    "log_model",
    "merged_requirements",
    "read_input_example",
    "save_model",
]
