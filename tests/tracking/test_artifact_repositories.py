"""Artifact repositories, local folder and S3 (a real moto server on loopback), side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmtrace.exceptions import ConfigError, NotFoundError, StoreError
from llmtrace.tracking import InvalidArtifactPathError
from llmtrace.tracking.artifacts import (
    ArtifactRepository,
    FileInfo,
    LocalArtifactRepository,
    S3ArtifactRepository,
    get_artifact_repository,
)
from llmtrace.tracking.artifacts._base import TMP_PREFIX


@pytest.fixture(params=["local", "s3"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactRepository:
    if request.param == "local":
        return get_artifact_repository(str(tmp_path / "store" / "run-1" / "artifacts"))
    bucket, _ = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    return get_artifact_repository(f"s3://{bucket}/exp/run-1/artifacts", s3_endpoint_url=endpoint)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    (root / "plots" / "epoch-1").mkdir(parents=True)
    (root / "summary.txt").write_text("all good")
    (root / "plots" / "loss.csv").write_text("step,loss\n0,1.0\n")
    (root / "plots" / "epoch-1" / "grad.bin").write_bytes(bytes(range(256)))
    return root


def _paths(infos: list[FileInfo]) -> list[tuple[str, bool]]:
    return [(f.path, f.is_dir) for f in infos]


def test_log_a_file_at_the_root_and_under_a_path(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(b"\x00weights")
    assert repo.log_artifact(src) == "model.pkl"
    assert repo.log_artifact(src, artifact_path="models/v1") == "models/v1/model.pkl"
    assert repo.read_bytes("model.pkl") == b"\x00weights"
    assert repo.read_bytes("models/v1/model.pkl") == b"\x00weights"
    assert _paths(repo.list_artifacts()) == [("model.pkl", False), ("models", True)]
    assert repo.list_artifacts()[0].file_size == 8
    assert repo.list_artifacts()[1].file_size is None
    assert _paths(repo.list_artifacts("models")) == [("models/v1", True)]
    assert _paths(repo.list_artifacts("models/v1/")) == [("models/v1/model.pkl", False)]


def test_log_a_folder(repo: ArtifactRepository, folder: Path) -> None:
    written = repo.log_artifacts(folder)
    assert written == ["plots/epoch-1/grad.bin", "plots/loss.csv", "summary.txt"]
    assert _paths(repo.list_artifacts()) == [("plots", True), ("summary.txt", False)]
    assert _paths(repo.list_artifacts("plots")) == [
        ("plots/epoch-1", True),
        ("plots/loss.csv", False),
    ]
    assert repo.log_artifacts(folder, artifact_path="run/out") == [
        "run/out/plots/epoch-1/grad.bin",
        "run/out/plots/loss.csv",
        "run/out/summary.txt",
    ]
    assert repo.read_bytes("run/out/plots/epoch-1/grad.bin") == bytes(range(256))


def test_log_artifact_of_a_folder_keeps_its_name(repo: ArtifactRepository, folder: Path) -> None:
    assert repo.log_artifact(folder, "x") == "x/results"
    assert repo.read_bytes("x/results/summary.txt") == b"all good"


def test_list_of_a_file_or_a_missing_folder_is_empty(repo: ArtifactRepository) -> None:
    assert repo.list_artifacts() == []
    repo.log_bytes(b"1", "a/b.txt")
    assert repo.list_artifacts("a/b.txt") == []
    assert repo.list_artifacts("nope") == []


def test_overwrite_replaces_the_content(repo: ArtifactRepository, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("first version, longer")
    repo.log_artifact(src, "n")
    src.write_text("second")
    repo.log_artifact(src, "n")
    assert repo.read_bytes("n/notes.txt") == b"second"
    repo.log_bytes(b"third", "n/notes.txt")
    assert repo.read_bytes("n/notes.txt") == b"third"
    assert repo.list_artifacts("n") == [FileInfo("n/notes.txt", False, 5)]


def test_download_everything_a_folder_or_a_file(
    repo: ArtifactRepository, folder: Path, tmp_path: Path
) -> None:
    repo.log_artifacts(folder)
    everything = repo.download_artifacts(dst_path=tmp_path / "all")
    assert everything == tmp_path / "all"
    assert sorted(p.relative_to(everything).as_posix() for p in everything.rglob("*")) == [
        "plots",
        "plots/epoch-1",
        "plots/epoch-1/grad.bin",
        "plots/loss.csv",
        "summary.txt",
    ]
    plots = repo.download_artifacts("plots", tmp_path / "some")
    assert plots == tmp_path / "some" / "plots"
    assert (plots / "loss.csv").read_text() == "step,loss\n0,1.0\n"
    assert not (tmp_path / "some" / "summary.txt").exists()
    one = repo.download_artifacts("plots/epoch-1/grad.bin", tmp_path / "one")
    assert one == tmp_path / "one" / "plots" / "epoch-1" / "grad.bin"
    assert one.read_bytes() == bytes(range(256))
    # Downloading again overwrites; no temporary files are left behind.
    repo.log_bytes(b"new", "summary.txt")
    again = repo.download_artifacts("summary.txt", tmp_path / "all")
    assert again.read_text() == "new"
    assert not [p for p in (tmp_path / "all").rglob("*") if p.name.startswith(TMP_PREFIX)]


def test_download_to_a_temporary_folder(repo: ArtifactRepository) -> None:
    repo.log_bytes(b"x", "a.txt")
    path = repo.download_artifacts("a.txt")
    assert path.name == "a.txt" and path.read_bytes() == b"x"


def test_missing_artifacts(repo: ArtifactRepository, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no artifact 'nope'"):
        repo.download_artifacts("nope", tmp_path)
    with pytest.raises(NotFoundError):
        repo.download_artifacts("", tmp_path)
    with pytest.raises(NotFoundError):
        repo.read_bytes("nope.txt")
    with pytest.raises(FileNotFoundError):
        repo.log_artifact(tmp_path / "missing.txt")


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/../../b", "a\x00b"])
def test_traversal_is_rejected_everywhere(
    repo: ArtifactRepository, tmp_path: Path, bad: str
) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    calls: list[Callable[[], Any]] = [
        lambda: repo.log_artifact(src, artifact_path=bad),
        lambda: repo.log_artifacts(tmp_path, artifact_path=bad),
        lambda: repo.log_bytes(b"x", bad),
        lambda: repo.log_bytes(b"x", f"{bad}/f.txt"),
        lambda: repo.read_bytes(bad),
        lambda: repo.list_artifacts(bad),
        lambda: repo.download_artifacts(bad, tmp_path / "dst"),
    ]
    for call in calls:
        with pytest.raises(InvalidArtifactPathError):
            call()
    assert repo.list_artifacts() == []
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


def test_folder_with_a_symlink_outside_uploads_nothing(
    repo: ArtifactRepository, folder: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (folder / "plots" / "leak.txt").symlink_to(secret)
    with pytest.raises(InvalidArtifactPathError, match="outside the folder"):
        repo.log_artifacts(folder)
    assert repo.list_artifacts() == []


def test_local_repository_accepts_file_uris(tmp_path: Path) -> None:
    repo = get_artifact_repository((tmp_path / "a b").as_uri())
    assert isinstance(repo, LocalArtifactRepository)
    assert repo.root == tmp_path / "a b"
    repo.log_bytes(b"x", "f.txt")
    assert (tmp_path / "a b" / "f.txt").read_bytes() == b"x"
    with pytest.raises(ConfigError, match="remote host"):
        get_artifact_repository("file://server/share")


def test_local_repository_refuses_a_planted_symlink(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "sub").symlink_to(outside)
    repo = get_artifact_repository(str(root))
    with pytest.raises(InvalidArtifactPathError, match="outside the artifact root"):
        repo.log_bytes(b"x", "sub/f.txt")
    assert list(outside.iterdir()) == []


def test_local_file_over_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    repo = get_artifact_repository(str(tmp_path))
    repo.log_bytes(b"x", "a/b.txt")
    with pytest.raises(IsADirectoryError, match="a folder of that name exists"):
        repo.log_bytes(b"y", "a")


def test_unsupported_uri() -> None:
    with pytest.raises(ConfigError, match="unsupported artifact URI"):
        get_artifact_repository("gs://bucket/x")
    with pytest.raises(ConfigError, match="not an S3 URI"):
        S3ArtifactRepository("s3:///no-bucket")


def test_s3_keys_sit_under_the_prefix(s3_bucket: tuple[str, Any], s3_endpoint: str) -> None:
    bucket, client = s3_bucket
    repo = S3ArtifactRepository(f"s3://{bucket}/exp/run/artifacts/", endpoint_url=s3_endpoint)
    repo.log_bytes(b"{}", "cfg/params.json")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["exp/run/artifacts/cfg/params.json"]
    # A bucket-wide repository (no prefix) works too.
    whole = S3ArtifactRepository(f"s3://{bucket}", endpoint_url=s3_endpoint)
    assert [f.path for f in whole.list_artifacts()] == ["exp"]
    assert whole.read_bytes("exp/run/artifacts/cfg/params.json") == b"{}"


def test_s3_endpoint_from_the_environment(
    s3_bucket: tuple[str, Any], s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, _ = s3_bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LLMTRACE_S3_ENDPOINT_URL", s3_endpoint)
    repo = S3ArtifactRepository(f"s3://{bucket}/p")
    assert repo.endpoint_url == s3_endpoint
    repo.log_bytes(b"x", "x.txt")
    monkeypatch.delenv("LLMTRACE_S3_ENDPOINT_URL")
    assert S3ArtifactRepository(f"s3://{bucket}/p").endpoint_url == "http://127.0.0.1:1"


def test_s3_refuses_to_download_foreign_escaping_keys(
    s3_bucket: tuple[str, Any], s3_endpoint: str, tmp_path: Path
) -> None:
    bucket, client = s3_bucket
    client.put_object(Bucket=bucket, Key="run/../../escape.txt", Body=b"x")
    repo = S3ArtifactRepository(f"s3://{bucket}/run", endpoint_url=s3_endpoint)
    with pytest.raises(InvalidArtifactPathError, match="refusing to download"):
        repo.download_artifacts("", tmp_path / "dst")
    assert not (tmp_path / "escape.txt").exists()


def test_s3_missing_bucket_is_a_store_error(s3_endpoint: str) -> None:
    repo = S3ArtifactRepository("s3://no-such-bucket-here/p", endpoint_url=s3_endpoint)
    with pytest.raises(StoreError, match="does not exist"):
        repo.log_bytes(b"x", "x.txt")
