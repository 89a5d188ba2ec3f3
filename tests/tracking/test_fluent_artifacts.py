"""Artifacts of the active run: files, folders, dicts, text, tables and figures; local and S3."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import llmtrace
from llmtrace.exceptions import ConfigError, InvalidParameterError
from llmtrace.tracking import InvalidArtifactPathError


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    return root


def test_files_and_folders(tracking: str, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x01\x02")
    with llmtrace.start_run() as run:
        assert llmtrace.log_artifact(src) == "model.bin"
        assert llmtrace.log_artifact(src, artifact_path="models/v1") == "models/v1/model.bin"
        assert llmtrace.log_artifacts(_folder(tmp_path / "out"), artifact_path="out") == [
            "out/a.txt",
            "out/sub/b.txt",
        ]
    listing = llmtrace.list_artifacts(run.run_id)
    assert [(f.path, f.is_dir, f.file_size) for f in listing] == [
        ("model.bin", False, 2),
        ("models", True, None),
        ("out", True, None),
    ]
    assert [f.path for f in llmtrace.list_artifacts(run.run_id, "out/sub")] == ["out/sub/b.txt"]
    local = llmtrace.download_artifacts(run.run_id, "out", tmp_path / "dl")
    assert local == tmp_path / "dl" / "out"
    assert (local / "sub" / "b.txt").read_text() == "b"
    everything = llmtrace.download_artifacts(run.run_id)
    assert (everything / "models" / "v1" / "model.bin").read_bytes() == b"\x01\x02"
    # The files sit under the run's artifact URI, inside the configured root.
    uri = llmtrace.get_run(run.run_id).info.artifact_uri
    assert (Path(uri) / "out" / "sub" / "b.txt").read_text() == "b"
    assert uri.startswith(str(tmp_path / "artifacts"))


def test_overwriting_an_artifact(tracking: str) -> None:
    with llmtrace.start_run() as run:
        llmtrace.log_text("v1, longer text", "notes.txt")
        llmtrace.log_text("v2", "notes.txt")
    path = llmtrace.download_artifacts(run.run_id, "notes.txt")
    assert path.read_text() == "v2"


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/../../b"])
def test_traversal_through_the_fluent_api(tracking: str, tmp_path: Path, bad: str) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    with llmtrace.start_run() as run:
        with pytest.raises(InvalidArtifactPathError):
            llmtrace.log_artifact(src, artifact_path=bad)
        with pytest.raises(InvalidArtifactPathError):
            llmtrace.log_text("x", f"{bad}.txt" if bad != "/abs" else "/abs.txt")
        with pytest.raises(InvalidArtifactPathError):
            llmtrace.log_artifacts(tmp_path, artifact_path=bad)
    assert llmtrace.list_artifacts(run.run_id) == []
    with pytest.raises(InvalidArtifactPathError):
        llmtrace.download_artifacts(run.run_id, bad, tmp_path / "dst")


def test_symlink_out_of_an_uploaded_folder_is_rejected(tracking: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "out")
    (tmp_path / "secret").write_text("s")
    (folder / "sub" / "link").symlink_to(tmp_path / "secret")
    with (
        llmtrace.start_run() as run,
        pytest.raises(InvalidArtifactPathError, match=r"sub/link: symlink to .*outside"),
    ):
        llmtrace.log_artifacts(folder)
    assert llmtrace.list_artifacts(run.run_id) == []


def test_log_dict_and_text(tracking: str) -> None:
    with llmtrace.start_run() as run:
        llmtrace.log_dict({"prompt": "Réponds", "k": [1, 2]}, "config/prompt.json")
        llmtrace.log_text("# Report\n", "report.md")
        with pytest.raises(InvalidParameterError, match="not JSON-serializable"):
            llmtrace.log_dict({"x": object()}, "bad.json")
    root = llmtrace.download_artifacts(run.run_id)
    assert json.loads((root / "config" / "prompt.json").read_text("utf-8")) == {
        "prompt": "Réponds",
        "k": [1, 2],
    }
    assert (root / "report.md").read_text() == "# Report\n"


def test_log_dict_as_yaml(tracking: str) -> None:
    yaml = pytest.importorskip("yaml")
    with llmtrace.start_run() as run:
        llmtrace.log_dict({"a": 1, "b": ["x"]}, "cfg.yaml")
    text = llmtrace.download_artifacts(run.run_id, "cfg.yaml").read_text()
    assert yaml.safe_load(text) == {"a": 1, "b": ["x"]}


def test_log_table_reads_back_into_pandas(tracking: str) -> None:
    frame = pd.DataFrame(
        {
            "question": ["q1", "q2", "q3"],
            "f1": [0.1 + 0.2, 2 / 3, math.nan],
            "extreme": [1e-300, math.inf, -math.inf],
            "ok": [True, False, True],
            "n": [1, 2, 3],
        }
    )
    with llmtrace.start_run() as run:
        llmtrace.log_table(frame, "eval/results.json")
        llmtrace.log_table({"a": [1, 2], "b": ["x", "y"]}, "eval/small.csv")
        with pytest.raises(InvalidParameterError, match=r"\.json or \.csv"):
            llmtrace.log_table(frame, "eval/results.parquet")
        with pytest.raises(InvalidParameterError, match="DataFrame or a dict"):
            llmtrace.log_table([1, 2], "eval/x.json")
    local = llmtrace.download_artifacts(run.run_id, "eval/results.json")
    doc = json.loads(local.read_text())
    assert doc["columns"] == ["question", "f1", "extreme", "ok", "n"]
    assert doc["data"][0] == ["q1", 0.1 + 0.2, 1e-300, True, 1]
    assert doc["data"][2][1] is None and doc["data"][2][2] == -math.inf
    back = pd.read_json(local, orient="split", precise_float=True)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    client = llmtrace.TrackingClient()
    loaded = client.load_table(run.run_id, "eval/results.json")
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    small = client.load_table(run.run_id, "eval/small.csv")
    assert small.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_log_table_cells_of_other_types(tracking: str) -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2025-06-01 12:00", None]),
            "day": [datetime.date(2025, 6, 1), None],
            "count": np.array([1, 2], dtype=np.int64),
            "f32": np.array([0.5, np.nan], dtype=np.float32),
            "obj": [{"k": 1}, Path("/x")],
        }
    )
    with llmtrace.start_run() as run:
        llmtrace.log_table(frame, "t.json")
    doc = json.loads(llmtrace.download_artifacts(run.run_id, "t.json").read_text())
    assert doc["data"] == [
        ["2025-06-01T12:00:00", "2025-06-01", 1, 0.5, "{'k': 1}"],
        [None, None, 2, None, "/x"],
    ]


def test_log_figure_with_matplotlib(tracking: str) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    fig.subplots().plot([1, 2, 3], [3, 1, 2])
    with llmtrace.start_run() as run:
        assert llmtrace.log_figure(fig, "plots/loss.png") == "plots/loss.png"
        llmtrace.log_figure(fig, "plots/loss.svg")
        with pytest.raises(InvalidParameterError, match="needs a file extension"):
            llmtrace.log_figure(fig, "plots/loss")
    root = llmtrace.download_artifacts(run.run_id, "plots")
    assert (root / "loss.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in (root / "loss.svg").read_bytes()


class _FakePlotlyFigure:
    """The two methods of plotly's Figure that log_figure uses."""

    def to_html(self, **kwargs: Any) -> str:
        assert kwargs == {"full_html": True, "include_plotlyjs": True}
        return "<html>plot</html>"

    def to_image(self, format: str) -> bytes:
        return f"image/{format}".encode()


