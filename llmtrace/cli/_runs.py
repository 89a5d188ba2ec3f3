"""`llmtrace runs ...`: list (search), show and compare experiment-tracking runs."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmtrace.cli._common import connect_store, format_table
from llmtrace.exceptions import InvalidQueryError, LlmtraceError, NotFoundError
from llmtrace.store import Experiment, Run, RunList, Store
from llmtrace.tracking import TrackingClient
from llmtrace.tracking._client import is_remote_store

_HEX = re.compile(r"[0-9a-fA-F]{1,32}")
_PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "tags": "tags",
    "tag": "tags",
}
_ATTRIBUTES = {
    "run_id": "run_id",
    "experiment_id": "experiment_id",
    "name": "name",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "duration": "duration_ms",
    "duration_ms": "duration_ms",
    "user_id": "user_id",
    "parent_run_id": "parent_run_id",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle_stage",
}
# Artifact entries listed by `runs show` (the rest is summarised).
MAX_ARTIFACTS = 200
# Traces counted per query when `runs show` counts a run's linked traces.
_TRACE_PAGE = 10_000


def register(commands: Any) -> None:
    """Add the `runs` command group."""
    runs = commands.add_parser("runs", help="list, show and compare experiment-tracking runs")
    sub = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    sub.required = True

    ls = sub.add_parser("list", help="search runs, newest first unless --order-by says")
    ls.add_argument(
        "--experiment",
        "-e",
        action="append",
        metavar="NAME_OR_ID",
        help="only runs of this experiment (repeatable; default: every experiment)",
    )
    ls.add_argument("--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.lr = '0.01'\"")
    ls.add_argument("--order-by", action="append", help="e.g. 'metrics.acc desc' (repeatable)")
    ls.add_argument("--limit", "-n", type=int, default=20, help="rows to show (default 20)")
    ls.add_argument("--page-token", help="continue from a previous page (same other options)")
    ls.add_argument(
        "--columns",
        "-c",
        action="append",
        help="extra columns, comma-separated: metrics.<k>, params.<k>, tags.<k> or attributes "
        "such as user_id (default: the metrics/params/tags of --order-by)",
    )
    ls.add_argument(
        "--view", choices=("active", "deleted", "all"), default="active", help="default: active"
    )
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.set_defaults(handler=_list)

    show = sub.add_parser("show", help="one run: info, params, metrics, tags, artifacts, traces")
    show.add_argument("run_id", help="run id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="print the run as JSON")
    show.set_defaults(handler=_show)

    cmp = sub.add_parser("compare", help="runs side by side: params (* = differs), metric deltas")
    cmp.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="two or more run ids")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cmp.set_defaults(handler=_compare)


# --- list -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    label: str
    kind: str  # "metrics", "params", "tags" or "info"
    key: str

    def cell(self, run: Run) -> str:
        if self.kind == "metrics":
            value = run.metrics.get(self.key)
            return "-" if value is None else num(value)
        if self.kind == "params":
            return _cut(run.params.get(self.key, "-"), 40)
        if self.kind == "tags":
            return _cut(run.tags.get(self.key, "-"), 40)
        return _info_cell(getattr(run.info, self.key))


def parse_columns(specs: Sequence[str]) -> list[_Column]:
    """Columns from `metrics.acc,params.lr,user_id` specs; InvalidQueryError for others."""
    columns: list[_Column] = []
    for spec in _split(",".join(specs)):
        prefix, _, key = spec.partition(".")
        key = key.strip("`")
        if prefix in _PREFIXES and key:
            column = _Column(f"{_PREFIXES[prefix]}.{key}", _PREFIXES[prefix], key)
        elif prefix in ("attributes", "attribute") and key in _ATTRIBUTES:
            column = _Column(key, "info", _ATTRIBUTES[key])
        elif spec in _ATTRIBUTES:
            column = _Column(spec, "info", _ATTRIBUTES[spec])
        else:
            raise InvalidQueryError(
                f"unknown column {spec!r}: use metrics.<key>, params.<key>, tags.<key> or one of "
                + ", ".join(sorted(_ATTRIBUTES))
            )
        if column not in columns:
            columns.append(column)
    return columns


def _order_columns(order_by: Sequence[str]) -> list[_Column]:
    """The metrics/params/tags keys that --order-by sorts on, as columns."""
    specs = []
    for item in _split(",".join(order_by)):
        spec = re.sub(r"\s+(asc|desc)$", "", item, flags=re.IGNORECASE).strip()
        if spec.partition(".")[0] in _PREFIXES:
            specs.append(spec)
    try:
        return parse_columns(specs)
    except InvalidQueryError:
        return []  # the store reports a bad --order-by with its position


def _split(text: str) -> list[str]:
    """Comma-separated items, commas inside backquotes kept."""
    return [p.strip() for p in re.findall(r"(?:`[^`]*`|[^,])+", text) if p.strip()]


def resolve_experiments(
    store: Store, refs: Sequence[str] | None, view: str = "active"
) -> list[Experiment]:
    """Experiments named by `refs` (names or ids); without refs, every experiment of `view`.

    NotFoundError names a ref that is neither.
    """
    known = store.list_experiments(view="all")
    if not refs:
        if view == "active":
            return [e for e in known if e.lifecycle_stage == "active"]
        return known  # runs of deleted experiments count as deleted runs
    by_name = {e.name: e for e in known}
    by_id = {e.experiment_id: e for e in known}
    found: list[Experiment] = []
    for ref in refs:
        exp = by_name.get(ref) or by_id.get(ref.lower())
        if exp is None:
            raise NotFoundError(f"experiment {ref!r} not found (by name or id)")
        if exp not in found:
            found.append(exp)
    return found


def _list(args: argparse.Namespace) -> int:
    order_by = args.order_by or []
    columns = parse_columns(args.columns) if args.columns else _order_columns(order_by)
    store = connect_store(args)
    try:
        experiments = resolve_experiments(store, args.experiment, args.view)
        page = RunList([], None)
        if experiments:
            page = store.search_runs(
                [e.experiment_id for e in experiments],
                args.filter,
                order_by=order_by,
                limit=args.limit,
                page_token=args.page_token,
                view=args.view,
            )
    finally:
        store.close()
    if args.json:
        for run in page:
            print(json.dumps(run.to_dict()))
    else:
        names = {e.experiment_id: e.name for e in experiments} if len(experiments) > 1 else None
        print(format_run_table(page, columns, names))
    if page.next_page_token:
        print(f"more: --page-token {page.next_page_token}", file=sys.stderr)
    return 0


def format_run_table(
    runs: Sequence[Run], columns: Sequence[_Column], experiments: dict[str, str] | None = None
) -> str:
    """A fixed-width table of runs; an EXPERIMENT column when `experiments` (id -> name) is
    given."""
    if not runs:
        return "no runs"
    header = ["RUN ID", "NAME", "STATUS", "START (UTC)", "DURATION"]
    if experiments is not None:
        header.insert(1, "EXPERIMENT")
    header += [c.label for c in columns]
    rows = []
    for run in runs:
        info = run.info
        row = [
            info.run_id,
            _cut(info.name, 32),
            info.status,
            info.start_time.strftime("%Y-%m-%d %H:%M:%S"),
            duration(info.duration_ms),
        ]
        if experiments is not None:
            row.insert(1, _cut(experiments.get(info.experiment_id, info.experiment_id), 24))
        rows.append(tuple(row + [c.cell(run) for c in columns]))
    return format_table(tuple(header), rows)


# --- show -------------------------------------------------------------------------------------


def resolve_run(store: Store, ref: str) -> Run:
    """The run with id `ref`, or the only run whose id starts with `ref` (any experiment)."""
    if not _HEX.fullmatch(ref):
        raise InvalidQueryError(f"{ref!r} is not a run id (32 hex digits, or a prefix)")
    ref = ref.lower()
    if len(ref) == 32:
        return store.get_run(ref)
    ids = [e.experiment_id for e in store.list_experiments(view="all")]
    matches = RunList()
    if ids:
        matches = store.search_runs(ids, f"run_id like '{ref}%'", limit=2, view="all")
    if not matches:
        raise NotFoundError(f"no run id starts with {ref!r}")
    if len(matches) > 1:
        raise InvalidQueryError(f"{ref!r} matches several runs; give more digits")
    return matches[0]


def _artifacts(store: Store, run: Run) -> tuple[list[dict[str, Any]], bool]:
    """Files under the run's artifact root, depth first (at most MAX_ARTIFACTS; the flag says
    whether there were more). With a server as the store, listed through the server."""
    client = TrackingClient(store=store)
    if is_remote_store(store):
        repo = client.artifact_repository(run.run_id)
    else:
        repo = client.repository_for(run.info.artifact_uri)
    files: list[dict[str, Any]] = []
    pending: list[str | None] = [None]
    while pending:
        path = pending.pop()
        for entry in reversed(repo.list_artifacts(path)):
            if entry.is_dir:
                pending.append(entry.path)
            elif len(files) == MAX_ARTIFACTS:
                return files, True
            else:
                files.append({"path": entry.path, "file_size": entry.file_size})
    return sorted(files, key=lambda f: str(f["path"])), False


def _trace_count(store: Store, run_id: str) -> int:
    count, token = 0, None
    while True:
        page = store.search_traces(f"run_id = '{run_id}'", limit=_TRACE_PAGE, page_token=token)
        count += len(page)
        token = page.next_page_token
        if not token:
            return count


def _show(args: argparse.Namespace) -> int:
    store = connect_store(args)
    try:
        run = resolve_run(store, args.run_id)
        experiment = store.get_experiment(run.info.experiment_id)
        traces = _trace_count(store, run.run_id)
        artifact_error = None
        try:
            artifacts, truncated = _artifacts(store, run)
        except LlmtraceError as exc:  # e.g. S3 unreachable or boto3 missing: say so, go on
            artifacts, truncated, artifact_error = [], False, str(exc)
    finally:
        store.close()
    if args.json:
        data = run.to_dict()
        data["experiment"] = experiment.to_dict()
        data["artifacts"] = None if artifact_error else artifacts
        data["artifacts_truncated"] = truncated
        if artifact_error:
            data["artifacts_error"] = artifact_error
        data["trace_count"] = traces
        print(json.dumps(data, indent=2))
        return 0
    info = run.info
    lines = [
        f"run {info.run_id}  {info.name}  {info.status}  {duration(info.duration_ms)}",
        f"  experiment={experiment.name} ({experiment.experiment_id})",
        f"  start={info.start_time.isoformat()}"
        + (f"  end={info.end_time.isoformat()}" if info.end_time else "")
        + (f"  user={info.user_id}" if info.user_id else "")
        + (f"  parent={info.parent_run_id}" if info.parent_run_id else "")
        + ("  (deleted)" if info.lifecycle_stage == "deleted" else ""),
        f"  artifact_uri={info.artifact_uri}",
    ]
    for title, values in (("params", run.params), ("metrics (latest)", run.metrics)):
        lines.append(f"{title}: {len(values)}" if not values else f"{title}:")
        width = max((len(k) for k in values), default=0)
        lines += [f"  {k.ljust(width)}  {_value(values[k])}" for k in sorted(values)]
    lines.append("tags: 0" if not run.tags else "tags:")
    lines += [f"  {k} = {_cut(run.tags[k], 200)}" for k in sorted(run.tags)]
    if artifact_error:
        lines.append(f"artifacts: could not be listed ({artifact_error})")
    else:
        more = f" (first {MAX_ARTIFACTS} shown)" if truncated else ""
        lines.append(f"artifacts: {len(artifacts)}{more}")
        lines += [f"  {a['path']}  {_size(a['file_size'])}" for a in artifacts]
    lines.append(f"traces: {traces}")
    if traces:
        lines.append(f"  llmtrace traces list --filter \"run_id = '{info.run_id}'\"")
    print("\n".join(lines))
    return 0


# --- compare ----------------------------------------------------------------------------------


def _compare(args: argparse.Namespace) -> int:
    if len(args.run_ids) < 2:
        raise InvalidQueryError("runs compare needs at least two run ids")
    store = connect_store(args)
    try:
        runs = [resolve_run(store, ref) for ref in args.run_ids]
        names = {e.experiment_id: e.name for e in store.list_experiments(view="all")}
    finally:
        store.close()
    params = _union(r.params for r in runs)
    metrics = _union(r.metrics for r in runs)
    tags = _union(r.tags for r in runs)
    if args.json:
        print(json.dumps(comparison(runs, params, metrics, tags), indent=2))
        return 0
    header = ("", *[f"{_cut(r.info.name, 24)} ({r.run_id[:8]})" for r in runs])
    rows: list[tuple[str, ...]] = [
        ("  run_id", *[r.run_id for r in runs]),
        ("  experiment", *[_cut(names.get(r.info.experiment_id, "?"), 24) for r in runs]),
        ("  status", *[r.info.status for r in runs]),
        ("  start (UTC)", *[r.info.start_time.strftime("%Y-%m-%d %H:%M:%S") for r in runs]),
        ("  duration", *[duration(r.info.duration_ms) for r in runs]),
    ]
    for title, keys, source in (("params", params, "params"), ("tags", tags, "tags")):
        rows.append((f"{title}:", *[""] * len(runs)))
        for key in keys:
            values = [getattr(r, source).get(key) for r in runs]
            mark = "*" if len(set(values)) > 1 else " "
            rows.append((f"{mark} {key}", *[_cut(v, 30) if v is not None else "-" for v in values]))
    rows.append(("metrics:", *[""] * len(runs)))
    for key in metrics:
        base = runs[0].metrics.get(key)
        cells = []
        for i, r in enumerate(runs):
            value = r.metrics.get(key)
            delta = None if i == 0 else _delta(base, value)
            cell = "-" if value is None else num(value)
            cells.append(cell if delta is None else f"{cell} ({num(delta, signed=True)})")
        rows.append((f"  {key}", *cells))
    print(format_table(header, rows))
    print("\n* = differs between the runs; (+/-x) = change against the first run")
    return 0


def comparison(
    runs: Sequence[Run], params: list[str], metrics: list[str], tags: list[str]
) -> dict[str, Any]:
    """The JSON form of `runs compare`: values per key in run order, `differs` flags and metric
    deltas against the first run (None where either value is missing or not finite)."""
    out: dict[str, Any] = {"runs": [r.to_dict() for r in runs]}
    for section, keys in (("params", params), ("tags", tags)):
        table = {}
        for key in keys:
            values = [getattr(r, section).get(key) for r in runs]
            table[key] = {"values": values, "differs": len(set(values)) > 1}
        out[section] = table
    metric_table = {}
    for key in metrics:
        values = [r.metrics.get(key) for r in runs]
        metric_table[key] = {
            "values": [None if v is None else _json_number(v) for v in values],
            "deltas": [None, *[_delta(values[0], v) for v in values[1:]]],
        }
    out["metrics"] = metric_table
    return out


def _union(dicts: Any) -> list[str]:
    keys: set[str] = set()
    for d in dicts:
        keys.update(d)
    return sorted(keys)


def _delta(base: float | None, value: float | None) -> float | None:
    if base is None or value is None or not math.isfinite(base) or not math.isfinite(value):
        return None
    return value - base


# --- formatting -------------------------------------------------------------------------------


def num(value: float, *, signed: bool = False) -> str:
    """A metric value for a table: 6 significant digits; NaN and +/-inf spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def _json_number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _value(value: float | str) -> str:
    # Metrics are shown exactly (repr is the shortest round-trip form), params as text.
    if isinstance(value, float):
        return num(value) if not math.isfinite(value) else repr(value)
    return _cut(value, 200)


def duration(ms: float | None) -> str:
    """Run duration: "-" while running, else 12.3ms / 4.56s / 7m05s / 2h03m."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.1f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _info_cell(value: Any) -> str:
    if value is None:
        return "-"
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, float):
        return f"{value:.6g}"
    return _cut(str(value), 40)


def _size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def _cut(text: str, n: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = [
    "MAX_ARTIFACTS",
    "comparison",
    "duration",
    "format_run_table",
    "num",
    "parse_columns",
    "register",
    "resolve_experiments",
    "resolve_run",
]
