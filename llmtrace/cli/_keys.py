"""`llmtrace keys ...`: API keys of the server, managed on its database (never over HTTP)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from llmtrace.cli._common import format_table
from llmtrace.cli._server import database_url
from llmtrace.store import SqlStore
from llmtrace.store._keys import ApiKey


def register(commands: Any) -> None:
    """Add the `keys` command group."""
    keys = commands.add_parser(
        "keys",
        help="manage the server's API keys (on its database)",
        description="API keys for `llmtrace server --auth`. They are managed directly on the "
        "server's database: pass the same --store as the server.",
    )
    sub = keys.add_subparsers(dest="keys_command", metavar="COMMAND")
    sub.required = True

    create = sub.add_parser("create", help="create a key and print its secret (shown once)")
    create.add_argument("name", help="what the key is for (e.g. ci, dashboard, collector)")
    create.add_argument(
        "--read-only", action="store_true", help="the key may read but not write (default: both)"
    )
    create.set_defaults(handler=_create)

    listing = sub.add_parser("list", help="list the active keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_list)

    revoke = sub.add_parser("revoke", help="revoke a key (by id, or by name if unambiguous)")
    revoke.add_argument("key", metavar="KEY_ID", help="the key's id (or its name)")
    revoke.set_defaults(handler=_revoke)

    for command in (create, listing, revoke):
        command.add_argument(
            "--store",
            default=argparse.SUPPRESS,
            metavar="URL",
            help="database URL (same as the global --store)",
        )


def _open(args: argparse.Namespace) -> SqlStore:
    return SqlStore(database_url(args))


def _create(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        key, secret = store.create_api_key(args.name, scope="read" if args.read_only else "write")
    finally:
        store.close()
    kind = "read-only" if not key.can_write else "read-write"
    print(
        f"Created {kind} API key {key.key_id} ({key.name!r}). Its secret follows; it is shown "
        "this once and cannot be shown again, so store it now:",
        file=sys.stderr,
        flush=True,
    )
    # Alone on stdout, so that `SECRET=$(llmtrace keys create ci)` captures just the secret.
    print(secret, flush=True)
    return 0


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _as_json(key: ApiKey) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "key_id": key.key_id,
        "name": key.name,
        "scope": key.scope,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
    }


def _list(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        keys = store.list_api_keys(include_revoked=args.all)
    finally:
        store.close()
    if args.json:
        for key in keys:
            print(json.dumps(_as_json(key)))
        return 0
    if not keys:
        print("no API keys" if args.all else "no active API keys", file=sys.stderr)
        return 0
    header: tuple[str, ...] = ("KEY ID", "NAME", "SCOPE", "CREATED (UTC)", "LAST USED (UTC)")
    if args.all:
        header += ("REVOKED (UTC)",)
    rows: list[tuple[str, ...]] = []
    for k in keys:
        row = (k.key_id, k.name, k.scope, _when(k.created_at), _when(k.last_used_at))
        rows.append((*row, _when(k.revoked_at)) if args.all else row)
    print(format_table(header, rows))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        key = store.revoke_api_key(args.key)
    finally:
        store.close()
    print(
        f"revoked API key {key.key_id} ({key.name!r}); servers refuse it within their "
        "--auth-cache-seconds (5 s by default)"
    )
    return 0


__all__ = ["register"]
