"""`llmtrace --store http://host:port traces ...`: the traces commands against a live server,
driven in-process through `llmtrace.cli.main` (as tests/test_cli.py does)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from llmtrace.cli import main
from tests.server._traces_helpers import many_traces, tid
from tests.server.conftest import LiveServer, free_port


@dataclass
class Result:
    code: int
    out: str
    err: str

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LLMTRACE_STORE", "LLMTRACE_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def test_list_show_delete_against_a_server(
    sqlite_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_server.store.log_spans(many_traces(5))
    url = sqlite_server.url

    listed = run(capsys, "--store", url, "traces", "list")
    assert listed.code == 0, listed.err
    lines = listed.out.strip().splitlines()
    assert lines[0].startswith("TRACE ID") and len(lines) == 6
    assert lines[1].startswith(tid(104)) and "t4" in lines[1]

    paged = run(capsys, "--store", url, "traces", "list", "--json", "-n", "2", "-f", "tokens > 1")
    assert [json.loads(line)["name"] for line in paged.out.splitlines()] == ["t4", "t3"]
    token = paged.err.split("--page-token ")[1].strip()
    rest = run(
        capsys, "--store", url, "traces", "list", "--json", "-f", "tokens > 1",
        "--page-token", token,
    )  # fmt: skip
    assert [json.loads(line)["name"] for line in rest.out.splitlines()] == ["t2", "t1"]

    shown = run(capsys, "--store", url, "traces", "show", tid(103))
    assert shown.code == 0, shown.err
    assert shown.out.startswith(f"trace {tid(103)}  t3  OK") and "- generate [LLM]" in shown.out
    as_json = json.loads(run(capsys, "--store", url, "traces", "show", tid(103), "--json").out)
    assert as_json["info"]["trace_id"] == tid(103)

    deleted = run(capsys, "--store", url, "traces", "delete", "-f", "status = 'ERROR'")
    assert deleted.out.strip() == "deleted 1 trace(s)"  # t0
    assert len(sqlite_server.store.search_traces()) == 4


def test_user_mistakes_are_one_error_line(
    sqlite_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_server.store.log_spans(many_traces(2))
    url = sqlite_server.url
    cases = [
        (("traces", "show", tid(7)), 1, "not found"),
        (("traces", "show", "0000abc"), 1, "no trace id starts with"),
        (("traces", "show", tid(100)[:31]), 2, "matches several traces"),
        (("traces", "list", "-f", "status = "), 2, "position 9"),
        (("traces", "delete"), 2, "needs older_than, filter or project"),
        (("db", "upgrade"), 2, "not on an llmtrace server"),
    ]
    for argv, code, needle in cases:
        result = run(capsys, "--store", url, *argv)
        assert result.code == code, (argv, result.out, result.err)
        assert "Traceback" not in result.err
        errors = result.error_lines()
        assert len(errors) == 1 and needle in errors[0], (argv, result.err)

    down = run(capsys, "--store", f"http://127.0.0.1:{free_port()}", "traces", "list")
    assert down.code != 0 and "unreachable" in down.error_lines()[0]