def test_log_figure_with_a_plotly_like_figure(tracking: str) -> None:
    with llmtrace.start_run() as run:
        llmtrace.log_figure(_FakePlotlyFigure(), "p.html")
        llmtrace.log_figure(_FakePlotlyFigure(), "p.svg")
        with pytest.raises(InvalidParameterError, match="plotly figure is logged as"):
            llmtrace.log_figure(_FakePlotlyFigure(), "p.txt")
        with pytest.raises(InvalidParameterError, match="matplotlib or plotly figure"):
            llmtrace.log_figure("not a figure", "p.png")
    root = llmtrace.download_artifacts(run.run_id)
    assert (root / "p.html").read_text() == "<html>plot</html>"
    assert (root / "p.svg").read_bytes() == b"image/svg"


def test_artifacts_on_s3_end_to_end(
    configure_tracing: Any,
    migrated_sqlite_url: str,
    s3_bucket: tuple[str, Any],
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bucket, client = s3_bucket
    monkeypatch.setenv("LLMTRACE_S3_ENDPOINT_URL", s3_endpoint)
    configure_tracing(store=migrated_sqlite_url, artifacts=f"s3://{bucket}/mlruns/")
    with llmtrace.start_run(experiment="s3-exp") as run:
        llmtrace.log_artifacts(_folder(tmp_path / "out"), "out")
        llmtrace.log_table({"a": [1]}, "t.json")
    exp = llmtrace.get_experiment_by_name("s3-exp")
    assert exp is not None and exp.artifact_location.startswith(f"s3://{bucket}/mlruns/")
    assert run.info.artifact_uri.startswith(f"s3://{bucket}/mlruns/")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    prefix = run.info.artifact_uri.removeprefix(f"s3://{bucket}/")
    assert keys == [f"{prefix}/out/a.txt", f"{prefix}/out/sub/b.txt", f"{prefix}/t.json"]
    assert [f.path for f in llmtrace.list_artifacts(run.run_id)] == ["out", "t.json"]
    local = llmtrace.download_artifacts(run.run_id, "out/sub/b.txt", tmp_path / "dl")
    assert local.read_text() == "b"


def test_artifact_root_settings(
    configure_tracing: Any,
    migrated_sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMTRACE_ARTIFACTS", str(tmp_path / "from-env"))
    configure_tracing(store=migrated_sqlite_url)
    assert llmtrace.TrackingClient().artifact_root == str(tmp_path / "from-env")
    configure_tracing(store=migrated_sqlite_url, artifacts=tmp_path / "from-configure")
    assert llmtrace.TrackingClient().artifact_root == str(tmp_path / "from-configure")
    monkeypatch.delenv("LLMTRACE_ARTIFACTS")
    configure_tracing(store=migrated_sqlite_url)
    assert llmtrace.TrackingClient().artifact_root == str(tmp_path / "home" / "artifacts")
    client = llmtrace.TrackingClient(artifact_root=f"{(tmp_path / 'explicit').as_uri()}")
    exp_id = client.create_experiment("explicit-root")
    run = client.create_run(exp_id)
    client.log_text(run.run_id, "x", "x.txt")
    assert len(list((tmp_path / "explicit").rglob("x.txt"))) == 1
    with pytest.raises(ConfigError, match="artifacts must be"):
        llmtrace.configure(artifacts="gs://bucket/x")
