"""The dashboard's pages under `streamlit.testing.v1.AppTest`, over a real SQLite store."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from llmtrace.store import SqlStore
from tests.dashboard.conftest import Seeded, seed, span, tid

App = Callable[[str], AppTest]


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def names(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["name"])


def texts(at: AppTest) -> str:
    """Every text the page shows (markdown, captions, errors, titles...), joined."""
    parts = [
        str(getattr(node, "value", ""))
        for kind in ("markdown", "caption", "error", "title", "subheader", "info", "warning")
        for node in getattr(at, kind)
    ]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def on_page(at: AppTest, page: str, **params: str) -> AppTest:
    at.switch_page(f"pages/{page}")
    at.query_params.clear()
    at.query_params.update(params)
    return no_exception(at.run())


# --- every page on an empty store ----------------------------------------------------------


def test_traces_page_renders_on_an_empty_store(migrated_sqlite_url: str, app: App) -> None:
    at = no_exception(app(migrated_sqlite_url).run())
    assert not at.dataframe
    assert "No traces yet" in texts(at)
    assert migrated_sqlite_url.rsplit("/", 1)[-1] in at.sidebar.code[0].value


def test_sessions_and_trace_pages_render_on_an_empty_store(
    migrated_sqlite_url: str, app: App
) -> None:
    at = no_exception(app(migrated_sqlite_url).run())
    assert "No sessions yet" in texts(on_page(at, "sessions.py"))
    assert "paste its id" in texts(on_page(at, "trace.py"))
    missing = on_page(at, "trace.py", trace_id="ab" * 16)
    assert f"No trace `{'ab' * 16}`" in texts(missing)


def test_without_a_store_the_page_says_how_to_start(
    monkeypatch: pytest.MonkeyPatch, app: App
) -> None:
    monkeypatch.delenv("LLMTRACE_STORE", raising=False)
    at = app("")
    at.run()
    assert "No store configured" in texts(at)


# --- traces ---------------------------------------------------------------------------------


def test_traces_page_lists_seeded_traces_newest_first(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    frame = at.dataframe[0].value
    assert list(frame["name"]) == ["failing", "answer", "answer"]
    assert list(frame["trace_id"]) == [seeded.failing, seeded.chat2, seeded.chat]
    first_chat = frame[frame["trace_id"] == seeded.chat].iloc[0]
    assert first_chat["tokens"] == 150 and first_chat["session"] == "s-1"
    assert first_chat["tags"] == "env=prod" and "refund policy" in first_chat["input"]
    assert first_chat["open"] == f"trace?trace_id={seeded.chat}"
    assert "ERROR" in frame.iloc[0]["status"]


def test_valid_filter_narrows_and_quick_filters_combine(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    at.text_input(key="traces_filter").input("session_id = 's-1'").run()
    assert names(no_exception(at)) == ["answer", "answer"]
    at.selectbox(key="traces_model").select("gpt-test").run()
    assert len(no_exception(at).dataframe[0].value) == 2
    at.text_input(key="traces_filter").input("").run()
    at.selectbox(key="traces_model").select("Any").run()
    at.selectbox(key="traces_status").select("ERROR").run()
    assert names(no_exception(at)) == ["failing"]
    at.selectbox(key="traces_type").select("RETRIEVER").run()
    assert not no_exception(at).dataframe and "No traces match" in texts(at)


def test_invalid_filter_shows_the_error_and_its_position(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    at.text_input(key="traces_filter").input("status = 'OK' and").run()
    no_exception(at)
    assert not at.dataframe
    message = at.error[0].value
    assert message.startswith("Invalid filter:") and "position 17" in message
    assert at.code[-1].value == "status = 'OK' and\n" + " " * 17 + "^"
    # With a quick filter on, the position still points into the user's own text.
    at.selectbox(key="traces_status").select("OK").run()
    assert "position 17" in no_exception(at).error[0].value


def test_order_by_sorts_on_the_server(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    at.selectbox(key="traces_order").select("Slowest first").run()
    assert names(no_exception(at)) == ["answer", "answer", "failing"]


def test_pagination_next_and_previous(migrated_sqlite_url: str, app: App) -> None:
    seeded = seed(migrated_sqlite_url, bulk=30)
    at = no_exception(app(seeded.url).run())
    at.selectbox(key="traces_limit").select(25).run()
    first = list(no_exception(at).dataframe[0].value["trace_id"])
    assert len(first) == 25 and at.button(key="traces_prev").disabled
    at.button(key="traces_next").click().run()
    second = list(no_exception(at).dataframe[0].value["trace_id"])
    assert len(second) == 33 - 25 and not set(first) & set(second)
    assert set(first) | set(second) == {seeded.chat, seeded.chat2, seeded.failing, *seeded.bulk}
    assert at.button(key="traces_next").disabled
    at.button(key="traces_prev").click().run()
    assert list(no_exception(at).dataframe[0].value["trace_id"]) == first


def test_selecting_a_row_opens_the_trace(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    at.session_state["traces_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    no_exception(at.run())
    assert at.query_params.get("trace_id") in (seeded.failing, [seeded.failing])
    assert at.title[0].value == "failing"


# --- trace detail ---------------------------------------------------------------------------


def test_trace_detail_shows_the_span_tree_and_chat_messages(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    at = on_page(at, "trace.py", trace_id=seeded.chat, span_id=f"{1:08x}{3:08x}")
    assert at.title[0].value == "answer"
    tree = at.dataframe[0].value
    assert [s.strip(" \u2003") for s in tree["span"]] == [
        "▾ answer",
        "· retrieve",
        "· chat gpt-test",
    ]
    assert list(tree["type"]) == ["CHAIN", "RETRIEVER", "LLM"]
    assert at.subheader[1].value == "chat gpt-test"
    bubbles = [(m.name, m.markdown[0].value) for m in at.chat_message]
    assert bubbles == [
        ("system", "You are a support bot."),
        ("user", "What is the refund policy?"),
        ("assistant", "30 days, no questions."),
    ]
    shown = texts(at)
    assert "Tokens 150" in shown and "$0.0021" in shown
    assert len(at.get("vega_lite_chart")) == 1


def test_trace_detail_shows_retrieved_documents_with_scores(seeded: Seeded, app: App) -> None:
    at = on_page(app(seeded.url).run(), "trace.py", trace_id=seeded.chat, span_id=f"{1:08x}{2:08x}")
    shown = texts(at)
    assert "`doc-1` · score **0.91**" in shown and "`doc-2` · score **0.42**" in shown
    assert "Refunds within 30 days." in [t.value for t in at.text]


def test_trace_detail_shows_an_error_span_and_its_exception(seeded: Seeded, app: App) -> None:
    at = on_page(
        app(seeded.url).run(), "trace.py", trace_id=seeded.failing, span_id=f"{3:08x}{2:08x}"
    )
    errors = [e.value for e in at.error]
    assert errors[0].startswith("2 span(s) failed") and "**lookup**" in errors[0]
    assert "Error: KeyError: 'order-42'" in errors
    assert "**KeyError**: 'order-42'" in errors
    assert "KeyError: 'order-42'" in at.expander[-1].code[0].value


def test_span_tree_rows_select_a_span(seeded: Seeded, app: App) -> None:
    at = on_page(app(seeded.url).run(), "trace.py", trace_id=seeded.chat)
    assert at.subheader[1].value == "answer"  # the root by default
    key = f"tree_{seeded.chat}_1"
    at.session_state[key] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    no_exception(at.run())
    assert at.subheader[1].value == "retrieve"
    assert at.query_params["span_id"] in (f"{1:08x}{2:08x}", [f"{1:08x}{2:08x}"])


def test_feedback_form_stores_a_human_assessment(seeded: Seeded, app: App) -> None:
    at = on_page(app(seeded.url).run(), "trace.py", trace_id=seeded.chat)
    # Invalid: neither a rating nor a score.
    at.form_submit_button[0].click().run()
    assert "Give a rating (👍/👎) or a score." in [e.value for e in no_exception(at).error]
    at.radio[0].set_value("👎 Bad")
    at.text_area[0].input("Wrong policy quoted")
    at.text_input[-1].input("alice@example.com")
    at.form_submit_button[0].click().run()
    no_exception(at)
    store = SqlStore(seeded.url)
    try:
        [stored] = store.get_assessments(seeded.chat)
    finally:
        store.close()
    assert (stored.name, stored.value, stored.source_type) == ("user_feedback", False, "HUMAN")
    assert stored.rationale == "Wrong policy quoted" and stored.source_id == "alice@example.com"
    listed = at.dataframe[-1].value
    assert list(listed["source"]) == ["HUMAN"] and list(listed["value"]) == ["False"]


# --- sessions -------------------------------------------------------------------------------


def test_sessions_page_lists_sessions_and_groups_their_traces(seeded: Seeded, app: App) -> None:
    at = on_page(app(seeded.url).run(), "sessions.py")
    listing = at.dataframe[0].value
    assert list(listing["session"]) == ["s-2", "s-1"]
    assert list(listing["traces"]) == [1, 2] and list(listing["errors"]) == [1, 0]
    at = on_page(at, "sessions.py", session_id="s-1")
    assert at.title[0].value == "Session s-1"
    turns = [(m.name, m.markdown[0].value) for m in at.chat_message]
    assert turns == [
        ("user", "What is the refund policy?"),
        ("assistant", "30 days, no questions."),
        ("user", "And shipping?"),
        ("assistant", "Three days."),
    ]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Traces"] == "2" and metrics["Tokens"] == "300"
    assert metrics["Cost"] == "$0.004200" and metrics["Errors"] == "0"
    assert metrics["Latency"] == "1.80 s"


def test_a_session_with_an_error_trace(seeded: Seeded, app: App) -> None:
    at = on_page(app(seeded.url).run(), "sessions.py", session_id="s-2")
    assert {m.label: m.value for m in at.metric}["Errors"] == "1"
    assert [e.value for e in at.error] == ["The trace failed."]


# --- a large trace --------------------------------------------------------------------------


def test_a_10k_span_trace_renders_a_capped_window(migrated_sqlite_url: str, app: App) -> None:
    # A root with 100 children of 99 grandchildren each: 10,001 spans.
    records = [span(7, 0, None, "root", start_ms=0, dur_ms=60_000)]
    for i in range(1, 101):
        records.append(span(7, i, 0, f"step-{i}", start_ms=i * 100, dur_ms=90))
        for j in range(99):
            n = 1000 + i * 100 + j
            records.append(span(7, n, i, f"leaf-{i}-{j}", start_ms=i * 100 + j, dur_ms=1))
    store = SqlStore(migrated_sqlite_url)
    try:
        store.log_spans(records)
    finally:
        store.close()
    at = app(migrated_sqlite_url).run()
    started = time.perf_counter()
    at = on_page(at, "trace.py", trace_id=tid(7))
    elapsed = time.perf_counter() - started
    tree = at.dataframe[0].value
    # Opened to depth 1 (root and its 100 children), each child marked collapsed.
    assert len(tree) == 101 and tree["span"].iloc[1].strip(" \u2003") == "▸ step-1"
    assert "10,001 spans in the trace" in texts(at)
    at.text_input(key=f"find_{tid(7)}").input("leaf-").run()
    tree = no_exception(at).dataframe[0].value
    assert len(tree) == 200  # one page of the 9,900 matches
    assert "of 9,900 visible" in texts(at)
    assert elapsed < 20, f"the 10k-span trace took {elapsed:.1f} s to render"


# --- interactions ---------------------------------------------------------------------------


def test_coming_back_to_traces_after_opening_one_shows_the_list(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    at.session_state["traces_table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    assert no_exception(at.run()).title[0].value == "answer"
    at = on_page(at, "traces.py")
    assert at.title[0].value == "Traces" and len(at.dataframe[0].value) == 3


def test_collapsing_and_expanding_a_span(seeded: Seeded, app: App) -> None:
    at = on_page(app(seeded.url).run(), "trace.py", trace_id=seeded.chat)
    [toggle] = [b for b in at.button if b.label.startswith("Collapse answer")]
    toggle.click().run()
    tree = no_exception(at).dataframe[0].value
    assert [s.strip(" \u2003") for s in tree["span"]] == ["▸ answer"]
    [toggle] = [b for b in at.button if b.label.startswith("Expand answer")]
    toggle.click().run()
    assert len(no_exception(at).dataframe[0].value) == 3


def test_time_range_quick_filter(seeded: Seeded, app: App) -> None:
    at = no_exception(app(seeded.url).run())
    at.selectbox(key="traces_time").select("Last 15 minutes").run()
    assert not no_exception(at).dataframe and "No traces match" in texts(at)
    assert "start_time >= '" in at.session_state["traces_effective"]


def test_selecting_a_session_opens_its_conversation(seeded: Seeded, app: App) -> None:
    at = on_page(app(seeded.url).run(), "sessions.py")
    at.session_state["sessions_table_1"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    no_exception(at.run())
    assert at.title[0].value == "Session s-1" and len(at.chat_message) == 4
    at.button[0].click().run()  # "← All sessions"
    assert no_exception(at).title[0].value == "Sessions"
