"""Docker build contexts: the files written, the SageMaker contract, clear errors without Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmtrace._version import __version__
from llmtrace.cli import main
from llmtrace.serving import ServingError, build_docker, generate_dockerfile
from llmtrace.serving.__main__ import main as container_main
from tests.tracking.conftest import configure_tracing, reset_fluent_state, tracking

__all__ = ["configure_tracing", "reset_fluent_state", "tracking"]  # fixtures used below


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A model folder laid out like `llmtrace.models.save_model` writes one."""
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "llmtrace-model.yaml").write_text("flavor: python\nformat_version: 1\n")
    (folder / "requirements.txt").write_text(
        "# pinned at save time\nllmtrace==0.1.0\npandas>=2.0\nscikit-learn==1.5.2\n\n"
    )
    (folder / "model.pkl").write_bytes(b"\x80\x04N.")
    (folder / "code").mkdir()
    (folder / "code" / "helpers.py").write_text("X = 1\n")
    (folder / "code" / "__pycache__").mkdir()
    (folder / "code" / "__pycache__" / "helpers.cpython-311.pyc").write_bytes(b"junk")
    return folder


def test_build_context(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "context"
    dockerfile = generate_dockerfile(model_dir, out)
    assert dockerfile == out / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    assert lines[0].startswith("# A scoring server for one model")
    assert "FROM python:3.11-slim" in lines
    assert "EXPOSE 8080" in lines
    assert "COPY requirements.txt /opt/llmtrace/requirements.txt" in lines
    assert "RUN pip install -r /opt/llmtrace/requirements.txt" in lines
    assert "COPY model /opt/llmtrace/model" in lines
    entry = next(ln for ln in lines if ln.startswith("ENTRYPOINT "))
    assert json.loads(entry.removeprefix("ENTRYPOINT ")) == [
        "python", "-m", "llmtrace.serving", "--model", "/opt/llmtrace/model",
        "--host", "0.0.0.0", "--port", "8080",
    ]  # fmt: skip
    assert lines[-1] == 'CMD ["serve"]'
    # The model's requirements, its llmtrace pin replaced by the serving install.
    assert (out / "requirements.txt").read_text().splitlines() == [
        "pandas>=2.0",
        "scikit-learn==1.5.2",
        f"llmtrace[server,fast,otlp]=={__version__}",
    ]
    copied = sorted(p.relative_to(out / "model").as_posix() for p in (out / "model").rglob("*"))
    assert copied == [
        "code",
        "code/helpers.py",
        "llmtrace-model.yaml",
        "model.pkl",
        "requirements.txt",
    ]
    assert (out / "model" / "model.pkl").read_bytes() == b"\x80\x04N."


def test_regenerating_replaces_the_model_copy(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "context"
    generate_dockerfile(model_dir, out)
    (model_dir / "model.pkl").unlink()
    generate_dockerfile(model_dir, out, base_image="python:3.12-slim")
    assert not (out / "model" / "model.pkl").exists()
    assert "FROM python:3.12-slim" in (out / "Dockerfile").read_text().splitlines()


def test_local_wheel_goes_into_the_context(model_dir: Path, tmp_path: Path) -> None:
    wheel = tmp_path / "llmtrace-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    out = tmp_path / "context"
    generate_dockerfile(model_dir, out, llmtrace_requirement=wheel)
    assert (out / "wheels" / wheel.name).read_bytes() == b"PK"
    assert "COPY wheels /opt/llmtrace/wheels" in (out / "Dockerfile").read_text().splitlines()
    assert (out / "requirements.txt").read_text().splitlines()[-1] == (
        f"llmtrace[server,fast,otlp] @ file:///opt/llmtrace/wheels/{wheel.name}"
    )


def test_file_uri_and_missing_folder(model_dir: Path, tmp_path: Path) -> None:
    generate_dockerfile(model_dir.as_uri(), tmp_path / "ctx")
    assert (tmp_path / "ctx" / "model" / "llmtrace-model.yaml").is_file()
    with pytest.raises(ServingError, match="no model folder at"):
        generate_dockerfile(tmp_path / "nope", tmp_path / "ctx2")


def test_runs_uri_is_downloaded_into_the_context(tracking: str, tmp_path: Path) -> None:
    from llmtrace.models import log_model

    def answer(data: object) -> object:
        return data

    info = log_model(answer, "bot", requirements=["httpx>=0.27"])
    out = tmp_path / "ctx"
    generate_dockerfile(info.model_uri, out)
    assert (out / "model" / "llmtrace-model.yaml").is_file()
    assert "httpx>=0.27" in (out / "requirements.txt").read_text().splitlines()


def test_cli_generate_dockerfile(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ctx"
    code = main(["models", "generate-dockerfile", "-m", str(model_dir), "-d", str(out)])
    assert code == 0
    assert (out / "Dockerfile").is_file()
    assert (out / "model" / "model.pkl").is_file()
    assert f"docker build -t IMAGE {out}" in capsys.readouterr().out


def test_cli_missing_model_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["models", "generate-dockerfile", "-m", str(tmp_path / "x"), "-d", str(tmp_path)])
    assert code != 0
    err = capsys.readouterr().err
    assert err.startswith("error: no model folder at")
    assert "Traceback" not in err


def test_build_docker_without_docker_binary(model_dir: Path) -> None:
    with pytest.raises(ServingError, match="'no-such-docker-binary' was not found: install Docker"):
        build_docker(model_dir, "img", docker="no-such-docker-binary")


def test_build_docker_without_an_engine(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A docker CLI whose engine is down, as on a laptop where Docker Desktop is not started.
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    with pytest.raises(ServingError, match="no Docker engine is reachable") as info:
        build_docker(model_dir, "img")
    assert "Cannot connect to the Docker daemon" in str(info.value)
    assert "start Docker" in str(info.value)


def test_container_entrypoint_needs_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMTRACE_SERVING_MODEL", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        container_main(["serve"])
    assert exit_info.value.code == 2
