"""Models: registered models, their versions with stages and aliases, the transition requests
awaiting a decision (approve or reject them here), and the prompt registry with a diff of two
versions of a prompt."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import _format as fmt
from dashboard import _paging, _store
from llmtrace.exceptions import LlmtraceError
from llmtrace.store import ModelVersion, RegisteredModel, Store, TransitionRequest, filter_literal

PAGE_SIZE = 50
VERSIONS_SHOWN = 200
REQUESTS_SHOWN = 100
NOTICE = "models_notice"


def models_table(models: list[RegisteredModel]) -> pd.DataFrame:
    """One row per registered model."""
    frame_: pd.DataFrame = pd.DataFrame(
        {
            "name": [m.name for m in models],
            "description": [m.description or "" for m in models],
            "approval": ["required" if m.requires_approval else "" for m in models],
            "aliases": [
                ", ".join(f"{a}→v{v}" for a, v in sorted(m.aliases.items())) for m in models
            ],
            "latest": [
                ", ".join(f"{v.stage}: v{v.version}" for v in m.latest_versions) for m in models
            ],
            "tags": [fmt.tags(m.tags) for m in models],
        }
    )
    return frame_


def versions_table(versions: list[ModelVersion]) -> pd.DataFrame:
    """One row per model version."""
    frame_: pd.DataFrame = pd.DataFrame(
        {
            "version": [v.version for v in versions],
            "stage": [v.stage for v in versions],
            "aliases": [", ".join(v.aliases) for v in versions],
            "run_id": [v.run_id or "" for v in versions],
            "source": [v.source for v in versions],
            "created by": [v.created_by or "" for v in versions],
            "created": [fmt.when(v.created_at) for v in versions],
            "description": [v.description or "" for v in versions],
        }
    )
    return frame_


def _decide(store: Store, request_id: str, approve: bool) -> None:
    """A button's callback: approve or reject, leaving the outcome for the next render."""
    user = st.session_state.get("models_user", "").strip() or None
    comment = st.session_state.get("models_comment", "").strip() or None
    try:
        if approve:
            done = store.approve_transition_request(request_id, approved_by=user, comment=comment)
        else:
            done = store.reject_transition_request(request_id, rejected_by=user, comment=comment)
    except LlmtraceError as exc:
        st.session_state[NOTICE] = ("error", f"Cannot decide request `{request_id}`: {exc}")
        return
    st.session_state[NOTICE] = (
        "success",
        f"{done.status.capitalize()}: {done.name} v{done.version} → {done.to_stage}.",
    )


def _requests(store: Store) -> None:
    st.header("Pending transition requests")
    kind, message = st.session_state.pop(NOTICE, (None, ""))
    if kind == "error":
        st.error(message)
    elif kind == "success":
        st.success(message)
    try:
        pending: list[TransitionRequest] = store.search_transition_requests(
            status="PENDING", limit=REQUESTS_SHOWN
        )
    except LlmtraceError as exc:
        st.error(f"Cannot list the requests: {exc}")
        return
    if not pending:
        st.caption("No request is waiting for a decision.")
        return
    cols = st.columns(2)
    cols[0].text_input("Your name (recorded with the decision)", key="models_user")
    cols[1].text_input("Comment", key="models_comment")
    for r in pending:
        line = st.columns([5, 1, 1])
        line[0].markdown(
            f"**{r.name}** v{r.version} → **{r.to_stage}**"
            + (" (archiving the others)" if r.archive_existing_versions else "")
            + f" · asked by {r.requested_by or 'anonymous'} on {fmt.when(r.requested_at)}"
            + (f" · “{r.comment}”" if r.comment else "")
        )
        line[1].button(
            "Approve",
            key=f"approve_{r.request_id}",
            on_click=_decide,
            args=(store, r.request_id, True),
        )
        line[2].button(
            "Reject",
            key=f"reject_{r.request_id}",
            on_click=_decide,
            args=(store, r.request_id, False),
        )


