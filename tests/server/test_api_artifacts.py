"""Run artifacts through the server: uploads, listings and downloads with `TrackingClient` on a
remote store (`HttpArtifactRepository`), path rules enforced by the server over raw HTTP
(traversal, absolute paths, symlinks), deleted runs, the body size limit, and an S3 artifact
root (a moto server on loopback)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from llmtrace.exceptions import AlreadyExistsError, InvalidParameterError, NotFoundError
from llmtrace.tracking import InvalidArtifactPathError, TrackingClient
from llmtrace.tracking.artifacts import FileInfo
from llmtrace.tracking.artifacts._http import HttpArtifactRepository
from tests.server._tracking_helpers import remote_store
from tests.server.conftest import LiveServer
from tests.tracking.conftest import s3_bucket, s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]  # fixtures of the S3 test

API = "/api/v1"


@pytest.fixture
def client_of() -> Iterator[Callable[[LiveServer], TrackingClient]]:
    stores: list[Any] = []

    def make(live: LiveServer) -> TrackingClient:
        store = remote_store(live.url)
        stores.append(store)
        return TrackingClient(store=store)

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    (root / "plots" / "epoch 1").mkdir(parents=True)
    (root / "summary.txt").write_text("all good")
    (root / "plots" / "loss.csv").write_text("step,loss\n0,1.0\n")
    (root / "plots" / "epoch 1" / "grad%.bin").write_bytes(bytes(range(256)))
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _paths(infos: list[FileInfo]) -> list[tuple[str, bool, int | None]]:
    return [(f.path, f.is_dir, f.file_size) for f in infos]


def test_upload_list_and_download(
    server: LiveServer,
    client_of: Callable[[LiveServer], TrackingClient],
    folder: Path,
    tmp_path: Path,
) -> None:
    client = client_of(server)
    exp = client.create_experiment("artifacts")
    # The server chose the location: under its artifact root, in a folder named after the id.
    assert client.get_experiment(exp).artifact_location == f"{server.config.artifacts}/{exp}"
    run = client.create_run(exp).run_id
    assert isinstance(client.artifact_repository(run), HttpArtifactRepository)
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x00weights")
    assert client.log_artifact(run, model) == "model.pkl"
    assert client.log_artifact(run, model, "models/v1") == "models/v1/model.pkl"
    assert client.log_artifacts(run, folder, "out") == [
        "out/plots/epoch 1/grad%.bin",
        "out/plots/loss.csv",
        "out/summary.txt",
    ]
    assert client.log_artifact(run, folder) == "results"
    client.log_dict(run, {"k": 5}, "cfg/params.json")
    client.log_table(run, {"a": [1, 2], "b": ["x", "y"]}, "eval/table.json")
    assert _paths(client.list_artifacts(run)) == [
        ("cfg", True, None),
        ("eval", True, None),
        ("model.pkl", False, 8),
        ("models", True, None),
        ("out", True, None),
        ("results", True, None),
    ]
    assert _paths(client.list_artifacts(run, "out/plots")) == [
        ("out/plots/epoch 1", True, None),
        ("out/plots/loss.csv", False, 16),
    ]
    assert client.list_artifacts(run, "model.pkl") == []
    assert client.list_artifacts(run, "missing") == []
    assert client.load_table(run, "eval/table.json").to_dict("list") == {
        "a": [1, 2],
        "b": ["x", "y"],
    }
    one = client.download_artifacts(run, "models/v1/model.pkl", tmp_path / "one")
    assert one == tmp_path / "one" / "models" / "v1" / "model.pkl"
    assert one.read_bytes() == b"\x00weights"
    out = client.download_artifacts(run, "out", tmp_path / "dl")
    assert _tree(out) == _tree(folder)
    everything = client.download_artifacts(run)
    assert _tree(everything / "results") == _tree(folder)
    with pytest.raises(NotFoundError):
        client.download_artifacts(run, "nothing/here", tmp_path / "none")
    # The files are where the run's artifact URI says, on the server's side.
    stored = Path(client.get_run(run).info.artifact_uri)
    assert stored.is_relative_to(Path(str(server.config.artifacts)))
    assert (stored / "out" / "plots" / "epoch 1" / "grad%.bin").read_bytes() == bytes(range(256))


def test_a_large_file_streams_both_ways(
    sqlite_server: LiveServer, client_of: Callable[[LiveServer], TrackingClient], tmp_path: Path
) -> None:
    client = client_of(sqlite_server)
    run = client.create_run(client.create_experiment("big")).run_id
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    client.log_artifact(run, big, "data")
    [info] = client.list_artifacts(run, "data")
    assert info.file_size == big.stat().st_size
    back = client.download_artifacts(run, "data/big.bin", tmp_path / "back")
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()


def _raw(live: LiveServer, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    """A request with `path` sent exactly as written (no client-side normalisation of `..`)."""
    url = urlparse(live.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        conn.request(method, path, body=body or None)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


@pytest.mark.parametrize(
    "bad",
    [
        "..%2F..%2Fetc%2Fescaped",
        "../../etc/escaped",
        "a/../../escaped",
        "%2Fetc%2Fescaped",
        "a%5C..%5Cescaped",
        "a%00b",
        "C:%2Fescaped",
        "",
    ],
)
def test_traversal_is_refused_over_raw_http(
    sqlite_server: LiveServer, client_of: Callable[[LiveServer], TrackingClient], bad: str
) -> None:
    client = client_of(sqlite_server)
    run = client.create_run(client.create_experiment("traversal")).run_id
    root = Path(client.get_run(run).info.artifact_uri)
    path = f"{API}/runs/{run}/artifacts/{bad}"
    status, body = _raw(sqlite_server, "PUT", path, b"pwned")
    assert status == 400, body
    assert body["error"]["code"] == "INVALID_PARAMETER"
    status, body = _raw(sqlite_server, "GET", path)
    assert status == 400, body
    status, body = _raw(sqlite_server, "GET", f"{API}/runs/{run}/artifacts?path={bad or '..'}")
    assert status == 400, body
    server_root = root.parent.parent.parent  # <artifact root>/<experiment>/<run>/artifacts
    assert [p for p in server_root.rglob("*") if p.is_file()] == []
    assert not Path("/etc/escaped").exists()


def test_symlinks_in_the_artifact_store_are_not_followed_out(
    sqlite_server: LiveServer, client_of: Callable[[LiveServer], TrackingClient], tmp_path: Path
) -> None:
    client = client_of(sqlite_server)
    run = client.create_run(client.create_experiment("links")).run_id
    client.log_text(run, "ok", "inside.txt")
    root = Path(client.get_run(run).info.artifact_uri)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "link").symlink_to(outside, target_is_directory=True)
    http_client = httpx.Client(base_url=sqlite_server.url + API)
    with http_client:
        put = http_client.put(f"/runs/{run}/artifacts/link/new.txt", content=b"x")
        assert put.status_code == 400 and "outside the artifact root" in put.text
        got = http_client.get(f"/runs/{run}/artifacts/link/secret.txt")
        assert got.status_code == 400
        listed = http_client.get(f"/runs/{run}/artifacts", params={"path": "link"})
        assert listed.status_code == 400
    assert not (outside / "new.txt").exists()
    # The link is not listed, and downloading everything skips it.
    assert [f.path for f in client.list_artifacts(run)] == ["inside.txt"]
    assert _tree(client.download_artifacts(run, "", tmp_path / "all")) == {"inside.txt": b"ok"}


def test_the_client_checks_paths_before_sending(
    sqlite_server: LiveServer, client_of: Callable[[LiveServer], TrackingClient], tmp_path: Path
) -> None:
    client = client_of(sqlite_server)
    run = client.create_run(client.create_experiment("client checks")).run_id
    repo = client.artifact_repository(run)
    for bad in ("../x", "/etc/x", "a\\b", ""):
        with pytest.raises(InvalidArtifactPathError):
            repo.log_bytes(b"x", bad)
    with pytest.raises(InvalidArtifactPathError):
        client.download_artifacts(run, "../..", tmp_path / "dl")
    folder = tmp_path / "leaky"
    folder.mkdir()
    (folder / "fine.txt").write_text("fine")
    (folder / "leak").symlink_to(tmp_path)
    with pytest.raises(InvalidArtifactPathError, match="nothing was uploaded"):
        client.log_artifacts(run, folder)
    assert client.list_artifacts(run) == []


def test_deleted_runs_folders_and_conflicts(
    sqlite_server: LiveServer, client_of: Callable[[LiveServer], TrackingClient], tmp_path: Path
) -> None:
    client = client_of(sqlite_server)
    run = client.create_run(client.create_experiment("states")).run_id
    client.log_text(run, "v1", "notes/a.txt")
    with httpx.Client(base_url=sqlite_server.url + API) as http_client:
        folder = http_client.get(f"/runs/{run}/artifacts/notes")
        assert folder.status_code == 404 and "is a folder" in folder.json()["error"]["message"]
        assert http_client.get(f"/runs/{run}/artifacts/notes/b.txt").status_code == 404
        download = http_client.get(f"/runs/{run}/artifacts/notes/a.txt")
        assert download.status_code == 200 and download.content == b"v1"
        assert download.headers["content-type"].startswith("text/plain")
        recursive = http_client.get(f"/runs/{run}/artifacts", params={"recursive": "true"})
        assert recursive.json()["files"] == [
            {"path": "notes/a.txt", "is_dir": False, "file_size": None}
        ]
    with pytest.raises(AlreadyExistsError, match="notes"):
        client.log_text(run, "over a folder", "notes")
    client.log_text(run, "v2", "notes/a.txt")  # replacing a file is fine
    client.delete_run(run)
    with pytest.raises(NotFoundError, match="deleted"):
        client.log_text(run, "late", "late.txt")
    # Reading a deleted run's artifacts still works (as reading the run does).
    assert [f.path for f in client.list_artifacts(run, "notes")] == ["notes/a.txt"]
    got = client.download_artifacts(run, "notes/a.txt", tmp_path / "d")
    assert got.read_text() == "v2"
    with pytest.raises(NotFoundError):
        client.list_artifacts("0" * 32)


def test_uploads_over_the_body_limit_get_413(
    live_server: Callable[..., LiveServer],
    client_of: Callable[[LiveServer], TrackingClient],
    tmp_path: Path,
) -> None:
    live = live_server(max_body_bytes=4096)
    client = client_of(live)
    run = client.create_run(client.create_experiment("limit")).run_id
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 100_000)
    with pytest.raises(InvalidParameterError, match="exceeds the limit of 4096 bytes"):
        client.log_artifact(run, big)
    url = f"{live.url}{API}/runs/{run}/artifacts/big.bin"
    response = httpx.put(url, content=b"x" * 5000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for _ in range(10):
            yield b"x" * 1000

    response = httpx.put(url, content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    client.log_text(run, "small", "small.txt")
    assert [f.path for f in client.list_artifacts(run)] == ["small.txt"]


def test_an_s3_artifact_root(
    live_server: Callable[..., LiveServer],
    client_of: Callable[[LiveServer], TrackingClient],
    s3_endpoint: str,
    s3_bucket: tuple[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    tmp_path: Path,
) -> None:
    bucket, s3 = s3_bucket
    monkeypatch.setenv("LLMTRACE_S3_ENDPOINT_URL", s3_endpoint)  # read by the server
    live = live_server(artifacts=f"s3://{bucket}/llmtrace")
    client = client_of(live)
    exp = client.create_experiment("on s3")
    run = client.create_run(exp).run_id
    assert client.get_run(run).info.artifact_uri == f"s3://{bucket}/llmtrace/{exp}/{run}/artifacts"
    assert client.log_artifacts(run, folder, "out") == [
        "out/plots/epoch 1/grad%.bin",
        "out/plots/loss.csv",
        "out/summary.txt",
    ]
    client.log_text(run, "hello", "hello.txt")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    prefix = f"llmtrace/{exp}/{run}/artifacts/"
    assert keys == [
        f"{prefix}hello.txt",
        f"{prefix}out/plots/epoch 1/grad%.bin",
        f"{prefix}out/plots/loss.csv",
        f"{prefix}out/summary.txt",
    ]
    assert _paths(client.list_artifacts(run)) == [("hello.txt", False, 5), ("out", True, None)]
    assert _tree(client.download_artifacts(run, "out", tmp_path / "dl")) == _tree(folder)
    with httpx.Client(base_url=live.url + API) as http_client:
        got = http_client.get(f"/runs/{run}/artifacts/out/plots/loss.csv")
        assert got.status_code == 200 and got.content == b"step,loss\n0,1.0\n"
        assert http_client.get(f"/runs/{run}/artifacts/out").status_code == 404
        assert http_client.get(f"/runs/{run}/artifacts/none.txt").status_code == 404
    status, _ = _raw(live, "PUT", f"{API}/runs/{run}/artifacts/..%2F..%2Fescaped", b"x")
    assert status == 400
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 4


def test_transfers_are_retried_on_unavailable(tmp_path: Path) -> None:
    """Artifact uploads and downloads (idempotent) are sent again after 503, as other
    idempotent calls are; the server here is a fake transport."""
    calls: list[tuple[str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.read()))
        if len(calls) % 3:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": {}})
        if request.method == "PUT":
            return httpx.Response(201, json={"path": "a.bin"})
        return httpx.Response(200, content=b"payload")

    store = remote_store("http://fake", transport=httpx.MockTransport(handler))
    repo = HttpArtifactRepository(store, "r" * 32)
    source = tmp_path / "a.bin"
    source.write_bytes(b"payload")
    repo.log_artifact(source)
    assert calls == [("PUT", b"payload")] * 3
    calls.clear()
    repo._download_file("a.bin", tmp_path / "back.bin")
    assert [method for method, _ in calls] == ["GET"] * 3
    assert (tmp_path / "back.bin").read_bytes() == b"payload"
    store.close()
