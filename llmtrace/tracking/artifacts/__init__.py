"""Artifact repositories: the files of a run, in a local folder or S3-compatible storage.

`get_artifact_repository(uri)` picks the implementation from the URI: `s3://bucket/prefix`
(needs `pip install 'llmtrace[s3]'`), `file:///path` or a plain path. Paths are validated so
that nothing escapes the run's artifact root (see `InvalidArtifactPathError`).

Example:
    >>> from llmtrace.tracking.artifacts import get_artifact_repository
    >>> repo = get_artifact_repository("/tmp/artifacts/run-1")
    >>> repo.log_bytes(b"hello", "notes/hello.txt")
    >>> [f.path for f in repo.list_artifacts("notes")]
    ['notes/hello.txt']
"""

from __future__ import annotations

from urllib.parse import urlparse

from llmtrace.exceptions import ConfigError
from llmtrace.tracking._errors import InvalidArtifactPathError
from llmtrace.tracking.artifacts._base import ArtifactRepository, FileInfo
from llmtrace.tracking.artifacts._local import LocalArtifactRepository
from llmtrace.tracking.artifacts._paths import validate_artifact_path
from llmtrace.tracking.artifacts._s3 import S3ArtifactRepository


def get_artifact_repository(uri: str, *, s3_endpoint_url: str | None = None) -> ArtifactRepository:
    """The repository for an artifact URI: `s3://...`, `file://...` or a local path.

    `s3_endpoint_url` overrides `LLMTRACE_S3_ENDPOINT_URL` / `AWS_ENDPOINT_URL` for S3.
    """
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        return S3ArtifactRepository(uri, endpoint_url=s3_endpoint_url)
    if scheme in ("", "file") or len(scheme) == 1:  # len 1: a Windows drive letter
        return LocalArtifactRepository(uri)
    raise ConfigError(
        f"unsupported artifact URI {uri!r}: use a local path, file:///path or s3://bucket/prefix"
    )


__all__ = [
    "ArtifactRepository",
    "FileInfo",
    "InvalidArtifactPathError",
    "LocalArtifactRepository",
    "S3ArtifactRepository",
    "get_artifact_repository",
    "validate_artifact_path",
]
