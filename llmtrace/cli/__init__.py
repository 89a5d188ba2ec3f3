"""The `llmtrace` command line: thin handlers over library functions.

User mistakes (bad filter, unknown trace id, unreachable database) print one `error:` line and
exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from llmtrace._version import __version__
from llmtrace.cli import (
    _db,
    _demo,
    _experiments,
    _keys,
    _models,
    _prices,
    _prompts,
    _runs,
    _server,
    _traces,
    _ui,
)
from llmtrace.exceptions import InvalidStateError, LlmtraceError, NotFoundError

EXIT_USAGE = 2
EXIT_FAILURE = 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command group."""
    parser = argparse.ArgumentParser(
        prog="llmtrace",
        description="Trace, search and inspect LLM application runs.",
    )
    parser.add_argument("--version", action="version", version=f"llmtrace {__version__}")
    parser.add_argument(
        "--store",
        help="store: a database URL (SQLAlchemy) or an llmtrace server URL (http://host:port, "
        "key from $LLMTRACE_API_KEY); default: $LLMTRACE_STORE or ~/.llmtrace/llmtrace.db",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _db.register(commands)
    _traces.register(commands)
    _demo.register(commands)
    _prices.register(commands)
    _runs.register(commands)
    _experiments.register(commands)
    _server.register(commands)
    _keys.register(commands)
    _models.register(commands)
    _prompts.register(commands)
    _ui.register(commands)
    _register_plugins(commands)
    return parser


PLUGIN_GROUP = "llmtrace.cli"


def _register_plugins(commands: Any) -> None:
    """Command groups of other packages (entry points in group `llmtrace.cli`, each a
    `register(commands)` function): how `llmtrace eval` comes from the `evaluators` package
    without llmtrace importing it. A plugin that fails to load is reported, never fatal."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            entry.load()(commands)
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            logging.getLogger("llmtrace").warning(
                "CLI plugin %s (%s) failed to load: %s", entry.name, entry.value, exc
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.handler(args)
        return code
    except (NotFoundError, InvalidStateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except LlmtraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"error: the store failed: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


__all__ = ["build_parser", "main"]
