"""The dashboard against an llmtrace server (a `RestStore`): same pages, through HTTP only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.conftest import Seeded, seed
from tests.dashboard.test_browser import _free_port
from tests.dashboard.test_pages import App, no_exception, on_page


@pytest.fixture
def server(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    seeded = seed(migrated_sqlite_url)
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "llmtrace", "server", "--store", seeded.url, "--port", str(port),
         "--no-grpc"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LLMTRACE_API_KEY": ""},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert child.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
        yield url, seeded
    finally:
        child.terminate()
        child.wait(timeout=10)
        log.close()


def test_pages_work_against_a_server(server: tuple[str, Seeded], app: App) -> None:
    url, seeded = server
    at = no_exception(app(url).run())
    assert list(at.dataframe[0].value["trace_id"]) == [seeded.failing, seeded.chat2, seeded.chat]
    assert at.sidebar.code[0].value == url
    at.text_input(key="traces_filter").input("status = 'OK' and").run()
    assert "position 17" in no_exception(at).error[0].value  # the position survives HTTP
    at = on_page(at, "trace.py", trace_id=seeded.chat, span_id=f"{1:08x}{3:08x}")
    assert [m.name for m in at.chat_message] == ["system", "user", "assistant"]
    at.radio[0].set_value("👍 Good")
    at.form_submit_button[0].click().run()
    assert list(no_exception(at).dataframe[-1].value["value"]) == ["True"]
    at = on_page(at, "sessions.py", session_id="s-1")
    assert len(at.chat_message) == 4
