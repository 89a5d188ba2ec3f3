"""`llmtrace eval run|show|compare`, driven in-process through `llmtrace.cli.main` with a
temporary SQLite store: exit codes 0 (passed), 1 (threshold failed, regression), 2 (bad suite
file), one `error:` line for user mistakes, never a traceback."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import evaluators
from llmtrace.cli import main

QUESTIONS = [("2+2?", "4"), ("3+3?", "6"), ("capital of France?", "Paris"), ("1+1?", "2")]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tracking: str) -> Cli:
    """`llmtrace ARGS...` in-process, llmtrace already configured to a temporary store."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@dataclass
class Project:
    """A folder with a dataset, target modules and a scorer module (unique module names, so
    that tests never share an imported module)."""

    root: Path
    good: str
    bad: str
    scorers: str

    def suite(self, body: str, name: str = "suite.yaml") -> Path:
        path = self.root / name
        path.write_text(body, encoding="utf-8")
        return path


def write_project(root: Path) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "qa.jsonl").open("w", encoding="utf-8") as handle:
        for question, answer in QUESTIONS:
            record = {"inputs": {"question": question}, "expected_response": answer}
            handle.write(json.dumps(record) + "\n")
    tag = secrets.token_hex(4)
    answers = dict(QUESTIONS)
    good, bad, scorers = f"good_{tag}", f"bad_{tag}", f"checks_{tag}"
    (root / f"{good}.py").write_text(
        f"ANSWERS = {answers!r}\n\ndef answer(question):\n    return ANSWERS[question]\n",
        encoding="utf-8",
    )
    (root / f"{bad}.py").write_text(
        "def answer(question):\n    return 'no idea'\n", encoding="utf-8"
    )
    (root / f"{scorers}.py").write_text(
        "from evaluators.scorers import scorer\n\n"
        "@scorer\n"
        "def short(outputs):\n"
        "    return len(str(outputs)) < 20\n\n"
        "def not_empty(outputs):\n"
        "    return bool(outputs)\n",
        encoding="utf-8",
    )
    return Project(root, good, bad, scorers)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return write_project(tmp_path / "evals")


def suite_text(project: Project, *, target: str = "good", extra: str = "") -> str:
    module = project.good if target == "good" else project.bad
    lines = [
        "name: qa",
        "experiment: suite-tests",
        "dataset: qa.jsonl",
        f"target: {module}:answer",
        "scorers:",
        "  - ExactMatch",
        '  - {name: Regex, pattern: "^[A-Za-z0-9]+$"}',
        f"  - {project.scorers}:short",
        f"  - {{{project.scorers}:not_empty: {{name: filled}}}}",
    ]
    return "\n".join(lines) + "\n" + extra + "\n"


def assert_clean_error(result: Result, *needles: str) -> str:
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err, result.err
    errors = result.error_lines()
    assert len(errors) == 1, result.err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# --- run: exit codes --------------------------------------------------------------------------


def test_passing_suite_exits_0_with_a_summary_table(cli: Cli, project: Project) -> None:
    path = project.suite(suite_text(project, extra="thresholds: {exact_match: 0.75}"))
    result = cli("eval", "run", str(path))
    assert result.code == 0, result.out + result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("suite qa (experiment suite-tests): 4 rows, run ")
    assert lines[1].split()[:3] == ["metric", "mean", "95%"]
    table = {line.split()[0]: line for line in lines[3:] if line and line[0].isalpha()}
    for metric in ("exact_match", "regex", "short", "filled"):
        assert metric in table, result.out
        assert "pass" in table[metric].split()
    assert ">= 0.75" in table["exact_match"]
    assert lines[-1] == "PASSED"


def test_failing_threshold_exits_1(cli: Cli, project: Project) -> None:
    path = project.suite(suite_text(project, target="bad", extra="thresholds: {exact_match: 0.5}"))
    result = cli("eval", "run", str(path))
    assert result.code == 1, result.out + result.err
    assert "FAIL" in result.out
    assert result.out.splitlines()[-1].startswith("FAILED: exact_match: 0.000 < 0.500")
    assert not result.error_lines()


