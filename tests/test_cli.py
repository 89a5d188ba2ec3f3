"""The `llmtrace` command line, driven in-process through `llmtrace.cli.main` on SQLite files.

Most tests first run `llmtrace demo` (6 questions: 5 answered, 1 failing validation, plus one
streamed answer = 7 traces) into a fresh database, then list, show and delete what it stored.
User mistakes must end with one `error:` line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import llmtrace
from llmtrace._config import Settings
from llmtrace.cli import main
from llmtrace.store import migrate
from llmtrace.tracing import _runtime

DEMO_QUESTIONS = 6
DEMO_TRACES = DEMO_QUESTIONS + 1  # one trace per question, plus the streamed answer
LATENCY = re.compile(r"\s\d+\.\d+m?s(\s|$)")  # "12.3ms" or "1.23s"

_SETTINGS_ENV = sorted(
    f.metadata["env"] for f in dataclasses.fields(Settings) if f.metadata.get("env")
)


@dataclasses.dataclass
class Result:
    """Exit code and captured output of one CLI run."""

    code: int
    out: str
    err: str

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


Cli = Callable[..., Result]


@pytest.fixture(autouse=True)
def isolated_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No LLMTRACE_* settings from outside, a temporary home, and no runtime left behind."""
    home = tmp_path / "llmtrace-home"
    for var in _SETTINGS_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LLMTRACE_HOME", str(home))
    yield home
    llmtrace.shutdown()
    _runtime.reset()
    assert _runtime.peek_runtime() is None


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'x.db'}"


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Result:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], store_url: str) -> Cli:
    """Run `llmtrace --store <tmp db> ARGS...` in-process."""

    def run(*args: str) -> Result:
        return _run(capsys, ["--store", store_url, *args])

    return run


@pytest.fixture
def demo(cli: Cli) -> Result:
    """The output of `llmtrace demo --questions 6` into the test's database."""
    result = cli("demo", "--questions", str(DEMO_QUESTIONS))
    assert result.code == 0, result.err
    return result


def _listed(cli: Cli, *args: str) -> list[dict[str, object]]:
    result = cli("traces", "list", "--json", *args)
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


def _table_rows(out: str) -> list[str]:
    lines = out.strip().splitlines()
    assert lines[0].startswith("TRACE ID"), out
    return lines[1:]


def _assert_clean_error(result: Result, code: int, *needles: str) -> str:
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    errors = result.error_lines()
    assert len(errors) == 1, result.err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# --- help and usage ---------------------------------------------------------------------------


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(capsys, ["--help"])
    assert result.code == 0
    assert result.out.startswith("usage: llmtrace")
    for command in ("db", "traces", "demo", "--store"):
        assert command in result.out


@pytest.mark.parametrize(
    ("group", "commands"), [("db", ["upgrade", "current"]), ("traces", ["list", "show", "delete"])]
)
def test_group_help_lists_subcommands(
    capsys: pytest.CaptureFixture[str], group: str, commands: list[str]
) -> None:
    result = _run(capsys, [group, "--help"])
    assert result.code == 0
    for command in commands:
        assert command in result.out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(capsys, ["--version"])
    assert result.code == 0
    assert result.out.strip() == f"llmtrace {llmtrace.__version__}"


@pytest.mark.parametrize("argv", [[], ["traces"], ["db"], ["traces", "nope"]])
def test_missing_or_unknown_subcommand_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    result = _run(capsys, argv)
    assert result.code == 2
    assert "usage: llmtrace" in result.err
    assert "Traceback" not in result.err


def _subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS_ENV}
    env["LLMTRACE_HOME"] = str(tmp_path / "llmtrace-home")
    return env


