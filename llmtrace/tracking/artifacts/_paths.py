"""Artifact path validation: nothing a caller passes, and nothing inside a folder being
uploaded, may place a file outside the run's artifact root.

Rules (the same for every repository, local or S3):

- an artifact path is relative, with `/` separators: no leading `/`, no drive letter, no `\\`,
  no NUL byte and no `..` component anywhere (even `a/../b`, which would stay inside: a path
  that needs `..` is almost always a mistake, and rejecting it is simpler to reason about);
  `.` components and repeated slashes are dropped;
- uploading a folder follows symlinks whose target lies inside that folder (the file is copied
  under the link's name, like `cp -rL`), and **rejects the whole upload, before writing
  anything,** when a symlink points outside the folder, is broken, or loops back to one of its
  own parent folders; special files (FIFOs, sockets, devices) are rejected too;
- a local repository also checks that the resolved destination stays under its root, so a
  symlink planted inside the artifact store cannot redirect a write.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from llmtrace.tracking._errors import InvalidArtifactPathError

_DRIVE = re.compile(r"^[A-Za-z]:")


def validate_artifact_path(
    path: str | os.PathLike[str] | None, *, what: str = "artifact path"
) -> str:
    """`path` normalised to a relative POSIX path ("" is the artifact root).

    Raises `InvalidArtifactPathError` for absolute paths, `..` components, backslashes and NUL
    bytes.

    Example:
        >>> validate_artifact_path("plots//./loss.png")
        'plots/loss.png'
    """
    if path is None:
        return ""
    text = os.fspath(path)
    if not isinstance(text, str):
        raise InvalidArtifactPathError(f"{what} must be a str, got {type(text).__name__}")
    if "\x00" in text:
        raise InvalidArtifactPathError(f"{what} {text!r} contains a NUL byte")
    if "\\" in text:
        raise InvalidArtifactPathError(
            f"{what} {text!r} contains a backslash; use '/' to separate folders"
        )
    if text.startswith("/") or _DRIVE.match(text):
        raise InvalidArtifactPathError(
            f"{what} {text!r} is absolute; artifact paths are relative to the run's artifact "
            "root (e.g. 'plots/loss.png')"
        )
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArtifactPathError(
            f"{what} {text!r} contains '..'; artifact paths must stay inside the run's "
            "artifact root"
        )
    return "/".join(parts)


def validate_artifact_file(path: str | os.PathLike[str]) -> str:
    """Like `validate_artifact_path`, for a file: the result must not be the root itself."""
    clean = validate_artifact_path(path, what="artifact file")
    if not clean:
        raise InvalidArtifactPathError(
            f"artifact file {os.fspath(path)!r} names no file; give a relative file name such "
            "as 'config.json'"
        )
    return clean


def join(prefix: str, name: str) -> str:
    """`prefix/name`, or `name` when `prefix` is the root."""
    return f"{prefix}/{name}" if prefix and name else (prefix or name)


def is_within(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when `path` is `root` or below it (both taken literally; resolve them first)."""
    path_s, root_s = os.fspath(path), os.fspath(root)
    return path_s == root_s or path_s.startswith(root_s.rstrip(os.sep) + os.sep)


def resolve_under(root: Path, relative: str) -> Path:
    """`root/relative` after checking that, symlinks resolved, it does not leave `root`."""
    target = root.joinpath(*relative.split("/")) if relative else root
    real_root = os.path.realpath(root)
    if not is_within(os.path.realpath(target), real_root):
        raise InvalidArtifactPathError(
            f"artifact path {relative!r} resolves outside the artifact root {root} "
            "(a symlink inside the artifact store points elsewhere)"
        )
    return target


def plan_folder_upload(local_dir: str | os.PathLike[str]) -> list[tuple[Path, str]]:
    """The files to upload from `local_dir`: (local file, path relative to the folder), sorted.

    Raises `InvalidArtifactPathError` listing every problem (symlinks leaving the folder,
    broken or looping symlinks, special files, names that are not valid artifact paths);
    nothing should be uploaded then. `FileNotFoundError`/`NotADirectoryError` if `local_dir`
    is not a folder.
    """
    given = Path(local_dir)
    if not given.exists():
        raise FileNotFoundError(f"no such folder: {given}")
    if not given.is_dir():
        raise NotADirectoryError(f"not a folder: {given} (use log_artifact for a file)")
    root = os.path.realpath(given)
    files: list[tuple[Path, str]] = []
    problems: list[str] = []

    def walk(folder: str, prefix: str, ancestors: frozenset[str]) -> None:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            rel = join(prefix, entry.name)
            try:
                validate_artifact_path(rel)
            except InvalidArtifactPathError as exc:
                problems.append(f"{rel}: {exc}")
                continue
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not is_within(target, root):
                    problems.append(f"{rel}: symlink to {target}, outside the folder {root}")
                elif not os.path.exists(target):
                    problems.append(f"{rel}: broken symlink")
                elif os.path.isdir(target):
                    if target in ancestors:
                        problems.append(f"{rel}: symlink loops back to its parent {target}")
                    else:
                        walk(target, rel, ancestors | {target})
                elif os.path.isfile(target):
                    files.append((Path(target), rel))
                else:
                    problems.append(f"{rel}: symlink to a special file {target}")
            elif entry.is_dir(follow_symlinks=False):
                real = os.path.realpath(entry.path)
                walk(entry.path, rel, ancestors | {real})
            elif entry.is_file(follow_symlinks=False):
                files.append((Path(entry.path), rel))
            else:
                problems.append(f"{rel}: not a regular file (FIFO, socket or device)")

    walk(str(given), "", frozenset({root}))
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise InvalidArtifactPathError(
            f"refusing to upload the folder {given}; nothing was uploaded. "
            f"{len(problems)} problem(s):\n{listed}\n"
            "Symlinks may only point inside the folder being uploaded: copy their targets in, "
            "or remove the links."
        )
    return sorted(files, key=lambda item: item[1])


__all__ = [
    "is_within",
    "join",
    "plan_folder_upload",
    "resolve_under",
    "validate_artifact_file",
    "validate_artifact_path",
]
