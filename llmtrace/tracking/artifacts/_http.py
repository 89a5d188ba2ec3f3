"""Artifacts of a run kept by an llmtrace server, through its REST API.

With a remote store (`llmtrace.configure(store="http://host:5000")`), the server holds the
artifacts wherever its runs' artifact URIs point (a folder of the server's machine or S3
storage), and clients go through it: they need no access, and no credentials, to that storage.
Paths are validated here before any request (the shared rules of `_paths`), and again by the
server.
"""

from __future__ import annotations

from pathlib import Path

from llmtrace.store._rest_tracking import RestTrackingMixin
from llmtrace.tracking.artifacts._base import ArtifactRepository, FileInfo


class HttpArtifactRepository(ArtifactRepository):
    """The artifacts of run `run_id` on the server `store` talks to.

    Example:
        >>> repo = HttpArtifactRepository(RestStore("http://llmtrace:5000"), run_id)
        >>> repo.log_bytes(b"{}", "config.json")
        'config.json'
        >>> [f.path for f in repo.list_artifacts()]
        ['config.json']
    """

    def __init__(self, store: RestTrackingMixin, run_id: str) -> None:
        super().__init__(f"{store.url}/api/v1/runs/{run_id}/artifacts")
        self.store = store
        self.run_id = run_id

    def _upload_file(self, local: Path, key: str) -> None:
        self.store.upload_artifact(self.run_id, key, local)

    def _upload_bytes(self, data: bytes, key: str) -> None:
        self.store.upload_artifact(self.run_id, key, data)

    def _read_bytes(self, key: str) -> bytes:
        return self.store.read_artifact(self.run_id, key)

    def _list_dir(self, rel: str) -> list[FileInfo]:
        return [
            FileInfo(str(e["path"]), bool(e["is_dir"]), e.get("file_size"))
            for e in self.store.list_artifact_entries(self.run_id, rel)
        ]

    def _files_under(self, rel: str) -> list[str]:
        entries = self.store.list_artifact_entries(self.run_id, rel, recursive=True)
        return [str(e["path"]) for e in entries]

    def _download_file(self, key: str, local: Path) -> None:
        self.store.download_artifact(self.run_id, key, local)


__all__ = ["HttpArtifactRepository"]
