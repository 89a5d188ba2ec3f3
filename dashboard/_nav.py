"""The dashboard's pages: one line each in `PAGES`, one file each in `dashboard/pages/`.

To add a page, write `dashboard/pages/<name>.py` (a script that renders the page; read the store
through `dashboard._store`) and add one `PageSpec` line below. `app.py` builds the navigation
from this list, grouped by `section` in the order sections first appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "pages"


@dataclass(frozen=True)
class PageSpec:
    """A page: its file under `dashboard/pages/`, title, icon, menu section and URL path.
    Hidden pages are reachable by URL and by links from other pages, not from the menu."""

    file: str
    title: str
    icon: str
    section: str
    url_path: str
    default: bool = False
    hidden: bool = False

    @property
    def path(self) -> Path:
        """The page's script."""
        return PAGES_DIR / self.file


PAGES: tuple[PageSpec, ...] = (
    PageSpec("traces.py", "Traces", ":material/list:", "Tracing", "traces", default=True),
    PageSpec("sessions.py", "Sessions", ":material/forum:", "Tracing", "sessions"),
    PageSpec("trace.py", "Trace", ":material/account_tree:", "Tracing", "trace", hidden=True),
    PageSpec("analytics.py", "Analytics", ":material/monitoring:", "Tracing", "analytics"),
    PageSpec("evaluations.py", "Evaluations", ":material/fact_check:", "Evaluate", "evaluations"),
    PageSpec("experiments.py", "Experiments", ":material/science:", "Track", "experiments"),
    PageSpec("models.py", "Models", ":material/inventory_2:", "Track", "models"),
)

# The trace detail page, which other pages link to (`?trace_id=...`).
TRACE_PAGE = next(p for p in PAGES if p.file == "trace.py")
SESSIONS_PAGE = next(p for p in PAGES if p.file == "sessions.py")


def trace_link(trace_id: str) -> str:
    """A URL, relative to the app, that opens a trace's detail page."""
    return f"{TRACE_PAGE.url_path}?trace_id={trace_id}"


def session_link(session_id: str) -> str:
    """A URL, relative to the app, that opens a session's conversation."""
    from urllib.parse import quote

    return f"{SESSIONS_PAGE.url_path}?session_id={quote(session_id, safe='')}"


__all__ = ["PAGES", "PAGES_DIR", "TRACE_PAGE", "PageSpec", "session_link", "trace_link"]
