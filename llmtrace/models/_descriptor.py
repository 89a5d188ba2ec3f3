"""The model descriptor: `llmtrace-model.yaml` at the root of every model folder."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from llmtrace.exceptions import InvalidParameterError
from llmtrace.models._errors import ModelLoadError
from llmtrace.models._signature import ModelSignature

DESCRIPTOR_FILE = "llmtrace-model.yaml"
REQUIREMENTS_FILE = "requirements.txt"
# Bumped when a change makes older llmtrace versions misread a model folder.
FORMAT_VERSION = 1


@dataclass
class ModelDescriptor:
    """What `llmtrace-model.yaml` records about a saved model.

    - `flavor` and `loader`: which flavor loads the model, and its flavor-specific settings
      (file names, predict method, ...).
    - `model_uuid`, `created_at` (UTC), `run_id` and `artifact_path` (when logged to a run).
    - `llmtrace_version`, `python_version`, `requirements` (also in `requirements.txt`).
    - `signature`, `input_example` (the name of its file in the folder).
    - `code_paths` (folders and files put on `sys.path` at load), `metadata` (free-form),
      `prompts` (prompt URIs an LLM pipeline uses).

    Example:
        >>> ModelDescriptor.read("model/").flavor
        'python'
    """

    flavor: str
    model_uuid: str
    created_at: dt.datetime
    llmtrace_version: str
    python_version: str
    loader: dict[str, Any] = field(default_factory=dict)
    signature: ModelSignature | None = None
    input_example: str | None = None
    requirements: list[str] = field(default_factory=list)
    code_paths: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    prompts: list[str] = field(default_factory=list)
    run_id: str | None = None
    artifact_path: str | None = None
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The YAML document, in a stable, readable key order."""
        created = self.created_at.astimezone(dt.timezone.utc)
        return {
            "format_version": self.format_version,
            "flavor": self.flavor,
            "loader": dict(self.loader),
            "model_uuid": self.model_uuid,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "llmtrace_version": self.llmtrace_version,
            "python_version": self.python_version,
            "signature": self.signature.to_dict() if self.signature is not None else None,
            "input_example": self.input_example,
            "requirements": list(self.requirements),
            "code_paths": list(self.code_paths),
            "prompts": list(self.prompts),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelDescriptor:
        """Inverse of `to_dict`; `ModelLoadError` when a required field is missing."""
        missing = [k for k in ("flavor", "model_uuid", "created_at") if not data.get(k)]
        if missing:
            raise ModelLoadError(f"the model descriptor lacks {', '.join(missing)}")
        version = int(data.get("format_version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise ModelLoadError(
                f"the model was saved in format version {version}, newer than this llmtrace "
                f"reads ({FORMAT_VERSION}): upgrade llmtrace"
            )
        created = data["created_at"]
        if isinstance(created, str):
            created = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.timezone.utc)
        signature = data.get("signature")
        return cls(
            flavor=str(data["flavor"]),
            model_uuid=str(data["model_uuid"]),
            created_at=created,
            llmtrace_version=str(data.get("llmtrace_version", "")),
            python_version=str(data.get("python_version", "")),
            loader=dict(data.get("loader") or {}),
            signature=ModelSignature.from_dict(signature) if signature else None,
            input_example=data.get("input_example"),
            requirements=list(data.get("requirements") or []),
            code_paths=list(data.get("code_paths") or []),
            metadata=dict(data.get("metadata") or {}),
            prompts=list(data.get("prompts") or []),
            run_id=data.get("run_id"),
            artifact_path=data.get("artifact_path"),
            format_version=version,
        )

    def write(self, folder: str | os.PathLike[str]) -> Path:
        """Write `llmtrace-model.yaml` into `folder`; returns its path."""
        path = Path(folder) / DESCRIPTOR_FILE
        try:
            text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as exc:
            raise InvalidParameterError(
                f"the model descriptor cannot be written as YAML (metadata and param defaults "
                f"must be plain strings, numbers, booleans, lists and dicts): {exc}"
            ) from exc
        path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> ModelDescriptor:
        """Read the descriptor of a model folder; `ModelLoadError` when there is none."""
        path = Path(folder) / DESCRIPTOR_FILE
        if not path.is_file():
            raise ModelLoadError(
                f"{os.fspath(folder)} is not an llmtrace model folder: no {DESCRIPTOR_FILE} "
                "(save one with llmtrace.models.save_model)"
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ModelLoadError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ModelLoadError(f"{path} does not hold a mapping")
        try:
            return cls.from_dict(data)
        except ModelLoadError:
            raise
        except (InvalidParameterError, KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{path} is malformed: {exc}") from exc


__all__ = ["DESCRIPTOR_FILE", "FORMAT_VERSION", "REQUIREMENTS_FILE", "ModelDescriptor"]
