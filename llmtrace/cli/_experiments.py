"""`llmtrace experiments ...`: the experiments of the tracking store."""

from __future__ import annotations

import argparse
import json
from typing import Any

from llmtrace.cli._common import connect_store, format_table
from llmtrace.store import Experiment


def register(commands: Any) -> None:
    """Add the `experiments` command group."""
    experiments = commands.add_parser("experiments", help="list experiment-tracking experiments")
    sub = experiments.add_subparsers(dest="experiments_command", metavar="COMMAND")
    sub.required = True

    ls = sub.add_parser("list", help="experiments, oldest first")
    ls.add_argument(
        "--view", choices=("active", "deleted", "all"), default="active", help="default: active"
    )
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.set_defaults(handler=_list)


def _list(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        experiments = store.list_experiments(view=args.view)
    finally:
        store.close()
    if args.json:
        for exp in experiments:
            print(json.dumps(exp.to_dict()))
    else:
        print(format_experiment_table(experiments))
    return 0


def format_experiment_table(experiments: list[Experiment]) -> str:
    """A fixed-width table of experiments."""
    if not experiments:
        return "no experiments"
    header = ("EXPERIMENT ID", "NAME", "STAGE", "CREATED (UTC)", "TAGS", "ARTIFACT LOCATION")
    rows: list[tuple[str, ...]] = [
        (
            e.experiment_id,
            e.name,
            e.lifecycle_stage,
            e.created_at.strftime("%Y-%m-%d %H:%M:%S") if e.created_at else "-",
            _cut(", ".join(f"{k}={v}" for k, v in sorted(e.tags.items())) or "-", 40),
            e.artifact_location,
        )
        for e in experiments
    ]
    return format_table(header, rows)


def _cut(text: str, n: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["format_experiment_table", "register"]
