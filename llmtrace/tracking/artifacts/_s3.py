"""Artifacts in S3-compatible object storage (`s3://bucket/prefix`), through boto3.

Needs the `s3` extra (`pip install 'llmtrace[s3]'`). The endpoint comes from the
`endpoint_url` argument, else `LLMTRACE_S3_ENDPOINT_URL`, else `AWS_ENDPOINT_URL` (MinIO,
Ceph, R2, a moto server ...); credentials and region from the usual AWS configuration.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from llmtrace.exceptions import ConfigError, NotFoundError, StoreError
from llmtrace.tracking.artifacts._base import ArtifactRepository, FileInfo
from llmtrace.tracking.artifacts._paths import join

T = TypeVar("T")

_clients: dict[str | None, Any] = {}
_clients_lock = threading.Lock()


def s3_endpoint_url(explicit: str | None = None) -> str | None:
    """The S3 endpoint to use: `explicit`, else `LLMTRACE_S3_ENDPOINT_URL`, else
    `AWS_ENDPOINT_URL`, else None (AWS itself)."""
    return (
        explicit
        or os.environ.get("LLMTRACE_S3_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )


def _client(endpoint_url: str | None) -> Any:
    """One boto3 client per endpoint (they are thread-safe and slow to build)."""
    with _clients_lock:
        client = _clients.get(endpoint_url)
        if client is None:
            try:
                import boto3
            except ImportError as exc:
                raise ConfigError(
                    "S3 artifact storage needs boto3: pip install 'llmtrace[s3]'"
                ) from exc
            client = boto3.client("s3", endpoint_url=endpoint_url)
            _clients[endpoint_url] = client
        return client


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
    return parsed.netloc, parsed.path.strip("/")


class S3ArtifactRepository(ArtifactRepository):
    """A run's artifacts as objects under `s3://bucket/prefix/`.

    Example:
        >>> repo = S3ArtifactRepository("s3://ml-artifacts/exp/run-1/artifacts",
        ...                              endpoint_url="http://127.0.0.1:9000")
        >>> repo.log_bytes(b"{}", "config.json")
        'config.json'
    """

    def __init__(self, uri: str, *, endpoint_url: str | None = None) -> None:
        super().__init__(uri)
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.endpoint_url = s3_endpoint_url(endpoint_url)

    @property
    def client(self) -> Any:
        """The boto3 S3 client used (shared by repositories on the same endpoint)."""
        return _client(self.endpoint_url)

    def _key(self, rel: str) -> str:
        return join(self.prefix, rel)

    def _call(self, what: str, rel: str, fn: Callable[[], T]) -> T:
        """Run one S3 operation, translating boto errors into llmtrace errors."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            where = f"s3://{self.bucket}/{self._key(rel)}"
            if code in ("404", "NoSuchKey", "NotFound"):
                raise NotFoundError(f"no artifact {rel!r} under {self.uri}") from exc
            if code == "NoSuchBucket":
                raise StoreError(
                    f"{what} {where} failed: the bucket {self.bucket!r} does not exist"
                ) from exc
            raise StoreError(f"{what} {where} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"{what} s3://{self.bucket}/{self._key(rel)} failed: {exc}") from exc

    def _upload_file(self, local: Path, key: str) -> None:
        self._call(
            "upload to",
            key,
            lambda: self.client.upload_file(str(local), self.bucket, self._key(key)),
        )

    def _upload_bytes(self, data: bytes, key: str) -> None:
        self._call(
            "upload to",
            key,
            lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data),
        )

    def _read_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        return self._call("read", key, read)

    def _pages(self, rel: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        folder = self._key(rel)
        prefix = f"{folder}/" if folder else ""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(
            "list",
            rel,
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix, **kwargs)),
        )
        yield from pages

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def _list_dir(self, rel: str) -> list[FileInfo]:
        found = []
        for page in self._pages(rel, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                found.append(FileInfo(self._relative(common["Prefix"].rstrip("/")), True, None))
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/"):
                    continue  # a "folder marker" object written by some tools
                found.append(FileInfo(self._relative(obj["Key"]), False, int(obj["Size"])))
        return found

    def _files_under(self, rel: str) -> list[str]:
        if rel:
            try:
                self._call(
                    "read",
                    rel,
                    lambda: self.client.head_object(Bucket=self.bucket, Key=self._key(rel)),
                )
                return [rel]
            except NotFoundError:
                pass
        return [
            self._relative(obj["Key"])
            for page in self._pages(rel)
            for obj in page.get("Contents", [])
            if not obj["Key"].endswith("/")
        ]

    def _download_file(self, key: str, local: Path) -> None:
        self._call(
            "download",
            key,
            lambda: self.client.download_file(self.bucket, self._key(key), str(local)),
        )


__all__ = ["S3ArtifactRepository", "parse_s3_uri", "s3_endpoint_url"]
