"""Model URIs: where the files of a model are, and which registered version it is.

- a folder: `path/to/model`, `file:///abs/path/to/model`
- a run's artifacts: `runs:/<run_id>/<artifact_path>`
- the registry: `models:/<name>/<version>`, `models:/<name>@<alias>`,
  `models:/<name>/<stage>` (the latest version in that stage) and `models:/<name>/latest`
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from llmtrace.exceptions import InvalidParameterError, NotFoundError

# A registered version's source may itself be a models:/ URI; bounded to catch cycles.
_MAX_HOPS = 5
_STAGES = {s.lower(): s for s in ("None", "Staging", "Production", "Archived")}
_RUN_URI = re.compile(r"^runs:/([^/]+)(?:/(.*))?$")
_MODELS_URI = re.compile(r"^models:/([^/@]+)(?:/([^/]+)|@([^/]+))/?$")


@dataclass(frozen=True)
class ResolvedModelUri:
    """Where a model URI points: `source` is a local path or a `runs:/` URI holding the
    model folder; for a `models:/` URI also the registered name and version it resolved to.

    Example:
        >>> resolve_model_uri("models:/rag@champion")
        ResolvedModelUri(uri='models:/rag@champion', source='runs:/9f.../model',
                         registered_name='rag', registered_version=3, run_id='9f...')
    """

    uri: str
    source: str
    registered_name: str | None = None
    registered_version: int | None = None
    run_id: str | None = None


def _registry_call(store: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    fn = getattr(store, method, None)
    if fn is None:
        raise InvalidParameterError(
            f"the store {type(store).__name__} has no model registry ({method} is missing): "
            "models:/ URIs need a store with the registry"
        )
    return fn(*args, **kwargs)


def _lookup(uri: str, name: str, ref: str | None, alias: str | None, store: Any) -> Any:
    if alias is not None:
        return _registry_call(store, "get_model_version_by_alias", name, alias)
    assert ref is not None
    if ref.isdigit():
        return _registry_call(store, "get_model_version", name, int(ref))
    if ref.lower() == "latest":
        versions = list(_registry_call(store, "get_latest_versions", name, stages=None))
        where = ""
    else:
        stage = _STAGES.get(ref.lower(), ref)
        versions = list(_registry_call(store, "get_latest_versions", name, stages=[stage]))
        where = f" in stage {stage!r}"
    if not versions:
        raise NotFoundError(f"{uri}: registered model {name!r} has no version{where}")
    return max(versions, key=lambda v: int(v.version))


def resolve_model_uri(uri: str | os.PathLike[str], store: Any = None) -> ResolvedModelUri:
    """Resolve a model URI to the location of its files; `models:/` URIs are looked up in
    `store` (default: the configured store, `llmtrace.tracking.default_store()`).

    Raises `InvalidParameterError` for a malformed URI and `NotFoundError` for an unknown
    registered model, version, alias or stage.

    Example:
        >>> resolve_model_uri("models:/rag/Production").registered_version
        4
    """
    text = os.fspath(uri)
    current = text
    for _ in range(_MAX_HOPS):
        if not current.startswith("models:/"):
            if current.startswith("runs:/"):
                return ResolvedModelUri(text, current, run_id=parse_runs_uri(current)[0])
            return ResolvedModelUri(text, current)
        match = _MODELS_URI.match(current)
        if match is None:
            raise InvalidParameterError(
                f"malformed model URI {current!r}: use models:/<name>/<version>, "
                "models:/<name>@<alias> or models:/<name>/<stage>"
            )
        if store is None:
            from llmtrace.tracking import default_store

            store = default_store()
        name, ref, alias = match.groups()
        version = _lookup(current, unquote(name), ref, alias, store)
        source = str(version.source)
        if not source.startswith("models:/"):
            run_id = getattr(version, "run_id", None)
            if run_id is None and source.startswith("runs:/"):
                run_id = parse_runs_uri(source)[0]
            return ResolvedModelUri(text, source, str(version.name), int(version.version), run_id)
        current = source
    raise InvalidParameterError(f"{text}: too many models:/ indirections (a cycle?)")


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """(run id, artifact path) of `runs:/<run_id>/<path>`."""
    match = _RUN_URI.match(uri)
    if match is None or not match.group(1):
        raise InvalidParameterError(
            f"malformed run URI {uri!r}: use runs:/<run_id>/<artifact_path>"
        )
    return match.group(1), (match.group(2) or "").strip("/")


def local_path_of(source: str) -> Path | None:
    """The local folder of a `file://` URI or a plain path; None for other schemes."""
    if source.startswith("file://"):
        parsed = urlparse(source)
        return Path(unquote(parsed.path))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source) or source.startswith(
        ("runs:/", "models:/")
    ):
        return None
    return Path(source)


def download_model(
    resolved: ResolvedModelUri,
    store: Any = None,
    dst_path: str | os.PathLike[str] | None = None,
) -> Path:
    """A local folder holding the model's files: the folder itself for a local source, else
    a copy of the run's artifacts in `dst_path` (default: a new temporary folder)."""
    local = local_path_of(resolved.source)
    if local is not None:
        if not local.exists():
            raise NotFoundError(f"model folder {local} does not exist (from {resolved.uri})")
        return local
    if not resolved.source.startswith("runs:/"):
        raise InvalidParameterError(
            f"cannot load a model from {resolved.source!r}: use a folder, file://, runs:/ or "
            "models:/ URI"
        )
    run_id, path = parse_runs_uri(resolved.source)
    from llmtrace.tracking import TrackingClient

    client = TrackingClient(store if store is not None and hasattr(store, "get_run") else None)
    target = dst_path if dst_path is not None else tempfile.mkdtemp(prefix="llmtrace-model-")
    return client.download_artifacts(run_id, path, target)


__all__ = [
    "ResolvedModelUri",
    "download_model",
    "local_path_of",
    "parse_runs_uri",
    "resolve_model_uri",
]
