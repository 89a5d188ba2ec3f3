"""`llmtrace demo`: trace a small offline RAG pipeline into the store and print what landed."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import llmtrace
from llmtrace.cli._common import store_url
from llmtrace.cli._traces import format_trace_table, format_trace_tree


def register(commands: Any) -> None:
    """Add the `demo` command."""
    demo = commands.add_parser("demo", help="trace an example pipeline and print the traces")
    demo.add_argument("--questions", type=int, default=6, help="how many questions to ask")
    demo.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from llmtrace import _demo_app

    url = store_url(args)
    llmtrace.configure(store=url, project="demo")
    run_tag = uuid.uuid4().hex[:12]
    questions = _demo_app.QUESTIONS[: max(1, args.questions)]
    print(f"Tracing {len(questions)} questions into {url} (project 'demo', run {run_tag}) ...")
    results = _demo_app.answer_all(questions, run_tag)
    asyncio.run(_demo_app.stream_answer("How do I reset my password?", run_tag))
    llmtrace.flush()
    for question, answer in results:
        print(f"  Q: {question}\n  A: {answer}")
    page = llmtrace.search_traces(f"tag.demo_run = '{run_tag}'", limit=50)
    print(f"\n{len(page)} traces stored:\n")
    print(format_trace_table(page))
    slowest = llmtrace.search_traces(
        f"tag.demo_run = '{run_tag}' and status = 'OK'", order_by="latency_ms desc", limit=1
    )
    if slowest:
        print("\nSlowest successful trace:\n")
        print(format_trace_tree(llmtrace.get_trace(slowest[0].trace_id)))
    errors = llmtrace.search_traces(f"tag.demo_run = '{run_tag}' and status = 'ERROR'")
    print(f"\nTraces with errors: {len(errors)}")
    st = llmtrace.stats()
    print(f"Export: {st.exported} spans exported, {st.dropped} dropped.")
    print(f"Try: llmtrace --store '{url}' traces list --filter \"tag.demo_run = '{run_tag}'\"")
    return 0
