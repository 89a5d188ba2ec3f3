"""`llmtrace traces ...`: list, show and delete stored traces, in a database or on an llmtrace
server (`--store http://host:port`)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import timedelta
from typing import Any

from llmtrace.cli._common import connect_store, usd
from llmtrace.exceptions import InvalidQueryError, NotFoundError
from llmtrace.store import Store, Trace, TraceList

_AGE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(commands: Any) -> None:
    """Add the `traces` command group."""
    traces = commands.add_parser("traces", help="list, show and delete traces")
    sub = traces.add_subparsers(dest="traces_command", metavar="COMMAND")
    sub.required = True

    ls = sub.add_parser("list", help="list traces, newest first")
    ls.add_argument("--filter", "-f", help="filter, e.g. \"status = 'ERROR' and latency_ms > 500\"")
    ls.add_argument("--order-by", action="append", help="e.g. 'latency_ms desc' (repeatable)")
    ls.add_argument("--limit", "-n", type=int, default=20, help="rows to show (default 20)")
    ls.add_argument("--project", help="only this project")
    ls.add_argument("--page-token", help="continue from a previous page")
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.set_defaults(handler=_list)

    show = sub.add_parser("show", help="show one trace as an indented span tree")
    show.add_argument("trace_id", help="trace id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="print the trace as JSON")
    show.set_defaults(handler=_show)

    rm = sub.add_parser("delete", help="delete traces by age and/or filter")
    rm.add_argument("--older-than", help="age such as 30d, 12h, 90m")
    rm.add_argument("--filter", "-f", help="filter selecting traces to delete")
    rm.add_argument("--project", help="only this project")
    rm.set_defaults(handler=_delete)


def _list(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        page = store.search_traces(
            args.filter,
            order_by=args.order_by,
            limit=args.limit,
            page_token=args.page_token,
            project=args.project,
        )
    finally:
        store.close()
    if args.json:
        for info in page.to_dict():
            print(json.dumps(info))
    else:
        print(format_trace_table(page))
    if page.next_page_token:
        print(f"more: --page-token {page.next_page_token}", file=sys.stderr)
    return 0


def format_trace_table(page: TraceList) -> str:
    """A fixed-width table of traces."""
    header = ("TRACE ID", "START (UTC)", "NAME", "STATUS", "LATENCY", "SPANS", "TOKENS", "COST")
    rows = [
        (
            t.trace_id,
            t.start_time.strftime("%Y-%m-%d %H:%M:%S"),
            _cut(t.name or "(no root)", 32),
            t.status,
            _ms(t.duration_ms),
            str(t.span_count),
            str(t.total_tokens),
            usd(t.cost),
        )
        for t in page
    ]
    if not rows:
        return "no traces"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        trace = store.get_trace(_resolve(store, args.trace_id))
    finally:
        store.close()
    if args.json:
        print(json.dumps(trace.to_dict(), indent=2, default=str))
    else:
        print(format_trace_tree(trace))
    return 0


def _resolve(store: Store, prefix: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{1,32}", prefix):
        raise InvalidQueryError(f"{prefix!r} is not a trace id (32 hex digits, or a prefix)")
    if len(prefix) == 32:
        return prefix.lower()
    matches = store.search_traces(f"trace_id like '{prefix.lower()}%'", limit=2)
    if not matches:
        raise NotFoundError(f"no trace id starts with {prefix!r}")
    if len(matches) > 1:
        raise InvalidQueryError(f"{prefix!r} matches several traces; give more digits")
    return matches[0].trace_id


def format_trace_tree(trace: Trace) -> str:
    """Trace header and an indented span tree with latency, tokens and status."""
    info = trace.info
    lines = [
        f"trace {info.trace_id}  {info.name or '(no root)'}  {info.status}  "
        f"{_ms(info.duration_ms)}  spans={info.span_count}  tokens={info.total_tokens}"
        + ("" if info.cost is None else f"  cost={usd(info.cost)}"),
        f"  project={info.project}  start={info.start_time.isoformat()}"
        + (f"  session={info.session_id}" if info.session_id else "")
        + (f"  user={info.user_id}" if info.user_id else ""),
    ]
    if info.tags:
        lines.append("  tags: " + ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items())))
    if info.metadata:
        meta = ", ".join(f"{k}={v}" for k, v in sorted(info.metadata.items()))
        lines.append("  metadata: " + meta)
    for depth, span in trace.walk():
        tokens = ""
        if span.input_tokens is not None or span.output_tokens is not None:
            tokens = f"  tokens={span.input_tokens or 0}+{span.output_tokens or 0}"
        model = f"  model={span.model}" if span.model else ""
        cost = ""
        if span.cost is not None:
            cost = f"  cost={usd(span.cost)}"
        elif tokens and span.model:
            cost = "  cost=unknown"
        if span.attributes.get("llmtrace.usage.aggregate") is False:
            cost += " (counted in a nested span)"
        status = "" if span.status != "ERROR" else f"  ERROR: {span.status_message or ''}"
        lines.append(
            f"{'  ' * (depth + 1)}- {span.name} [{span.span_type}]  {_ms(span.duration_ms)}"
            f"{model}{tokens}{cost}{status}"
        )
    return "\n".join(lines)


def _delete(args: argparse.Namespace) -> int:
    older: timedelta | None = None
    if args.older_than:
        m = _AGE.match(args.older_than.strip())
        if not m:
            raise InvalidQueryError(f"--older-than {args.older_than!r}: use e.g. 30d, 12h, 90m")
        older = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    store = connect_store(args)
    try:
        n = store.delete_traces(older_than=older, filter=args.filter, project=args.project)
    finally:
        store.close()
    print(f"deleted {n} trace(s)")
    return 0


def _ms(value: float) -> str:
    return f"{value:.1f}ms" if value < 1000 else f"{value / 1000:.2f}s"


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