def _models(store: Store) -> None:
    st.header("Registered models")
    text = st.text_input(
        "Model filter",
        key="models_filter",
        placeholder="name like 'rag-%' and tags.team = 'search'",
    )
    stack = _paging.tokens("models", text.strip())
    try:
        page = store.search_registered_models(
            text.strip() or None, limit=PAGE_SIZE, page_token=stack[-1]
        )
    except LlmtraceError as exc:
        st.error(f"The model search failed: {exc}")
        return
    models = list(page)
    if not models:
        st.info("No registered models match." if text.strip() else "No registered models yet.")
        return
    st.dataframe(models_table(models), hide_index=True, width="stretch", key="models_table")
    _paging.pager("models", stack, page.next_page_token)
    name = st.selectbox("Model", [m.name for m in models], key="models_model")
    if not name:
        return
    try:
        versions = store.search_model_versions(
            f"name = {filter_literal(name)}", limit=VERSIONS_SHOWN
        )
    except LlmtraceError as exc:
        st.error(f"Cannot list the versions: {exc}")
        return
    st.caption(f"Versions of {name}, newest first")
    st.dataframe(
        versions_table(list(versions)), hide_index=True, width="stretch", key="models_versions"
    )


def _template_text(template: Any) -> str:
    return (
        template
        if isinstance(template, str)
        else json.dumps(template, indent=2, ensure_ascii=False)
    )


def prompt_diff(old: Any, new: Any, old_name: str, new_name: str) -> str:
    """A unified diff of two prompt templates (chat templates as indented JSON)."""
    lines = difflib.unified_diff(
        _template_text(old).splitlines(),
        _template_text(new).splitlines(),
        fromfile=old_name,
        tofile=new_name,
        lineterm="",
    )
    return "\n".join(lines)


def _prompts(store: Store) -> None:
    st.header("Prompts")
    text = st.text_input("Prompt filter", key="prompts_filter", placeholder="name like 'support-%'")
    stack = _paging.tokens("prompts", text.strip())
    try:
        page = store.search_prompts(text.strip() or None, limit=PAGE_SIZE, page_token=stack[-1])
    except LlmtraceError as exc:
        st.error(f"The prompt search failed: {exc}")
        return
    prompts = list(page)
    if not prompts:
        st.info("No prompts match." if text.strip() else "No prompts registered yet.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "name": [p.name for p in prompts],
                "latest version": [p.latest_version for p in prompts],
                "aliases": [
                    ", ".join(f"{a}→v{v}" for a, v in sorted(p.aliases.items())) for p in prompts
                ],
                "description": [p.description or "" for p in prompts],
            }
        ),
        hide_index=True,
        width="stretch",
        key="prompts_table",
    )
    _paging.pager("prompts", stack, page.next_page_token)
    name = st.selectbox("Prompt", [p.name for p in prompts], key="prompts_prompt")
    if not name:
        return
    try:
        versions = list(store.list_prompt_versions(name, limit=VERSIONS_SHOWN))
    except LlmtraceError as exc:
        st.error(f"Cannot list the versions: {exc}")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "version": [v.version for v in versions],
                "type": [v.template_type for v in versions],
                "variables": [", ".join(v.variables) for v in versions],
                "aliases": [", ".join(v.aliases) for v in versions],
                "message": [v.commit_message or "" for v in versions],
                "created by": [v.created_by or "" for v in versions],
                "created": [fmt.when(v.created_at) for v in versions],
            }
        ),
        hide_index=True,
        width="stretch",
        key="prompts_versions",
    )
    if len(versions) < 2:
        return
    by_number = {v.version: v for v in versions}
    numbers = list(by_number)
    cols = st.columns(2)
    old = cols[0].selectbox("From version", numbers, index=1, key="prompts_from")
    new = cols[1].selectbox("To version", numbers, index=0, key="prompts_to")
    if old is None or new is None:
        return
    diff = prompt_diff(
        by_number[old].template, by_number[new].template, f"{name} v{old}", f"{name} v{new}"
    )
    st.code(diff or "(identical templates)", language="diff")


def main() -> None:
    """Render the page."""
    store = _store.get_store()
    st.title("Models")
    _requests(store)
    _models(store)
    if hasattr(store, "search_prompts") and hasattr(store, "list_prompt_versions"):
        _prompts(store)


main()
