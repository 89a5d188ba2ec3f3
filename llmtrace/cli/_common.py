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
