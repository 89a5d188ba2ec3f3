"""Readable rendering of span payloads: chat messages as a conversation, retrieved documents
with their scores, everything else as collapsible JSON or text.

Payloads come in the shapes the store keeps (`{"messages": [...]}` inputs and a message, or a
list of them, as outputs; documents as `{"id", "score", "content", "metadata"}`), with content
either a string, OpenAI-style parts (`{"type": "text", "text": ...}`) or GenAI parts
(`{"type": "text", "content": ...}`). Anything unrecognised falls back to JSON. Every list is
capped so that one huge payload cannot freeze the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import streamlit as st

from llmtrace import semconv as sc

MAX_MESSAGES = 50
MAX_DOCUMENTS = 20
MAX_TEXT_CHARS = 20_000
MAX_EVENTS = 50
_ROLES = {"user", "assistant", "system", "tool", "developer", "function", "ai", "human"}
_AVATARS = {
    "system": ":material/settings:",
    "developer": ":material/settings:",
    "tool": ":material/build:",
    "function": ":material/build:",
}


def _is_message(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("role"), str)
        and value["role"].lower() in _ROLES
        and any(k in value for k in ("content", "parts", "tool_calls"))
    )


def chat_messages(value: Any) -> list[Mapping[str, Any]] | None:
    """The chat messages in a payload, or None when it is not a conversation."""
    if isinstance(value, Mapping):
        if isinstance(value.get("messages"), list):
            value = value["messages"]
        elif _is_message(value):
            return [value]
        elif isinstance(value.get("choices"), list):
            found = [c.get("message") for c in value["choices"] if isinstance(c, Mapping)]
            value = found
    if isinstance(value, list) and value and all(_is_message(m) for m in value):
        return list(value)
    return None


def documents(value: Any) -> list[Mapping[str, Any]] | None:
    """Retrieved documents in a payload (a list of dicts with content), or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, Mapping) and isinstance(value.get("documents"), list):
        value = value["documents"]
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(d, Mapping) and any(k in d for k in ("content", "page_content", "text"))
            for d in value
        )
    ):
        return list(value)
    return None


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message: its string content or its text parts joined."""
    content = message.get("content")
    if content is None:
        content = message.get("parts")
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping):
            kind = part.get("type")
            text = part.get("text", part.get("content"))
            if kind in (None, "text", "input_text", "output_text") and isinstance(text, str):
                texts.append(text)
            elif kind:
                texts.append(f"[{kind}]")
    return "\n\n".join(texts)


def _clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit:,} more characters not shown)"


def render_messages(messages: list[Mapping[str, Any]]) -> None:
    """A conversation: one chat bubble per message (the first `MAX_MESSAGES`)."""
    for message in messages[:MAX_MESSAGES]:
        role = str(message.get("role", "")).lower()
        with st.chat_message(role, avatar=_AVATARS.get(role)):
            text = message_text(message)
            if text:
                st.markdown(_clip(text))
            calls = message.get("tool_calls")
            if calls:
                st.caption("Tool calls")
                st.json(calls, expanded=False)
            if message.get("tool_call_id"):
                st.caption(f"result of tool call `{message['tool_call_id']}`")
    if len(messages) > MAX_MESSAGES:
        st.caption(f"… {len(messages) - MAX_MESSAGES} more messages not shown")


def render_documents(docs: list[Mapping[str, Any]]) -> None:
    """Retrieved documents with id and score (the first `MAX_DOCUMENTS`)."""
    for i, doc in enumerate(docs[:MAX_DOCUMENTS], start=1):
        with st.container(border=True):
            label = [f"**#{i}**"]
            if doc.get("id") is not None:
                label.append(f"`{doc['id']}`")
            score = doc.get("score")
            if isinstance(score, (int, float)):
                label.append(f"score **{score:.4g}**")
            st.markdown(" · ".join(label))
            content = doc.get("content", doc.get("page_content", doc.get("text")))
            st.text(_clip(content if isinstance(content, str) else json.dumps(content), 4000))
            if doc.get("metadata"):
                st.json(doc["metadata"], expanded=False)
    if len(docs) > MAX_DOCUMENTS:
        st.caption(f"… {len(docs) - MAX_DOCUMENTS} more documents not shown")


def render_payload(value: Any) -> None:
    """Inputs or outputs of a span, in the most readable form that fits."""
    if value is None:
        st.caption("(none)")
        return
    messages = chat_messages(value)
    if messages is not None:
        render_messages(messages)
        return
    docs = documents(value)
    if docs is not None:
        render_documents(docs)
        return
    if isinstance(value, str):
        st.code(_clip(value), language=None, wrap_lines=True)
    elif isinstance(value, (int, float, bool)):
        st.code(json.dumps(value), language=None)
    else:
        st.json(value, expanded=1)


def span_documents(attributes: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """Documents a retriever span recorded as an attribute."""
    return documents(attributes.get(sc.RETRIEVAL_DOCUMENTS))


def render_events(events: list[dict[str, Any]]) -> None:
    """Span events; exceptions as errors with their stack trace."""
    for event in events[:MAX_EVENTS]:
        attrs = event.get("attributes") or {}
        if event.get("name") == "exception":
            kind = attrs.get("exception.type", "Exception")
            st.error(f"**{kind}**: {attrs.get('exception.message', '')}")
            trace = attrs.get("exception.stacktrace")
            if trace:
                with st.expander("Stack trace"):
                    st.code(_clip(str(trace)), language=None)
        else:
            st.markdown(f"`{event.get('name', 'event')}`")
            if attrs:
                st.json(attrs, expanded=False)
    if len(events) > MAX_EVENTS:
        st.caption(f"… {len(events) - MAX_EVENTS} more events not shown")


__all__ = [
    "chat_messages",
    "documents",
    "message_text",
    "render_documents",
    "render_events",
    "render_messages",
    "render_payload",
    "span_documents",
]
