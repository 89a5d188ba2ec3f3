"""`llmtrace ui`: the command line it runs, and its errors."""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from llmtrace.cli import _ui, main

REPO = Path(__file__).resolve().parents[2]


def test_the_app_is_found_without_importing_dashboard() -> None:
    assert _ui.app_path() == REPO / "dashboard" / "app.py"


def test_streamlit_runs_headless_without_usage_statistics() -> None:
    argv = _ui.command(Path("app.py"), "127.0.0.1", 8765)
    assert argv[0] == sys.executable and "streamlit.web.cli" in argv[2]
    assert argv[3:5] == ["run", "app.py"]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8765"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"


def test_missing_streamlit_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    real = importlib.util.find_spec

    def without_streamlit(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "streamlit" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_streamlit)
    assert main(["ui", "--store", sqlite_url, "--no-browser"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: the dashboard needs streamlit: pip install 'llmtrace[dashboard]'"


def test_an_unusable_store_fails_before_streamlit_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["ui", "--store", "nosuchdb://x", "--no-browser", "--port", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: unsupported store URL 'nosuchdb://x'")
    assert "dashboard on" not in err
