"""The artifact repository interface: a run's files under one root (a folder or an S3 prefix).

Subclasses implement a handful of primitives on validated relative paths; path validation,
folder uploads and downloads are shared here, so every backend enforces the same rules.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from llmtrace.exceptions import NotFoundError
from llmtrace.tracking._errors import InvalidArtifactPathError
from llmtrace.tracking.artifacts._paths import (
    join,
    plan_folder_upload,
    resolve_under,
    validate_artifact_file,
    validate_artifact_path,
)

# Prefix of in-progress files next to their destination (replaced atomically when complete).
TMP_PREFIX = ".llmtrace-tmp-"


@dataclass(frozen=True)
class FileInfo:
    """One entry of an artifact listing: `path` relative to the run's artifact root, whether
    it is a folder, and the size in bytes of a file (None for folders)."""

    path: str
    is_dir: bool
    file_size: int | None = None


class ArtifactRepository(ABC):
    """Files of one run under `uri`. Get one with `get_artifact_repository(uri)`.

    Writing an artifact path that exists replaces it. Paths are validated
    (`InvalidArtifactPathError`) so that nothing lands outside `uri`.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    # --- public operations ----------------------------------------------------------------------

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Upload a file (or a folder, as a folder of that name) under `artifact_path`;
        returns the artifact path of what was written.

        Example:
            >>> repo.log_artifact("model.pkl", artifact_path="models")
            'models/model.pkl'
        """
        local = Path(local_path)
        prefix = validate_artifact_path(artifact_path)
        if local.is_dir():
            dest = join(prefix, local.resolve().name)
            self.log_artifacts(local, dest)
            return dest
        if not local.is_file():
            raise FileNotFoundError(f"no such file: {local}")
        dest = validate_artifact_file(join(prefix, local.name))
        self._upload_file(local, dest)
        return dest

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[str]:
        """Upload the contents of a folder under `artifact_path`; returns the file paths.

        Symlinks pointing outside the folder reject the whole upload (see `_paths`).
        """
        prefix = validate_artifact_path(artifact_path)
        written = []
        for local, rel in plan_folder_upload(local_dir):
            dest = join(prefix, rel)
            self._upload_file(local, dest)
            written.append(dest)
        return written

    def log_bytes(self, data: bytes, artifact_file: str) -> str:
        """Write `data` as the artifact file `artifact_file`; returns its clean path."""
        dest = validate_artifact_file(artifact_file)
        self._upload_bytes(bytes(data), dest)
        return dest

    def read_bytes(self, artifact_file: str) -> bytes:
        """The content of one artifact file; `NotFoundError` if there is none."""
        return self._read_bytes(validate_artifact_file(artifact_file))

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly inside the folder `path` (the root by default),
        sorted by path; [] when `path` is a file or does not exist."""
        return sorted(self._list_dir(validate_artifact_path(path)), key=lambda f: f.path)

    def download_artifacts(
        self, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> Path:
        """Copy the artifact file or folder `path` ("" = everything) into `dst_path` (a new
        temporary folder by default), keeping its relative path; returns the local path.

        Example:
            >>> repo.download_artifacts("plots", "/tmp/out")
            PosixPath('/tmp/out/plots')
        """
        rel = validate_artifact_path(path)
        files = self._files_under(rel)
        if not files:
            raise NotFoundError(f"no artifact {rel or '(root)'!r} under {self.uri}")
        for key in files:
            self._check_stored_key(key)  # all of them before writing anything
        dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp("-artifacts"))
        dst.mkdir(parents=True, exist_ok=True)
        for key in files:
            local = resolve_under(dst, key)
            local.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=TMP_PREFIX)
            os.close(fd)
            try:
                self._download_file(key, Path(tmp))
                os.replace(tmp, local)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return resolve_under(dst, rel)

    def _check_stored_key(self, key: str) -> None:
        # A key written by another tool ("a/../b", "/x") is never followed locally.
        try:
            ok = validate_artifact_path(key) == key
        except InvalidArtifactPathError:
            ok = False
        if not ok:
            raise InvalidArtifactPathError(
                f"artifact {key!r} under {self.uri} is not a valid artifact path; refusing to "
                "download it"
            )

    # --- primitives (paths are validated, relative, "/"-separated) --------------------------------

    @abstractmethod
    def _upload_file(self, local: Path, key: str) -> None:
        """Store the local file as `key`, replacing what was there."""

    @abstractmethod
    def _upload_bytes(self, data: bytes, key: str) -> None:
        """Store `data` as `key`, replacing what was there."""

    @abstractmethod
    def _read_bytes(self, key: str) -> bytes:
        """Content of `key`; NotFoundError if missing."""

    @abstractmethod
    def _list_dir(self, rel: str) -> list[FileInfo]:
        """Direct children of the folder `rel`."""

    @abstractmethod
    def _files_under(self, rel: str) -> list[str]:
        """`[rel]` if `rel` is a file, else every file below the folder `rel`; [] if none."""

    @abstractmethod
    def _download_file(self, key: str, local: Path) -> None:
        """Copy the artifact `key` to the local file `local` (which exists, empty)."""


__all__ = ["TMP_PREFIX", "ArtifactRepository", "FileInfo"]
