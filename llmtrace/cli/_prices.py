"""`llmtrace prices ...`: the price table, models without a price, usage per model."""

from __future__ import annotations

import argparse
import json
from typing import Any

from llmtrace import pricing
from llmtrace.cli._common import connect_store, format_table, usd


def register(commands: Any) -> None:
    """Add the `prices` command group."""
    prices = commands.add_parser("prices", help="model prices, unpriced models, usage per model")
    sub = prices.add_subparsers(dest="prices_command", metavar="COMMAND")
    sub.required = True

    ls = sub.add_parser("list", help="the price table (shipped + $LLMTRACE_PRICES), USD/1M tokens")
    ls.add_argument("--model", help="only models whose name contains this text")
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.set_defaults(handler=_list)

    missing = sub.add_parser(
        "missing", help="stored models with token usage but no price (their cost is unknown)"
    )
    missing.add_argument("--project", help="only this project")
    missing.add_argument("--json", action="store_true", help="print JSON lines")
    missing.set_defaults(handler=_missing)

    usage = sub.add_parser("usage", help="calls, tokens and cost per model in the store")
    usage.add_argument("--project", help="only this project")
    usage.add_argument("--json", action="store_true", help="print JSON lines")
    usage.set_defaults(handler=_usage)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _list(args: argparse.Namespace) -> int:
    rows = [
        p for p in pricing.list_prices() if not args.model or args.model.lower() in p.model.lower()
    ]
    if args.json:
        for p in rows:
            print(json.dumps(p.to_dict()))
        return 0
    if not rows:
        print("no prices match")
        return 0
    header = ("MODEL", "VALID FROM", "INPUT", "CACHED INPUT", "CACHE WRITE", "OUTPUT", "REASONING")
    print(
        format_table(
            header,
            [
                (
                    p.model,
                    "always" if p.valid_from.year == 1 else p.valid_from.isoformat(),
                    _num(p.input),
                    _num(p.cached_input),
                    _num(p.cache_write),
                    _num(p.output),
                    _num(p.reasoning),
                )
                for p in rows
            ],
        )
    )
    return 0


def _usage_rows(args: argparse.Namespace, *, only_missing: bool) -> int:
    store = connect_store(args)
    try:
        usage = store.model_usage(project=args.project)
    finally:
        store.close()
    if only_missing:
        usage = [u for u in usage if u.unpriced_calls]
    if args.json:
        for u in usage:
            print(json.dumps(u.to_dict()))
        return 0
    if not usage:
        print("every stored model call has a price" if only_missing else "no model calls stored")
        return 0
    header = ("MODEL", "CALLS", "UNPRICED CALLS", "INPUT TOKENS", "OUTPUT TOKENS", "COST")
    print(
        format_table(
            header,
            [
                (
                    u.model,
                    str(u.calls),
                    str(u.unpriced_calls),
                    str(u.input_tokens),
                    str(u.output_tokens),
                    usd(u.cost),
                )
                for u in usage
            ],
        )
    )
    if only_missing:
        print(
            "\nadd a price: llmtrace.set_price(MODEL, input=..., output=...) in code, or a JSON "
            "file in $LLMTRACE_PRICES (see `llmtrace prices list --json` for the format)"
        )
    return 0


def _missing(args: argparse.Namespace) -> int:
    return _usage_rows(args, only_missing=True)


def _usage(args: argparse.Namespace) -> int:
    return _usage_rows(args, only_missing=False)
