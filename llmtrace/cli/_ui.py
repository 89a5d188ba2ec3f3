"""`llmtrace ui`: run the Streamlit dashboard (the `dashboard` package) over a store.

llmtrace never imports `dashboard` (DESIGN.md layering): the app is located on disk with
`importlib.util.find_spec` and run by `streamlit run` in a child process, which receives the
store URL through `$LLMTRACE_DASHBOARD_STORE`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser
from pathlib import Path
from typing import Any

from llmtrace.cli._common import store_url
from llmtrace.exceptions import ConfigError

STORE_ENV = "LLMTRACE_DASHBOARD_STORE"
DEFAULT_PORT = 8501
STOP_TIMEOUT_S = 10
_INSTALL = "pip install 'llmtrace[dashboard]'"


def register(commands: Any) -> None:
    """Add the `ui` command."""
    p = commands.add_parser(
        "ui",
        help="open the dashboard (Streamlit) over the store",
        description=(
            "Run the llmtrace dashboard: traces, sessions, analytics, evaluations, experiments, "
            "models and prompts. It reads the store "
            f"through its API, so a database URL and a server URL both work. Needs {_INSTALL}."
        ),
    )
    p.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="database URL or llmtrace server URL (http://host:port); same as the global --store",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on (default 127.0.0.1)",
    )
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, metavar="N", help="port (default 8501)"
    )
    p.add_argument(
        "--no-browser", action="store_true", help="do not open a browser tab on the dashboard"
    )
    p.set_defaults(handler=_ui)


def app_path() -> Path:
    """The dashboard's entry script; ConfigError when the package or streamlit is missing."""
    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError(f"the dashboard needs streamlit: {_INSTALL}")
    spec = importlib.util.find_spec("dashboard")
    if spec is None or spec.origin is None:
        raise ConfigError(f"the dashboard package is not installed: {_INSTALL}")
    path = Path(spec.origin).resolve().parent / "app.py"
    if not path.is_file():
        raise ConfigError(f"the dashboard package has no app.py at {path}: reinstall llmtrace")
    return path


# Streamlit treats a `pages/` folder beside the entry script as a legacy (v1) multipage app
# until some session has called `st.navigation`: a deep link (/trace?trace_id=...) as the first
# request after start would run that page alone, without app.py. The dashboard builds its
# navigation with `st.navigation` only, so the legacy mode is turned off before the server starts
# (a no-op if a future streamlit drops the flag); then streamlit's own CLI runs as usual.
_LAUNCH = """
import sys
try:
    from streamlit.runtime.pages_manager import PagesManager
    PagesManager.uses_pages_directory = False
except ImportError:
    pass
from streamlit.web.cli import main
sys.argv[0] = "streamlit"
main(prog_name="streamlit")
"""


def command(app: Path, host: str, port: int) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watching."""
    return [
        sys.executable,
        "-c",
        _LAUNCH,
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def _check_store(url: str) -> None:
    # Opened once here: a bad URL or an unreachable store is one error line, not a broken page;
    # a new database file is created and migrated before the app starts.
    from llmtrace.store import open_store

    store = open_store(url)
    try:
        store.search_traces(limit=1)
    finally:
        store.close()


def _open_browser_when_up(url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                webbrowser.open(url)
                return
        except OSError:
            time.sleep(0.25)


def _ui(args: argparse.Namespace) -> int:
    app = app_path()
    url = store_url(args)
    _check_store(url)
    env = {**os.environ, STORE_ENV: url}
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    address = f"http://{shown_host}:{args.port}"
    print(f"llmtrace dashboard on {address} (Ctrl-C to stop)", file=sys.stderr)
    child = subprocess.Popen(command(app, args.host, args.port), env=env)
    if not args.no_browser:
        threading.Thread(target=_open_browser_when_up, args=(address, child), daemon=True).start()
    return _supervise(child)


def _supervise(child: subprocess.Popen[bytes]) -> int:
    """Wait for streamlit; a SIGTERM or Ctrl-C sent to `llmtrace ui` stops it too, so that no
    server outlives the command."""

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)  # a terminal sent it to both; `kill -INT` only to us
            try:
                return child.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["STORE_ENV", "app_path", "command", "register"]