def test_mean_threshold_and_unknown_metric_fail(cli: Cli, project: Project) -> None:
    extra = "thresholds: {exact_match/mean: 0.5, exact_match: 0, missing_metric: 1}"
    path = project.suite(suite_text(project, target="bad", extra=extra))
    result = cli("eval", "run", str(path), "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    assert data["passed"] is False
    assert "exact_match/mean: 0.000 < 0.500" in data["failures"]
    assert "missing_metric: no such metric" in data["failures"]
    assert not any(f.startswith("exact_match:") for f in data["failures"])
    assert data["metrics"]["rows"] == 4


def test_json_output_and_limit(cli: Cli, project: Project) -> None:
    path = project.suite(suite_text(project))
    result = cli("eval", "run", str(path), "--json", "--limit", "2")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["passed"] is True and data["suite"] == "qa"
    assert data["metrics"]["rows"] == 2
    stored = evaluators.load_results(data["run_id"])
    assert len(stored.results) == 2


def test_store_option_points_llmtrace_at_that_store(
    cli: Cli, project: Project, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    path = project.suite(suite_text(project))
    assert cli("--store", url, "db", "upgrade").code == 0
    result = cli("--store", url, "eval", "run", str(path), "--json")
    assert result.code == 0, result.err
    run_id = json.loads(result.out)["run_id"]
    shown = cli("--store", url, "eval", "show", run_id)
    assert shown.code == 0, shown.err
    assert run_id in shown.out


# --- run: bad suites exit 2 with one error line -----------------------------------------------


def test_invalid_yaml(cli: Cli, project: Project) -> None:
    path = project.suite("name: qa\ndataset: [qa.jsonl\n")
    assert_clean_error(cli("eval", "run", str(path)), str(path), "invalid YAML")


def test_unknown_scorer_lists_the_known_ones(cli: Cli, project: Project) -> None:
    body = suite_text(project).replace("- ExactMatch", "- ExactMatchh")
    path = project.suite(body)
    error = assert_clean_error(cli("eval", "run", str(path)), "ExactMatchh")
    assert f"{path}:6:" in error  # the line of the scorer entry
    assert "known: " in error and "ExactMatch" in error and "Regex" in error


def test_missing_dataset(cli: Cli, project: Project) -> None:
    body = suite_text(project).replace("dataset: qa.jsonl", "dataset: nowhere.jsonl")
    path = project.suite(body)
    assert_clean_error(cli("eval", "run", str(path)), f"{path}:3:", "dataset", "nowhere.jsonl")


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("- not a mapping\n", ("YAML mapping",)),
        ("name: qa\nscorers: [ExactMatch]\n", ("dataset",)),
        ("name: qa\ndataset: qa.jsonl\n", ("scorers",)),
        ("name: qa\ndataset: qa.jsonl\nscorers: [ExactMatch]\ntypo: 1\n", (":4:", "typo")),
        ("dataset: qa.jsonl\nscorers: [ExactMatch]\nthresholds: {a: high}\n", ("thresholds.a",)),
        ("dataset: qa.jsonl\nscorers: [ExactMatch]\ntarget: nowhere\n", ("target",)),
        ("dataset: qa.jsonl\nscorers: [ExactMatch]\ntarget: nowhere_x:f\n", ("nowhere_x",)),
        ("dataset: qa.jsonl\nscorers: [{Regex: {bogus: 1}}]\n", ("Regex", "bogus")),
        ("dataset: {path: qa.jsonl, limit: 0}\nscorers: [ExactMatch]\n", ("dataset.limit",)),
        ("dataset: qa.jsonl\nscorers: [ExactMatch]\nmax_workers: many\n", ("max_workers",)),
    ],
)
def test_bad_suite_files(cli: Cli, project: Project, body: str, needles: tuple[str, ...]) -> None:
    path = project.suite(body)
    assert_clean_error(cli("eval", "run", str(path)), str(path), *needles)


def test_missing_suite_file(cli: Cli, tmp_path: Path) -> None:
    assert_clean_error(cli("eval", "run", str(tmp_path / "none.yaml")), "no such suite file")


