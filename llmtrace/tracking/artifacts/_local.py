"""Artifacts in a local folder (the default: `$LLMTRACE_HOME/artifacts`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from llmtrace.exceptions import ConfigError, NotFoundError
from llmtrace.tracking.artifacts._base import TMP_PREFIX, ArtifactRepository, FileInfo
from llmtrace.tracking.artifacts._paths import join, resolve_under


def local_path_of(uri: str) -> Path:
    """The folder a local artifact URI names: `file:///abs/path` or a plain path."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"artifact URI {uri!r} names a remote host; use file:///path")
        return Path(url2pathname(unquote(parsed.path)))
    return Path(uri).expanduser().absolute()


class LocalArtifactRepository(ArtifactRepository):
    """A run's artifacts as files under a local folder (`file:///...` URI or a plain path).

    Every write goes to a temporary file next to its destination and is renamed into place, so
    readers never see a half-written artifact and concurrent writers of one path do not mix.

    Example:
        >>> repo = LocalArtifactRepository("/tmp/artifacts/run-1")
        >>> repo.log_bytes(b"hello", "notes/hello.txt")
        'notes/hello.txt'
    """

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.root = local_path_of(uri)

    def _write(self, key: str, fill: Callable[[Path], object]) -> None:
        dest = resolve_under(self.root, key)
        if dest.is_dir():
            raise IsADirectoryError(
                f"cannot write the artifact file {key!r}: a folder of that name exists in "
                f"{self.uri}"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=TMP_PREFIX)
        os.close(fd)
        try:
            fill(Path(tmp))
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _upload_file(self, local: Path, key: str) -> None:
        self._write(key, lambda tmp: shutil.copyfile(local, tmp))

    def _upload_bytes(self, data: bytes, key: str) -> None:
        self._write(key, lambda tmp: tmp.write_bytes(data))

    def _read_bytes(self, key: str) -> bytes:
        path = resolve_under(self.root, key)
        if not path.is_file():
            raise NotFoundError(f"no artifact file {key!r} under {self.uri}")
        return path.read_bytes()

    def _list_dir(self, rel: str) -> list[FileInfo]:
        folder = resolve_under(self.root, rel)
        if not folder.is_dir():
            return []
        found = []
        with os.scandir(folder) as scan:
            for entry in scan:
                if entry.name.startswith(TMP_PREFIX) or entry.is_symlink():
                    continue
                if entry.is_dir():
                    found.append(FileInfo(join(rel, entry.name), True, None))
                elif entry.is_file():
                    size = entry.stat().st_size
                    found.append(FileInfo(join(rel, entry.name), False, size))
        return found

    def _files_under(self, rel: str) -> list[str]:
        top = resolve_under(self.root, rel)
        if top.is_file():
            return [rel]
        if not top.is_dir():
            return []
        files = []
        for folder, dirs, names in os.walk(top):  # never follows symlinks
            dirs.sort()
            base = Path(folder).relative_to(top).as_posix()
            base = "" if base == "." else base
            for name in sorted(names):
                full = Path(folder, name)
                if name.startswith(TMP_PREFIX) or full.is_symlink():
                    continue
                files.append(join(rel, join(base, name)))
        return files

    def _download_file(self, key: str, local: Path) -> None:
        shutil.copyfile(resolve_under(self.root, key), local)


__all__ = ["LocalArtifactRepository", "local_path_of"]
