"""`llmtrace prompts ...` driven in-process on a SQLite file (and once against a live server):
register, list, show, versions, alias, diff; user mistakes end in one `error:` line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmtrace.cli import main
from llmtrace.store import SqlStore
from tests.server.conftest import start_server


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'prompts.db'}"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], store_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("LLMTRACE_STORE", raising=False)

    def run(*args: str, store: str = store_url) -> Result:
        capsys.readouterr()
        try:
            code = main(["--store", store, "prompts", *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def clean_error(result: Result, *needles: str) -> None:
    assert result.code != 0 and "Traceback" not in result.err, result
    lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_register_show_versions_alias_and_diff(cli: Cli, tmp_path: Path, store_url: str) -> None:
    first = cli("register", "qa", "--template", "Answer: {{ question }}", "-m", "first")
    assert first.code == 0 and "prompts:/qa/1" in first.out and "question" in first.out
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Answer: {{ question }} in {{ lang }}"},
    ]), encoding="utf-8")  # fmt: skip
    second = cli("register", "qa", "--file", str(chat), "--chat", "-m", "chat form",
                 "--tag", "team=search", "--config", '{"temperature": 0}')  # fmt: skip
    assert second.code == 0 and "prompts:/qa/2 (chat" in second.out
    stored = SqlStore(store_url)
    try:
        pv = stored.get_prompt_version("qa", 2)
        assert pv.tags == {"team": "search"} and pv.config == {"temperature": 0}
    finally:
        stored.close()

    assert cli("alias", "qa", "production", "1").code == 0
    listed = cli("list")
    assert listed.code == 0 and "production=1" in listed.out and listed.out.startswith("NAME")
    assert [json.loads(line)["name"] for line in cli("list", "--json").out.splitlines()] == ["qa"]
    assert "qa" not in cli("list", "--filter", "tags.team = 'nobody'").out

    shown = cli("show", "qa@production")
    assert (
        shown.code == 0 and "prompts:/qa/1" in shown.out and "Answer: {{ question }}" in shown.out
    )
    assert json.loads(cli("show", "prompts:/qa/2", "--json").out)["variables"] == [
        "question", "lang"
    ]  # fmt: skip
    assert "prompts:/qa/2" in cli("show", "qa").out

    versions = cli("versions", "qa")
    rows = versions.out.strip().splitlines()
    assert rows[0].startswith("VERSION") and rows[1].startswith("2") and "production" in rows[2]

    diff = cli("diff", "qa", "production", "2")
    assert diff.code == 0
    assert diff.out.startswith("--- prompts:/qa/1\n+++ prompts:/qa/2\n")
    assert "-Answer: {{ question }}\n" in diff.out
    assert '+    "content": "Answer: {{ question }} in {{ lang }}"\n' in diff.out
    assert cli("diff", "qa", "1", "1").out == ""

    assert cli("alias", "qa", "production", "--delete").code == 0
    assert "production" not in cli("versions", "qa").out


def test_mistakes_are_one_clean_error(cli: Cli, tmp_path: Path) -> None:
    clean_error(cli("show", "missing"), "prompt 'missing' not found")
    clean_error(cli("register", "bad name", "--template", "x"), "invalid prompt name")
    clean_error(cli("register", "p", "--template", "x", "--chat"), "JSON list")
    clean_error(cli("register", "p", "--file", str(tmp_path / "nope.txt")), "cannot read")
    clean_error(cli("register", "p", "--template", "x", "--config", "{"), "--config")
    clean_error(cli("register", "p", "--template", "x", "--tag", "novalue"), "KEY=VALUE")
    assert cli("register", "p", "--template", "x").code == 0
    clean_error(cli("alias", "p", "latest", "1"), "reserved")
    clean_error(cli("alias", "p", "prod", "5"), "no version 5")
    clean_error(cli("alias", "p", "prod"), "VERSION or --delete")
    clean_error(cli("diff", "p", "1", "3"), "no version 3")
    clean_error(cli("show", "p/zero"), "must be a number")
    assert cli("register", "p").code == 2  # argparse: --template or --file is required


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    live = start_server(f"sqlite:///{tmp_path / 'server.db'}", artifacts=str(tmp_path / "a"))
    yield live.url
    live.stop()


def test_the_global_store_option_reaches_a_server(cli: Cli, server_url: str) -> None:
    assert cli("register", "remote", "--template", "{{ x }}", store=server_url).code == 0
    assert cli("alias", "remote", "prod", "1", store=server_url).code == 0
    assert "prompts:/remote/1" in cli("show", "remote@prod", store=server_url).out
    clean_error(cli("show", "remote/4", store=server_url), "no version 4")
    assert "no prompts" in cli("list").out  # nothing went to the local file
