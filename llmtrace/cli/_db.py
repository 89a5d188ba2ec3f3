"""`llmtrace db ...`: schema migrations."""

from __future__ import annotations

import argparse
from typing import Any

from llmtrace.cli._common import open_store, store_url
from llmtrace.store import migrate


def register(commands: Any) -> None:
    """Add the `db` command group."""
    db = commands.add_parser("db", help="manage the store's database schema")
    sub = db.add_subparsers(dest="db_command", metavar="COMMAND")
    sub.required = True
    up = sub.add_parser("upgrade", help="create or migrate the schema (default: to the newest)")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.add_argument(
        "--sql",
        action="store_true",
        help="print the SQL script instead of running it (for review by a DBA)",
    )
    up.set_defaults(handler=_upgrade)
    cur = sub.add_parser("current", help="print the schema revision of the store")
    cur.set_defaults(handler=_current)


def _upgrade(args: argparse.Namespace) -> int:
    if args.sql:
        print(migrate.upgrade_sql(store_url(args), args.revision))
        return 0
    store = open_store(args, migrate=False)
    try:
        migrate.upgrade(store.engine, args.revision)
        print(f"{store_url(args)}: at revision {migrate.current_revision(store.engine)}")
    finally:
        store.close()
    return 0


def _current(args: argparse.Namespace) -> int:
    store = open_store(args, migrate=False)
    try:
        current = migrate.current_revision(store.engine)
        head = migrate.head_revision()
        state = "up to date" if current == head else f"newest is {head}"
        print(f"{current or '(empty)'} ({state})")
    finally:
        store.close()
    return 0
