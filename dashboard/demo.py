"""The end-to-end demo behind `make demo`: fill a store with everything the dashboard shows, then
open the dashboard on it.

    python -m dashboard.demo [--store URL] [--rows N] [--no-ui] [--port P] [--no-browser]

It registers two versions of a RAG prompt, traces a RAG pipeline (keyword retrieval over the
HaluEval passages of `datasets/`, then the `openai` client) on some "production" conversations
(sessions, users, streaming, two requests that fail on purpose), stores the questions as the
dataset `demo-rag-qa`, evaluates the pipeline with each prompt version (experiment `demo-rag`),
compares the two runs, logs the v2 pipeline as a model registered as `demo-rag` (alias
`champion`, in Staging, a request for Production waiting for approval), and runs `llmtrace ui`.

With `OPENAI_API_KEY` or `OPENAI_BASE_URL` set it calls that endpoint (model
`$LLMTRACE_DEMO_MODEL`, default gpt-4o-mini, which also judges). Otherwise it starts a local,
deterministic stand-in (`_demo_standin`): no key, no network, and answers and verdicts that
come from word overlap, not from a model.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llmtrace
from dashboard._demo_pipeline import PROMPT_NAME, RagPipeline, corpus_of, load_rows
from dashboard._demo_setup import (
    DATASET_NAME,
    MODEL_NAME,
    Registered,
    Traffic,
    ensure_dataset,
    ensure_prompts,
    register_pipeline,
    simulate_traffic,
)
from dashboard._demo_standin import STANDIN_MODEL, StandInServer
from evaluators import Comparison, EvaluationResult, compare, evaluate
from evaluators.judge import OpenAIJudge
from evaluators.scorers import Correctness, Faithfulness, Latency, Length, Relevance

EXPERIMENT = "demo-rag"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_PORT = 8501
BANNER = "=" * 78


@dataclass
class Endpoint:
    """Where the pipeline and the judge send chat completions."""

    model: str
    base_url: str | None  # None: the openai client's own default ($OPENAI_BASE_URL)
    standin: StandInServer | None = None

    @classmethod
    def choose(cls) -> Endpoint:
        """The configured OpenAI-compatible endpoint, else a freshly started stand-in."""
        if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
            model = os.environ.get("LLMTRACE_DEMO_MODEL") or DEFAULT_MODEL
            return cls(model=model, base_url=os.environ.get("OPENAI_BASE_URL") or None)
        server = StandInServer().start()
        # Not in the shipped price table: priced like a small hosted model, so cost shows.
        llmtrace.set_price(STANDIN_MODEL, input=0.15, output=0.6)
        return cls(model=STANDIN_MODEL, base_url=server.base_url, standin=server)

    def describe(self) -> str:
        if self.standin is None:
            where = self.base_url or "api.openai.com (OPENAI_BASE_URL unset)"
            return f"LLM endpoint: {where}, model {self.model} (answers and judge)"
        return "\n".join(
            [
                BANNER,
                "NO OPENAI_API_KEY / OPENAI_BASE_URL SET: USING THE LOCAL STAND-IN SERVER",
                f"  {self.base_url} (model name {self.model!r})",
                "  Answers and judge verdicts come from a deterministic word-overlap stand-in,",
                "  NOT from a language model. Scores show how the dashboard looks, not quality.",
                "  Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL, LLMTRACE_DEMO_MODEL)",
                "  to run the same demo against a real model.",
                BANNER,
            ]
        )

    def judge(self) -> OpenAIJudge:
        # The stand-in's port changes every run: caching its replies would only grow the cache.
        return OpenAIJudge(
            self.model,
            base_url=self.base_url,
            cache=None if self.standin is not None else True,
            max_concurrency=8,
        )

    def close(self) -> None:
        if self.standin is not None:
            self.standin.stop()


@dataclass
class Outcome:
    """Everything the demo created, for the summary."""

    store_url: str
    tag: str
    prompts: dict[str, Any]
    dataset_size: int
    inserted: int
    updated: int
    traffic: Traffic
    runs: dict[str, EvaluationResult]
    comparison: Comparison
    registered: Registered


def scorers() -> list[Any]:
    return [
        Correctness(),
        Faithfulness(threshold=0.75),
        Relevance(threshold=0.5),
        Latency(max_ms=3000),
        Length(max=400),
    ]


def run_demo(rows: int, endpoint: Endpoint, store_url: str) -> Outcome:
    """Create the prompts, traces, dataset, evaluations and registered model."""
    tag = uuid.uuid4().hex[:8]
    llmtrace.instrument("openai")
    prompts = ensure_prompts()
    print(
        f"prompts: {PROMPT_NAME} v{prompts['v1'].version} (alias production), "
        f"v{prompts['v2'].version}"
    )
    records = load_rows(rows)
    corpus = corpus_of(records)
    dataset, inserted, updated = ensure_dataset(records)
    print(f"dataset: {DATASET_NAME}, {len(dataset)} records ({inserted} new, {updated} updated)")

    def pipeline(uri: str, name: str) -> RagPipeline:
        return RagPipeline(corpus, uri, endpoint.model, base_url=endpoint.base_url, name=name)

    production = pipeline(f"prompts:/{PROMPT_NAME}@production", "rag_production")
    print(f"traffic: {len(records)} questions in conversations, plus 2 failing requests ...")
    traffic = simulate_traffic(production, [r["inputs"]["question"] for r in records], tag)
    judge = endpoint.judge()
    runs: dict[str, EvaluationResult] = {}
    for variant in ("v1", "v2"):
        pv = prompts[variant]
        print(f"evaluating prompt {variant} ({pv.uri}) on {len(dataset)} rows ...")
        runs[variant] = evaluate(
            dataset,
            predict=pipeline(pv.uri, f"rag_{variant}"),
            scorers=scorers(),
            judge=judge,
            experiment=EXPERIMENT,
            name=f"prompt-{variant}",
            baseline=runs["v1"].run_id if variant == "v2" else None,
            max_workers=8,
        )
    comparison = compare(runs["v1"], runs["v2"], lower_is_better={"length"})
    v2 = runs["v2"].run_id
    if v2 is None:  # evaluate(log=True) always stores a run
        raise RuntimeError("the v2 evaluation stored no run")
    registered = register_pipeline(pipeline(prompts["v2"].uri, "rag_v2"), prompts["v2"].uri, v2)
    llmtrace.flush()
    return Outcome(
        store_url,
        tag,
        prompts,
        len(dataset),
        inserted,
        updated,
        traffic,
        runs,
        comparison,
        registered,
    )


def _metric(result: EvaluationResult, name: str) -> str:
    value = result.metrics.get(name)
    return "-" if value is None else f"{value:.3f}"


def summary(out: Outcome, seconds: float) -> str:
    traces = llmtrace.search_traces(f"tag.demo_run = '{out.tag}'", limit=500)
    errors = [t for t in traces if t.status == "ERROR"]
    sessions = {t.session_id for t in traces if t.session_id}
    lines = [
        "",
        BANNER,
        f"llmtrace demo: done in {seconds:.1f} s",
        f"store: {out.store_url} (project 'demo')",
        f"traces: {len(traces)} from the simulated traffic (tag demo_run = '{out.tag}'): "
        f"{len(sessions)} sessions, {len(errors)} with errors",
        "        (the evaluations add one trace per row and one per judge call)",
        f"prompt: {PROMPT_NAME} v{out.prompts['v1'].version} (production), "
        f"v{out.prompts['v2'].version}",
        f"dataset: {DATASET_NAME}, {out.dataset_size} records "
        f"({out.inserted} new, {out.updated} updated)",
        f"experiment: {EXPERIMENT}",
    ]
    for variant, result in out.runs.items():
        lines.append(
            f"  run prompt-{variant} {result.run_id}: {len(result.rows)} rows, "
            f"correctness {_metric(result, 'correctness/mean')}, "
            f"faithfulness {_metric(result, 'faithfulness/mean')}, "
            f"relevance {_metric(result, 'relevance/mean')}, "
            f"predict errors {result.metrics.get('predict_errors', 0):.0f}"
        )
    reg = out.registered
    lines += [
        f"model: {reg.info.model_uri} -> models:/{MODEL_NAME}/{reg.version} "
        f"(alias champion, Staging; request {reg.production_request} to Production "
        f"pending approval, requested by 'demo')",
        "",
        "compare(prompt-v1, prompt-v2):",
        str(out.comparison),
        BANNER,
    ]
    return "\n".join(lines)


def _ui_help(url: str) -> str:
    return f"Open the dashboard with:  llmtrace ui --store '{url}'"


def launch_ui(url: str, port: int, no_browser: bool) -> int:
    """Run `llmtrace ui` on the store until it stops (Ctrl-C stops it too)."""
    app = Path(__file__).resolve().parent / "app.py"
    if importlib.util.find_spec("streamlit") is None or not app.is_file():
        print("The dashboard is not available here (pip install 'llmtrace[dashboard]').")
        print(_ui_help(url))
        return 0
    command = [sys.executable, "-m", "llmtrace", "ui", "--store", url, "--port", str(port)]
    if no_browser:
        command.append("--no-browser")
    print(f"Starting the dashboard: http://127.0.0.1:{port}  (Ctrl-C to stop)", flush=True)
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)  # `kill <demo>` stops the dashboard too

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)  # a terminal sent it to both; `kill -INT` only to us
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code in (-signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGINT):
        return 0
    if code != 0:
        print(f"llmtrace ui exited with status {code}. {_ui_help(url)}", file=sys.stderr)
    return code


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.demo",
        description="Fill a store with traces, evaluations and a registered model, then open "
        "the dashboard on it.",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="store URL (default: $LLMTRACE_STORE, else ~/.llmtrace/llmtrace.db)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=20,
        metavar="N",
        help="questions from datasets/rag_qa_halueval_200.jsonl (default 20)",
    )
    parser.add_argument("--no-ui", action="store_true", help="do not start the dashboard")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="P",
        help=f"dashboard port (default {DEFAULT_PORT})",
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= 100:
        parser.error("--rows must be between 1 and 100 (the file has 100 distinct questions)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; the exit status of the dashboard (0 with --no-ui)."""
    args = parse_args(argv)
    started = time.perf_counter()
    store = args.store or os.environ.get("LLMTRACE_STORE") or None
    url = llmtrace.configure(store=store, project="demo").store_url()
    endpoint = Endpoint.choose()
    print(endpoint.describe(), flush=True)
    print(f"store: {url}")
    try:
        outcome = run_demo(args.rows, endpoint, url)
    finally:
        endpoint.close()
    print(summary(outcome, time.perf_counter() - started), flush=True)
    unpriced = llmtrace.stats().unpriced_models
    if unpriced:
        print(f"note: no price known for {sorted(unpriced)}: set one with llmtrace.set_price")
    if args.no_ui:
        print(_ui_help(url))
        return 0
    return launch_ui(url, args.port, args.no_browser)


if __name__ == "__main__":
    sys.exit(main())
