"""Helpers shared by CLI commands."""

from __future__ import annotations

import argparse

from llmtrace._config import Settings
from llmtrace.store import SqlStore


def store_url(args: argparse.Namespace) -> str:
    """The store URL from --store, else the environment, else the default file."""
    url: str = Settings.from_env(store=args.store).store_url()
    return url


def open_store(args: argparse.Namespace, *, migrate: bool = True) -> SqlStore:
    """Open the store named by the command line."""
    return SqlStore(store_url(args), migrate=migrate)


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
