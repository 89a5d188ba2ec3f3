"""Payload shapes the trace page recognises, and the feedback form's validation."""

from __future__ import annotations

import json

import pytest

from dashboard._feedback import RATINGS, validate
from dashboard._render import chat_messages, documents, message_text


def test_chat_inputs_and_outputs_in_the_stored_shapes() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert chat_messages({"messages": messages, "model": "m"}) == messages
    assert chat_messages(messages) == messages
    answer = {"role": "assistant", "content": "Hello"}
    assert chat_messages(answer) == [answer]
    assert chat_messages({"choices": [{"index": 0, "message": answer}]}) == [answer]
    calls = {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}
    assert chat_messages(calls) == [calls]


def test_payloads_that_are_not_conversations() -> None:
    assert chat_messages({"question": "why?"}) is None
    assert chat_messages("plain text") is None
    assert chat_messages([{"role": "wizard", "content": "x"}]) is None
    assert chat_messages({"messages": []}) is None


def test_message_text_of_string_openai_and_genai_content() -> None:
    assert message_text({"role": "user", "content": "hi"}) == "hi"
    parts = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}]
    assert message_text({"role": "user", "content": parts}) == "a\n\n[image_url]"
    genai = {"role": "user", "parts": [{"type": "text", "content": "b"}]}
    assert message_text(genai) == "b"


def test_documents_as_list_json_text_or_wrapped() -> None:
    docs = [{"id": "d", "score": 0.5, "content": "x"}]
    assert documents(docs) == docs
    assert documents(json.dumps(docs)) == docs
    assert documents({"documents": docs}) == docs
    assert documents([{"id": "d"}]) is None
    assert documents("not json") is None


def test_feedback_validation() -> None:
    g = validate(" helpful ", RATINGS[1], None, " fine ", "")
    assert (g.name, g.value, g.rationale, g.source_id) == ("helpful", True, "fine", None)
    assert validate("x", RATINGS[2], None, "", "bob").value is False
    assert validate("x", RATINGS[0], 0.0, "", "").value == 0.0
    with pytest.raises(ValueError, match="name"):
        validate("  ", RATINGS[1], None, "", "")
    with pytest.raises(ValueError, match="not both"):
        validate("x", RATINGS[1], 1.0, "", "")
    with pytest.raises(ValueError, match="rating"):
        validate("x", RATINGS[0], None, "only a comment", "")
    with pytest.raises(ValueError, match="longer"):
        validate("x" * 101, RATINGS[1], None, "", "")
