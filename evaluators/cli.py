"""`llmtrace eval ...`: run evaluation suites, show and compare stored evaluations.

Registered through the `llmtrace.cli` entry point: the llmtrace CLI hands its argparse
subparsers to `register`, which adds the `eval` group. Exit codes of `eval run`: 0 when every
threshold holds and nothing regressed, 1 when a threshold failed or a metric regressed
significantly against the baseline, 2 for a bad suite file or bad usage.

Example:
    $ llmtrace eval run evals/qa.yaml
    $ llmtrace --store sqlite:///ci.db eval run evals/qa.yaml --limit 50 --json
    $ llmtrace eval show 3f2a...
    $ llmtrace eval compare BASELINE_RUN CANDIDATE_RUN
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def register(commands: Any) -> None:
    """Add the `eval` command group to the llmtrace CLI (`commands` is its argparse
    subparsers object)."""
    group = commands.add_parser("eval", help="run evaluation suites, show and compare results")
    sub = group.add_subparsers(dest="eval_command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser(
        "run",
        help="run a suite file; exit 1 when a threshold fails or a metric regresses",
        description="Evaluate a suite (YAML) and print its summary. Exit codes: 0 passed, "
        "1 a threshold failed or a significant regression against the baseline, 2 a bad "
        "suite file.",
    )
    run.add_argument("suite", metavar="SUITE.yaml", help="the suite file")
    run.add_argument("--judge", help="judge model for judge scorers (overrides the suite's)")
    run.add_argument("--limit", type=_positive, help="evaluate only the first N rows")
    run.add_argument("--baseline", help="run id to compare with, or 'latest' (overrides)")
    run.add_argument("--json", action="store_true", help="print the outcome as JSON")
    run.set_defaults(handler=_run)

    show = sub.add_parser("show", help="summary of a stored evaluation run")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--json", action="store_true", help="print the stored metrics as JSON")
    show.set_defaults(handler=_show)

    cmp = sub.add_parser("compare", help="compare two evaluation runs (A the baseline)")
    cmp.add_argument("run_a", metavar="RUN_A")
    cmp.add_argument("run_b", metavar="RUN_B")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cmp.set_defaults(handler=_compare)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _configure(args: argparse.Namespace) -> None:
    """Point llmtrace at the global `--store` when given (else its settings stand)."""
    store = getattr(args, "store", None)
    if store:
        import llmtrace

        llmtrace.configure(store=store)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from evaluators._suite import SuiteError, dumps, load_suite, run_suite

    try:
        suite = load_suite(args.suite)
    except SuiteError as exc:
        return _error(str(exc))
    _configure(args)
    try:
        outcome = run_suite(suite, judge=args.judge, limit=args.limit, baseline=args.baseline)
    except SuiteError as exc:
        return _error(str(exc))
    except (ValueError, TypeError, ImportError) as exc:
        # Bad configuration found while starting (judge model string, scorer parameters).
        return _error(f"{suite.path}: {exc}")
    if args.json:
        print(dumps(outcome.to_dict()))
    else:
        print(outcome.summary())
    return EXIT_OK if outcome.passed else EXIT_FAILED


def _show(args: argparse.Namespace) -> int:
    from evaluators._results import load_results
    from evaluators._suite import dumps, format_result

    _configure(args)
    try:
        result = load_results(args.run_id)
    except FileNotFoundError:
        return _error(f"run {args.run_id} holds no evaluation results")
    if args.json:
        data = {
            "run_id": result.run_id,
            "passed": result.passed,
            "thresholds": result.thresholds,
            "metrics": result.metrics,
        }
        print(dumps(data))
    else:
        print(format_result(result))
    return EXIT_OK if result.passed else EXIT_FAILED


def _compare(args: argparse.Namespace) -> int:
    from evaluators._suite import dumps

    try:
        compare = importlib.import_module("evaluators").compare
    except AttributeError:
        return _error("comparing runs needs evaluators.compare, which this build lacks")
    _configure(args)
    try:
        cmp = compare(args.run_a, args.run_b)
    except FileNotFoundError:
        return _error(f"runs {args.run_a} and {args.run_b} must both hold evaluation results")
    if args.json:
        print(dumps(cmp.to_pandas().to_dict(orient="records")))
    else:
        print(cmp)
    return EXIT_FAILED if cmp.regressions else EXIT_OK


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "register"]
