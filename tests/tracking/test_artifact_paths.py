"""Artifact path validation and the plan of a folder upload (symlinks, special files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmtrace.exceptions import InvalidParameterError
from llmtrace.tracking import InvalidArtifactPathError
from llmtrace.tracking.artifacts._paths import (
    plan_folder_upload,
    resolve_under,
    validate_artifact_file,
    validate_artifact_path,
)


@pytest.mark.parametrize(
    ("given", "clean"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("a", "a"),
        ("a/b/c.txt", "a/b/c.txt"),
        ("a//b/./c.txt", "a/b/c.txt"),
        ("./a/", "a"),
        ("weird name/ü.txt", "weird name/ü.txt"),
        ("..hidden", "..hidden"),
        (Path("plots/loss.png"), "plots/loss.png"),
    ],
)
def test_valid_paths_are_normalised(given: str | None, clean: str) -> None:
    assert validate_artifact_path(given) == clean


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("../x", "'..'"),
        ("a/../../b", "'..'"),
        ("a/../b", "'..'"),
        ("..", "'..'"),
        ("/abs", "absolute"),
        ("/etc/passwd", "absolute"),
        ("C:/Windows", "absolute"),
        ("a\\..\\b", "backslash"),
        ("a\x00b", "NUL"),
    ],
)
def test_escaping_paths_are_rejected(bad: str, says: str) -> None:
    with pytest.raises(InvalidArtifactPathError, match=says):
        validate_artifact_path(bad)


def test_error_is_an_invalid_parameter_and_a_value_error() -> None:
    with pytest.raises(InvalidParameterError):
        validate_artifact_path("../x")
    with pytest.raises(ValueError):
        validate_artifact_path("../x")


def test_artifact_file_must_name_a_file() -> None:
    assert validate_artifact_file("a/b.json") == "a/b.json"
    for bad in ("", ".", "./"):
        with pytest.raises(InvalidArtifactPathError, match="names no file"):
            validate_artifact_file(bad)


def test_resolve_under_refuses_a_symlink_inside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    assert resolve_under(root, "a/b.txt") == root / "a" / "b.txt"
    with pytest.raises(InvalidArtifactPathError, match="outside the artifact root"):
        resolve_under(root, "link/x.txt")


def _tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / "sub" / "deeper" / "c.txt").write_text("c")


def test_plan_lists_files_sorted(tmp_path: Path) -> None:
    _tree(tmp_path)
    plan = plan_folder_upload(tmp_path)
    assert [rel for _, rel in plan] == ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]
    assert plan[1][0] == tmp_path / "sub" / "b.txt"


def test_plan_follows_symlinks_inside_the_folder(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "alias.txt").symlink_to(tmp_path / "sub" / "b.txt")
    (tmp_path / "sub-alias").symlink_to("sub")  # relative link to a folder inside
    plan = dict((rel, src) for src, rel in plan_folder_upload(tmp_path))
    assert plan["alias.txt"].read_text() == "b"
    assert plan["sub-alias/deeper/c.txt"].read_text() == "c"


def test_plan_rejects_symlinks_pointing_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    folder = tmp_path / "upload"
    _tree(folder)
    (folder / "sub" / "leak.txt").symlink_to(secret)
    (folder / "etc").symlink_to("/etc")
    with pytest.raises(InvalidArtifactPathError) as info:
        plan_folder_upload(folder)
    message = str(info.value)
    assert "nothing was uploaded" in message
    assert "2 problem(s)" in message
    assert f"sub/leak.txt: symlink to {secret}, outside the folder" in message
    assert "etc: symlink to /etc" in message


def test_plan_rejects_broken_and_looping_symlinks_and_fifos(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "broken").symlink_to(tmp_path / "missing")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path / "sub")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InvalidArtifactPathError) as info:
        plan_folder_upload(tmp_path)
    message = str(info.value)
    assert "broken: broken symlink" in message
    assert "sub/loop: symlink loops back" in message
    assert "pipe: not a regular file" in message


def test_plan_rejects_names_that_are_not_artifact_paths(tmp_path: Path) -> None:
    (tmp_path / "back\\slash.txt").write_text("x")
    with pytest.raises(InvalidArtifactPathError, match="backslash"):
        plan_folder_upload(tmp_path)


def test_plan_of_a_missing_folder_or_a_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        plan_folder_upload(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="log_artifact"):
        plan_folder_upload(tmp_path / "f.txt")


def test_the_folder_itself_may_be_a_symlink(tmp_path: Path) -> None:
    _tree(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "inner").symlink_to(tmp_path / "real" / "a.txt")
    assert [rel for _, rel in plan_folder_upload(tmp_path / "link")] == [
        "a.txt",
        "inner",
        "sub/b.txt",
        "sub/deeper/c.txt",
    ]