@pytest.mark.parametrize("entry", ["python -m llmtrace", "llmtrace script"])
def test_help_from_a_subprocess(tmp_path: Path, entry: str) -> None:
    if entry == "python -m llmtrace":
        argv = [sys.executable, "-m", "llmtrace", "--help"]
    else:
        script = Path(sys.executable).parent / ("llmtrace.exe" if os.name == "nt" else "llmtrace")
        assert script.is_file(), f"console script {script} is not installed"
        argv = [str(script), "--help"]
    proc = subprocess.run(
        argv, env=_subprocess_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: llmtrace")
    assert "demo" in proc.stdout
    assert proc.stderr == ""
    assert not (tmp_path / "llmtrace-home").exists(), "--help must not create the store"


# --- db ---------------------------------------------------------------------------------------


def test_db_upgrade_then_current_prints_head(cli: Cli, store_url: str) -> None:
    head = migrate.head_revision()
    before = cli("db", "current")
    assert before.code == 0, before.err
    assert before.out.strip() == f"(empty) (newest is {head})"

    up = cli("db", "upgrade")
    assert up.code == 0, up.err
    assert up.out.strip() == f"{store_url}: at revision {head}"

    current = cli("db", "current")
    assert current.code == 0, current.err
    assert current.out.strip() == f"{head} (up to date)"

    again = cli("db", "upgrade")  # idempotent
    assert again.code == 0, again.err


def test_db_upgrade_sql_prints_the_script_without_touching_the_store(
    cli: Cli, tmp_path: Path
) -> None:
    result = cli("db", "upgrade", "--sql")
    assert result.code == 0, result.err
    assert "CREATE TABLE traces" in result.out
    assert "CREATE TABLE spans" in result.out
    assert not (tmp_path / "x.db").exists()


def test_db_upgrade_to_unknown_revision_is_a_clean_error(cli: Cli) -> None:
    _assert_clean_error(cli("db", "upgrade", "--revision", "9999_nope"), 2)


# --- demo -------------------------------------------------------------------------------------


def test_demo_traces_and_reports(demo: Result, store_url: str) -> None:
    out = demo.out
    assert f"Tracing {DEMO_QUESTIONS} questions into {store_url}" in out
    assert f"{DEMO_TRACES} traces stored:" in out
    assert "TRACE ID" in out
    assert "answer_question" in out
    assert "stream_answer" in out
    assert "Slowest successful trace:" in out
    assert "Traces with errors: 1\n" in out
    assert " 0 dropped." in out
    assert "Traceback" not in demo.err


def test_demo_stores_into_the_given_store_only(
    demo: Result, store_url: str, isolated_runtime: Path
) -> None:
    assert not isolated_runtime.exists(), "the demo must not touch the default home"
    assert llmtrace.get_store().url == store_url


# --- traces list --------------------------------------------------------------------------------


def test_traces_list_shows_a_table(demo: Result, cli: Cli) -> None:
    result = cli("traces", "list")
    assert result.code == 0, result.err
    rows = _table_rows(result.out)
    assert len(rows) == DEMO_TRACES
    header = result.out.splitlines()[0].split()
    assert header[:2] == ["TRACE", "ID"]
    assert {"NAME", "STATUS", "LATENCY", "TOKENS"} <= set(header)
    assert sum("answer_question" in r for r in rows) == DEMO_QUESTIONS
    assert sum("stream_answer" in r for r in rows) == 1


def test_traces_list_on_an_empty_store(cli: Cli) -> None:
    result = cli("traces", "list")
    assert result.code == 0, result.err
    assert result.out.strip() == "no traces"


def test_traces_list_filter_shows_only_errors(demo: Result, cli: Cli) -> None:
    result = cli("traces", "list", "--filter", "status = 'ERROR'")
    assert result.code == 0, result.err
    rows = _table_rows(result.out)
    assert len(rows) == 1
    assert "answer_question" in rows[0]
    assert " ERROR " in rows[0]


def test_traces_list_json_lines(demo: Result, cli: Cli) -> None:
    infos = _listed(cli)
    assert len(infos) == DEMO_TRACES
    assert len({info["trace_id"] for info in infos}) == DEMO_TRACES
    assert sorted(str(info["status"]) for info in infos) == ["ERROR"] + ["OK"] * (DEMO_TRACES - 1)
    assert {info["project"] for info in infos} == {"demo"}
    assert _listed(cli, "--filter", "status = 'ERROR'", "--project", "demo")[0]["status"] == "ERROR"
    assert _listed(cli, "--project", "elsewhere") == []


def _page_through(cli: Cli, *extra: str) -> list[str]:
    """Trace ids of every page of `traces list --limit 3`, following the printed page tokens."""
    seen: list[str] = []
    token: str | None = None
    for _ in range(DEMO_TRACES + 1):
        args = ["traces", "list", "--limit", "3", *extra]
        if token:
            args += ["--page-token", token]
        result = cli(*args)
        assert result.code == 0, result.err
        if "--json" in extra:
            seen += [json.loads(line)["trace_id"] for line in result.out.splitlines()]
        else:
            seen += [row.split()[0] for row in _table_rows(result.out)]
        more = [line for line in result.err.splitlines() if line.startswith("more: --page-token")]
        if not more:
            return seen
        token = more[0].split()[-1]
    raise AssertionError(f"paging did not end: {seen}")


@pytest.mark.parametrize("mode", ["table", "json"])
def test_traces_list_pages(demo: Result, cli: Cli, mode: str) -> None:
    """Both modes tell how to get the next page (on stderr, so --json stdout stays parseable)."""
    seen = _page_through(cli, *(["--json"] if mode == "json" else []))
    assert len(seen) == DEMO_TRACES, seen
    assert len(set(seen)) == DEMO_TRACES


def test_bad_filter_is_rejected_and_nothing_is_dropped(
    demo: Result, cli: Cli, store_url: str
) -> None:
    result = cli("traces", "list", "--filter", "name = 'x'; DROP TABLE spans; --")
    assert result.code != 0
    _assert_clean_error(result, result.code, "position")
    assert result.out == ""

    engine = sa.create_engine(store_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"traces", "spans"} <= tables
    assert len(_listed(cli)) == DEMO_TRACES


def test_unknown_filter_field_is_a_clean_error(demo: Result, cli: Cli) -> None:
    _assert_clean_error(cli("traces", "list", "--filter", "nope = 1"), 2)


# --- traces show ------------------------------------------------------------------------------


def _ok_answer_trace_id(cli: Cli) -> str:
    infos = _listed(cli, "--filter", "name = 'answer_question' and status = 'OK'")
    assert infos
    return str(infos[0]["trace_id"])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def test_traces_show_prints_an_indented_tree(demo: Result, cli: Cli) -> None:
    trace_id = _ok_answer_trace_id(cli)
    result = cli("traces", "show", trace_id)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith(f"trace {trace_id}  answer_question  OK  ")
    assert "tokens=" in lines[0]
    assert "project=demo" in lines[1]
    assert any(line.strip().startswith("tags:") and "demo_run=" in line for line in lines)

    spans = {line.strip().split(" [")[0].lstrip("- "): line for line in lines if "- " in line}
    assert {"answer_question", "retrieve", "rerank", "chat demo-echo-1"} <= set(spans)
    root, child = spans["answer_question"], spans["retrieve"]
    assert _indent(child) > _indent(root)
    model = spans["chat demo-echo-1"]
    assert "[CHAT_MODEL]" in model
    assert "model=demo-echo-1" in model
    assert "tokens=" in model
    assert LATENCY.search(model), model
    assert "[RETRIEVER]" in spans["retrieve"]
    assert LATENCY.search(spans["retrieve"]), spans["retrieve"]
    assert LATENCY.search(lines[0]), lines[0]


def test_traces_show_error_trace_prints_the_message(demo: Result, cli: Cli) -> None:
    [info] = _listed(cli, "--filter", "status = 'ERROR'")
    result = cli("traces", "show", str(info["trace_id"]))
    assert result.code == 0, result.err
    assert "ERROR: " in result.out
    assert "question is empty" in result.out


def test_traces_show_accepts_a_unique_prefix(demo: Result, cli: Cli) -> None:
    ids = [str(info["trace_id"]) for info in _listed(cli)]
    trace_id = _ok_answer_trace_id(cli)
    n = next(n for n in range(1, 33) if sum(i.startswith(trace_id[:n]) for i in ids) == 1)
    prefix = trace_id[: max(n, 4)]
    full = cli("traces", "show", trace_id)
    short = cli("traces", "show", prefix)
    assert short.code == 0, short.err
    assert short.out == full.out
    upper = cli("traces", "show", prefix.upper())
    assert upper.code == 0, upper.err
    assert upper.out == full.out


def test_traces_show_json(demo: Result, cli: Cli) -> None:
    trace_id = _ok_answer_trace_id(cli)
    result = cli("traces", "show", trace_id, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert trace_id in json.dumps(data)


def test_traces_show_unknown_id_is_a_clean_error(demo: Result, cli: Cli) -> None:
    result = cli("traces", "show", "0" * 32)
    _assert_clean_error(result, 1, "0" * 32)
    assert result.err.strip() == result.error_lines()[0]
    assert result.out == ""


def test_traces_show_rejects_non_hex_ids(demo: Result, cli: Cli) -> None:
    result = cli("traces", "show", "not-a-trace-id")
    _assert_clean_error(result, 2, "not-a-trace-id")
    assert result.out == ""


# --- traces delete ----------------------------------------------------------------------------


def test_traces_delete_older_than_zero_deletes_everything(demo: Result, cli: Cli) -> None:
    result = cli("traces", "delete", "--older-than", "0s")
    assert result.code == 0, result.err
    assert result.out.strip() == f"deleted {DEMO_TRACES} trace(s)"
    assert _listed(cli) == []
    assert cli("traces", "list").out.strip() == "no traces"


def test_traces_delete_by_filter(demo: Result, cli: Cli) -> None:
    result = cli("traces", "delete", "--filter", "status = 'ERROR'")
    assert result.code == 0, result.err
    assert result.out.strip() == "deleted 1 trace(s)"
    assert {info["status"] for info in _listed(cli)} == {"OK"}


def test_traces_delete_recent_keeps_them(demo: Result, cli: Cli) -> None:
    result = cli("traces", "delete", "--older-than", "1d")
    assert result.code == 0, result.err
    assert result.out.strip() == "deleted 0 trace(s)"
    assert len(_listed(cli)) == DEMO_TRACES


@pytest.mark.parametrize("age", ["3x", "-1d", "d", "1.5h"])
def test_traces_delete_bad_age_is_a_clean_error(demo: Result, cli: Cli, age: str) -> None:
    _assert_clean_error(cli("traces", "delete", f"--older-than={age}"), 2, "--older-than")
    assert len(_listed(cli)) == DEMO_TRACES


def test_traces_delete_without_criteria_is_refused(demo: Result, cli: Cli) -> None:
    _assert_clean_error(cli("traces", "delete"), 2)
    assert len(_listed(cli)) == DEMO_TRACES


# --- the store cannot be reached --------------------------------------------------------------


@pytest.mark.parametrize("argv", [["traces", "list"], ["db", "current"], ["db", "upgrade"]])
def test_unreachable_database_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    result = _run(capsys, ["--store", "postgresql://postgres@127.0.0.1:1/nope", *argv])
    _assert_clean_error(result, 1)
    assert result.error_lines()[0].startswith("error: the store failed")
    assert result.out == ""


def test_invalid_store_url_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(capsys, ["--store", "not a url", "traces", "list"])
    _assert_clean_error(result, 2, "store URL")
