"""`llmtrace runs list/show/compare` and `llmtrace experiments list`, in-process on SQLite.

One store per test, filled through `TrackingClient` with fixed start and end times (so the
tables are exact), plus two traces linked to a run through `trace_defaults(run_id=...)`.
User mistakes end with one `error:` line (exit 2; unknown ids exit 1), never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import llmtrace
from llmtrace._config import Settings
from llmtrace.cli import main
from llmtrace.context import trace_defaults
from llmtrace.store import Metric
from llmtrace.tracing import _runtime
from llmtrace.tracking import TrackingClient

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
_SETTINGS_ENV = sorted(
    f.metadata["env"] for f in dataclasses.fields(Settings) if f.metadata.get("env")
)


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


Cli = Callable[..., Result]


@dataclasses.dataclass
class Seeded:
    """Ids of what `seeded` stored."""

    url: str
    rag: str
    other: str
    old: str
    base: str
    better: str
    odd: str
    solo: str
    gone: str
    artifact_root: Path


@pytest.fixture(autouse=True)
def isolated_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No LLMTRACE_* settings from outside, a temporary home, and no runtime left behind."""
    for var in _SETTINGS_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LLMTRACE_HOME", str(tmp_path / "llmtrace-home"))
    yield
    llmtrace.shutdown()
    _runtime.reset()


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    """Experiments rag (runs base, better, odd), other (solo) and deleted old (gone)."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    root = tmp_path / "artifacts"
    client = TrackingClient(url, artifact_root=root)
    rag = client.create_experiment("rag", tags={"team": "search"})

    def run(exp: str, name: str, minute: int, end_ms: float | None) -> str:
        run_id = client.create_run(exp, name=name, start_time=T0 + timedelta(minutes=minute)).run_id
        if end_ms is not None:
            end = T0 + timedelta(minutes=minute, milliseconds=end_ms)
            client.set_terminated(run_id, end_time=end)
        return run_id

    base = run(rag, "base", 0, None)
    client.log_batch(
        base,
        metrics=[Metric("acc", 0.5, 0), Metric("acc", 0.9, 1), Metric("loss", 0.3, 1)],
        params={"lr": "0.01", "bs": 32},
        tags={"stage": "dev"},
    )
    client.log_text(base, "hello", "notes/readme.txt")
    client.set_terminated(base, end_time=T0 + timedelta(seconds=90))
    better = run(rag, "better", 1, None)
    client.log_batch(
        better,
        metrics=[Metric("acc", 0.95, 1), Metric("loss", 0.2, 1)],
        params={"lr": "0.02", "bs": 32},
        tags={"stage": "prod"},
    )
    client.set_terminated(better, end_time=T0 + timedelta(minutes=1, milliseconds=2500))
    odd = run(rag, "odd", 2, None)
    client.log_batch(odd, metrics=[Metric("acc", float("nan"))], params={"lr": "0.01"})
    other = client.create_experiment("other")
    solo = run(other, "solo", 3, 12.5)
    client.log_metric(solo, "acc", 0.99)
    old = client.create_experiment("old")
    gone = run(old, "gone", 4, None)
    client.delete_experiment(old)

    llmtrace.configure(store=url)

    @llmtrace.trace
    def answer(question: str) -> str:
        return question.upper()

    with trace_defaults(run_id=base):
        answer("one")
        answer("two")
    answer("unlinked")
    llmtrace.flush()
    return Seeded(url, rag, other, old, base, better, odd, solo, gone, root)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Result:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help, usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> Cli:
    def run(*args: str) -> Result:
        return _run(capsys, ["--store", seeded.url, *args])

    return run


def _clean_error(result: Result, code: int, *needles: str) -> str:
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    errors = result.error_lines()
    assert len(errors) == 1, result.err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# --- runs list --------------------------------------------------------------------------------


def test_list_filter_order_and_columns(cli: Cli, seeded: Seeded) -> None:
    result = cli(
        "runs", "list", "-e", "rag", "--order-by", "metrics.acc desc",
        "--columns", "metrics.acc,params.lr",
    )  # fmt: skip
    assert result.code == 0, result.err
    s = seeded
    assert result.out.splitlines() == [
        "RUN ID                            NAME    STATUS    START (UTC)          DURATION"
        "  metrics.acc  params.lr",
        f"{s.better}  better  FINISHED  2025-06-01 12:01:00  2.50s     0.95         0.02",
        f"{s.base}  base    FINISHED  2025-06-01 12:00:00  1m30s     0.9          0.01",
        f"{s.odd}  odd     RUNNING   2025-06-01 12:02:00  -         NaN          0.01",
    ]
    assert result.err == ""

    result = cli(
        "runs", "list", "--experiment", s.rag,
        "--filter", "metrics.acc > 0.9 and params.lr = '0.02'",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        f"{s.better}  better  FINISHED  2025-06-01 12:01:00  2.50s"
    ]


def test_list_defaults_to_every_active_experiment(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "list", "--order-by", "metrics.acc")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == [
        "RUN", "ID", "EXPERIMENT", "NAME", "STATUS", "START", "(UTC)", "DURATION", "metrics.acc",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [
        seeded.base, seeded.better, seeded.solo, seeded.odd,
    ]  # fmt: skip
    assert lines[3].split()[1:3] == ["other", "solo"]
    assert lines[3].endswith("12.5ms    0.99")

    deleted = cli("runs", "list", "--view", "deleted")
    assert [line.split()[0] for line in deleted.out.splitlines()[1:]] == [seeded.gone]
    assert cli("runs", "list", "-e", "old").out == "no runs\n"


def test_list_pages(cli: Cli, seeded: Seeded) -> None:
    first = cli("runs", "list", "-e", "rag", "--order-by", "name", "--limit", "2")
    assert [line.split()[0] for line in first.out.splitlines()[1:]] == [seeded.base, seeded.better]
    assert first.err.startswith("more: --page-token ")
    token = first.err.split()[-1]
    rest = cli("runs", "list", "-e", "rag", "--order-by", "name", "-n", "2", "--page-token", token)
    assert rest.code == 0, rest.err
    assert [line.split()[0] for line in rest.out.splitlines()[1:]] == [seeded.odd]
    assert rest.err == ""
    stale = cli("runs", "list", "-e", "rag", "--order-by", "start_time", "--page-token", token)
    _clean_error(stale, 2, "page token")


def test_list_json_lines(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "list", "-e", "rag", "--json", "--order-by", "name")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [r["info"]["name"] for r in rows] == ["base", "better", "odd"]
    assert rows[0]["params"] == {"bs": "32", "lr": "0.01"}
    assert rows[0]["metrics"] == {"acc": 0.9, "loss": 0.3}
    assert rows[0]["info"]["duration_ms"] == 90_000
    assert rows[2]["metrics"] == {"acc": "NaN"}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--filter", "metrics.acc >"], 2, "position 13"),
        (["--filter", "metrics.acc > 'x' and"], 2, "position"),
        (["--filter", "colour = 'red'"], 2, "colour"),
        (["--order-by", "metrics.acc sideways"], 2, "order_by"),
        (["--columns", "weight"], 2, "unknown column 'weight'"),
        (["--limit", "0"], 2, "limit"),
        (["-e", "nope"], 1, "experiment 'nope' not found"),
    ],
)
def test_list_bad_input_is_one_error_line(
    cli: Cli, args: list[str], code: int, needle: str
) -> None:
    _clean_error(cli("runs", "list", *args), code, needle)


# --- runs show --------------------------------------------------------------------------------


def test_show(cli: Cli, seeded: Seeded) -> None:
    s = seeded
    result = cli("runs", "show", s.base[:10])
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    uri = lines[3].removeprefix("  artifact_uri=")
    assert uri.startswith(str(s.artifact_root)) and uri.endswith(f"/{s.base}/artifacts")
    assert lines[:3] + lines[4:] == [
        f"run {s.base}  base  FINISHED  1m30s",
        f"  experiment=rag ({s.rag})",
        "  start=2025-06-01T12:00:00+00:00  end=2025-06-01T12:01:30+00:00",
        "params:",
        "  bs  32",
        "  lr  0.01",
        "metrics (latest):",
        "  acc   0.9",
        "  loss  0.3",
        "tags:",
        "  stage = dev",
        "artifacts: 1",
        "  notes/readme.txt  5 B",
        "traces: 2",
        f"  llmtrace traces list --filter \"run_id = '{s.base}'\"",
    ]
    linked = _run_traces(cli, s.base)
    assert len(linked) == 2


def _run_traces(cli: Cli, run_id: str) -> list[str]:
    result = cli("traces", "list", "--json", "--filter", f"run_id = '{run_id}'")
    assert result.code == 0, result.err
    return [json.loads(line)["trace_id"] for line in result.out.splitlines()]


def test_show_bare_run_and_json(cli: Cli, seeded: Seeded) -> None:
    text = cli("runs", "show", seeded.odd).out.splitlines()
    assert text[0] == f"run {seeded.odd}  odd  RUNNING  -"
    assert text[4:] == [
        "params:", "  lr  0.01", "metrics (latest):", "  acc  NaN", "tags: 0", "artifacts: 0",
        "traces: 0",
    ]  # fmt: skip

    result = cli("runs", "show", seeded.base, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["info"]["run_id"] == seeded.base
    assert data["experiment"]["name"] == "rag"
    assert data["artifacts"] == [{"path": "notes/readme.txt", "file_size": 5}]
    assert data["trace_count"] == 2
    assert data["metrics"] == {"acc": 0.9, "loss": 0.3}
    deleted = json.loads(cli("runs", "show", seeded.gone, "--json").out)
    assert deleted["info"]["lifecycle_stage"] == "deleted"


@pytest.mark.parametrize(
    ("ref", "code", "needle"),
    [
        ("0123456789abcdef0123456789abcdef", 1, "not found"),
        ("fffffffff", 1, "no run id starts with 'fffffffff'"),
        ("not-an-id", 2, "is not a run id"),
    ],
)
def test_show_unknown_run(cli: Cli, ref: str, code: int, needle: str) -> None:
    _clean_error(cli("runs", "show", ref), code, needle)


# --- runs compare -----------------------------------------------------------------------------


def test_compare(cli: Cli, seeded: Seeded) -> None:
    s = seeded
    result = cli("runs", "compare", s.base, s.better, s.odd)
    assert result.code == 0, result.err
    b, t, o = s.base, s.better, s.odd

    def row(*cells: str) -> str:  # the label column is 13 wide, a run column 32 (a run id)
        return "  ".join(c.ljust(w) for c, w in zip(cells, (13, 32, 32, 32), strict=False)).rstrip()

    assert result.out.splitlines() == [
        row("", f"base ({b[:8]})", f"better ({t[:8]})", f"odd ({o[:8]})"),
        row("  run_id", b, t, o),
        row("  experiment", "rag", "rag", "rag"),
        row("  status", "FINISHED", "FINISHED", "RUNNING"),
        row("  start (UTC)", "2025-06-01 12:00:00", "2025-06-01 12:01:00", "2025-06-01 12:02:00"),
        row("  duration", "1m30s", "2.50s", "-"),
        "params:",
        row("* bs", "32", "32", "-"),  # missing in one run counts as a difference
        row("* lr", "0.01", "0.02", "0.01"),
        "tags:",
        row("* stage", "dev", "prod", "-"),
        "metrics:",
        row("  acc", "0.9", "0.95 (+0.05)", "NaN"),
        row("  loss", "0.3", "0.2 (-0.1)", "-"),
        "",
        "* = differs between the runs; (+/-x) = change against the first run",
    ]


def test_compare_json(cli: Cli, seeded: Seeded) -> None:
    result = cli("runs", "compare", seeded.base, seeded.better[:12], seeded.solo, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [r["info"]["name"] for r in data["runs"]] == ["base", "better", "solo"]
    assert data["params"]["lr"] == {"values": ["0.01", "0.02", None], "differs": True}
    assert data["params"]["bs"] == {"values": ["32", "32", None], "differs": True}
    acc = data["metrics"]["acc"]
    assert acc["values"] == [0.9, 0.95, 0.99]
    assert acc["deltas"][0] is None
    assert acc["deltas"][1:] == pytest.approx([0.05, 0.09])
    loss = data["metrics"]["loss"]
    assert loss["values"] == [0.3, 0.2, None]
    assert loss["deltas"] == [None, pytest.approx(-0.1), None]


def test_compare_errors(cli: Cli, seeded: Seeded) -> None:
    _clean_error(cli("runs", "compare", seeded.base), 2, "at least two run ids")
    unknown = "0123456789abcdef0123456789abcdef"
    _clean_error(cli("runs", "compare", seeded.base, unknown), 1, unknown)


# --- experiments list -------------------------------------------------------------------------


def test_experiments_list(cli: Cli, seeded: Seeded) -> None:
    result = cli("experiments", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == [
        "EXPERIMENT", "ID", "NAME", "STAGE", "CREATED", "(UTC)", "TAGS", "ARTIFACT", "LOCATION",
    ]  # fmt: skip
    assert [line.split()[:3] for line in lines[1:]] == [
        [seeded.rag, "rag", "active"],
        [seeded.other, "other", "active"],
    ]
    assert lines[1].split()[5] == "team=search"
    assert lines[2].split()[5] == "-"

    every = cli("experiments", "list", "--view", "all", "--json")
    rows = [json.loads(line) for line in every.out.splitlines()]
    assert [(r["name"], r["lifecycle_stage"]) for r in rows] == [
        ("rag", "active"), ("other", "active"), ("old", "deleted"),
    ]  # fmt: skip
    assert rows[0]["tags"] == {"team": "search"}
    deleted = cli("experiments", "list", "--view", "deleted").out.splitlines()
    assert [line.split()[1] for line in deleted[1:]] == ["old"]


def test_empty_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert _run(capsys, ["--store", url, "experiments", "list"]).out == "no experiments\n"
    assert _run(capsys, ["--store", url, "runs", "list"]).out == "no runs\n"
    assert _run(capsys, ["--store", url, "runs", "list", "--json"]).out == ""


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(capsys, ["runs", "--help"])
    assert result.code == 0
    for command in ("list", "show", "compare"):
        assert command in result.out
    assert "list" in _run(capsys, ["experiments", "--help"]).out
    bad_view = _run(capsys, ["experiments", "list", "--view", "gone"])
    assert bad_view.code == 2 and "invalid choice" in bad_view.err