def test_bad_limit_is_a_usage_error(cli: Cli, project: Project) -> None:
    path = project.suite(suite_text(project))
    result = cli("eval", "run", str(path), "--limit", "0")
    assert result.code == 2


# --- baseline ---------------------------------------------------------------------------------


def test_latest_baseline_regression_exits_1(cli: Cli, tmp_path: Path) -> None:
    # Enough rows for McNemar to call 12 lost answers significant.
    project = write_project(tmp_path / "evals")
    with (project.root / "qa.jsonl").open("a", encoding="utf-8") as handle:
        for i in range(8):
            handle.write(json.dumps({"inputs": {"question": f"{i}?"}, "expected": str(i)}) + "\n")
    (project.root / f"{project.good}.py").write_text(
        f"ANSWERS = {dict(QUESTIONS)!r}\n\n"
        "def answer(question):\n"
        "    return ANSWERS.get(question) or question.rstrip('?')\n",
        encoding="utf-8",
    )
    extra = "thresholds: {exact_match: 0}\nbaseline: latest"
    first = project.suite(suite_text(project, extra=extra))
    result = cli("eval", "run", str(first))
    assert result.code == 0, result.out + result.err
    assert "nothing to compare with" in result.out
    baseline_run = result.out.splitlines()[0].rsplit(" ", 1)[1]

    second = project.suite(suite_text(project, target="bad", extra=extra), "worse.yaml")
    result = cli("eval", "run", str(second))
    assert result.code == 1, result.out + result.err
    assert "REGRESSED" in result.out
    assert f"baseline {baseline_run}" in result.out
    assert "exact_match: regressed" in result.out.splitlines()[-1]

    # An explicit baseline works the same way, and `eval compare` agrees.
    candidate = result.out.splitlines()[0].rsplit(" ", 1)[1]
    compared = cli("eval", "compare", baseline_run, candidate)
    assert compared.code == 1, compared.err
    assert "REGRESSED" in compared.out
    same = cli("eval", "compare", baseline_run, baseline_run, "--json")
    assert same.code == 0, same.err
    assert {m["metric"] for m in json.loads(same.out)} >= {"exact_match"}


# --- show ---------------------------------------------------------------------------------------


def test_show_a_stored_evaluation(cli: Cli, project: Project) -> None:
    path = project.suite(suite_text(project, target="bad", extra="thresholds: {exact_match: 0}"))
    run_id = json.loads(cli("eval", "run", str(path), "--json").out)["run_id"]
    shown = cli("eval", "show", run_id)
    assert shown.code == 1  # "no idea" fails the regex on every row
    assert shown.out.startswith(f"evaluation run {run_id}: 4 rows")
    assert "exact_match" in shown.out
    data = json.loads(cli("eval", "show", run_id, "--json").out)
    assert data["run_id"] == run_id and data["metrics"]["rows"] == 4


def test_show_unknown_run(cli: Cli) -> None:
    result = cli("eval", "show", "0" * 32)
    assert result.code != 0
    assert len(result.error_lines()) == 1, result.err
    assert "Traceback" not in result.err


# --- judges -----------------------------------------------------------------------------------


def _judged_suite(project: Project, judge_line: str = "") -> Path:
    (project.root / f"judged_{project.scorers}.py").write_text(
        "from evaluators import Score, Scorer\n\n"
        "class Asks(Scorer):\n"
        "    name = 'asks'\n"
        "    needs_judge = True\n\n"
        "    async def score(self, row, judge):\n"
        "        return Score(True)\n",
        encoding="utf-8",
    )
    body = f"dataset: qa.jsonl\nscorers: [judged_{project.scorers}:Asks]\n{judge_line}\n"
    return project.suite(body)


def test_judge_scorer_without_a_judge_is_a_suite_error(
    cli: Cli, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMTRACE_JUDGE", raising=False)
    path = _judged_suite(project)
    assert_clean_error(cli("eval", "run", str(path)), f"{path}:2:", "asks need a judge")


def test_bad_judge_string_is_a_usage_error(cli: Cli, project: Project) -> None:
    path = _judged_suite(project, "judge: 'nosuchprovider:model'")
    assert_clean_error(cli("eval", "run", str(path)), str(path))
