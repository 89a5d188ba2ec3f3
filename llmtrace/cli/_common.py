"""Helpers shared by CLI commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from llmtrace._config import Settings
from llmtrace.exceptions import ConfigError
from llmtrace.store import SqlStore, Store
from llmtrace.store import open_store as _open_any


def store_url(args: argparse.Namespace) -> str:
    """The store URL from --store, else the environment, else the default file."""
    url: str = Settings.from_env(store=args.store).store_url()
    return url


def is_server_url(url: str) -> bool:
    """True for the http(s) URL of an llmtrace server (rather than a database URL)."""
    return url.startswith(("http://", "https://"))


def open_store(args: argparse.Namespace, *, migrate: bool = True) -> SqlStore:
    """Open the database named by the command line, for commands that need SQL itself
    (migrations); see `connect_store` for everything else."""
    url = store_url(args)
    if is_server_url(url):
        raise ConfigError(
            f"this command works on a database, not on an llmtrace server ({url}): "
            "give --store a database URL"
        )
    return SqlStore(url, migrate=migrate)


def connect_store(args: argparse.Namespace) -> Store:
    """The store named by the command line: a `RestStore` for an llmtrace server URL
    (API key from $LLMTRACE_API_KEY), else a `SqlStore` on the database URL."""
    return _open_any(store_url(args))


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Fixed-width columns, left-aligned, header first."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
        for r in [header, *rows]
    )


def usd(value: float | None) -> str:
    """A cost for display: "-" when unknown, more digits for fractions of a cent."""
    if value is None:
        return "-"
    return f"${value:.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def all_pages(fetch: Callable[[str | None], Any]) -> list[Any]:
    """Every item of a paged search: `fetch(page_token)` returns a page (an iterable with
    `next_page_token`), called until the last page."""
    found: list[Any] = []
    token: str | None = None
    while True:
        page = fetch(token)
        found += list(page)
        token = page.next_page_token
        if not token:
            return found
