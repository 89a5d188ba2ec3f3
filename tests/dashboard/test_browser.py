"""End to end: `llmtrace ui` as a subprocess, opened in headless Chromium (Debian's `chromium`
and `chromium-driver`, driven by selenium). Skipped only when Chromium is missing and CI is not
"true"; with CI=true a missing browser fails the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.conftest import Seeded, seed

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
STARTUP_S = 30
# Set to a folder to keep the screenshots after the run (e.g. `test-artifacts`).
ARTIFACTS_ENV = "LLMTRACE_TEST_ARTIFACTS"


def _require_chromium() -> tuple[str, str]:
    if CHROMIUM and CHROMEDRIVER:
        return CHROMIUM, CHROMEDRIVER
    reason = (
        "headless Chromium is not installed "
        "(apt-get install -y --no-install-recommends chromium chromium-driver)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; failing rather than skipping because CI=true", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def dashboard(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    """`llmtrace ui` over a seeded store; yields its URL."""
    seeded = seed(migrated_sqlite_url)
    port = _free_port()
    log = (tmp_path / "ui.log").open("wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "llmtrace", "ui", "--store", seeded.url, "--host", "127.0.0.1",
         "--port", str(port), "--no-browser"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert child.poll() is None, (tmp_path / "ui.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llmtrace ui did not start:\n{(tmp_path / 'ui.log').read_text()}")
                time.sleep(0.2)
        yield url, seeded
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()
    # `llmtrace ui` passed the SIGTERM on: no streamlit server outlives it.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "streamlit still listens"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    chromium, chromedriver = _require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1600,1200",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(arg)  # fmt: skip
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver: object, css: str, *texts: str, timeout: float = 20) -> str:
    """The text content of the elements matching `css` once it holds every one of `texts`
    (tables are drawn on a canvas; their accessible copy is in the text content)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        elements = driver.find_elements(By.CSS_SELECTOR, css)  # type: ignore[attr-defined]
        content = "\n".join(e.get_attribute("textContent") or "" for e in elements)
        if all(t in content for t in texts):
            return content
        time.sleep(0.25)
    raise AssertionError(f"{texts!r} never appeared in {css}; it holds:\n{content}")


def _screenshot(driver: object, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    assert driver.save_screenshot(str(path)), "no screenshot"  # type: ignore[attr-defined]
    keep = os.environ.get(ARTIFACTS_ENV)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)
    return path


def test_dashboard_in_chromium(
    dashboard: tuple[str, Seeded], browser: object, tmp_path: Path
) -> None:
    url, seeded = dashboard
    driver = browser
    # A deep link first: the trace page must work as the first page a browser opens.
    driver.get(f"{url}/trace?trace_id={seeded.chat}")  # type: ignore[attr-defined]
    tree = _wait_for(driver, '[data-testid="stDataFrame"]', "answer", "retrieve", "chat gpt-test")
    assert tree.index("answer") < tree.index("retrieve") < tree.index("chat gpt-test")
    page = _wait_for(driver, '[data-testid="stMain"]', "Timeline", "session s-1", "Assessments")
    assert "CHAIN" in page
    # The app's own navigation and sidebar, not streamlit's legacy `pages/` listing.
    _wait_for(driver, '[data-testid="stSidebar"]', "Tracing", "Sessions", "Store", "test.db")
    _wait_for(driver, '[data-testid="stVegaLiteChart"]', "ms since trace start")
    _screenshot(driver, tmp_path, "dashboard-trace.png")

    driver.get(url)  # type: ignore[attr-defined]
    table = _wait_for(driver, '[data-testid="stDataFrame"]', "failing", "answer", seeded.failing)
    assert table.count("answer") == 2 and "What is the refund policy?" in table
    sidebar = _wait_for(driver, '[data-testid="stSidebar"]', "Traces", "Sessions", "Store")
    assert "test.db" in sidebar
    shot = _screenshot(driver, tmp_path, "dashboard-traces.png")
    assert shot.stat().st_size > 10_000
