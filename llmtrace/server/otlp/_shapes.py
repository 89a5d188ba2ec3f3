"""Helpers the convention mappers share: reading flattened attributes and shaping messages.

Stored chat messages have one shape whatever the source: ``{"role", "content"}`` plus, when
present, ``"tool_calls": [{"id", "name", "arguments"}]``, ``"tool_call_id"`` and ``"name"``.
`content` is a string for plain text, else a list of parts (``{"type": "text", "text"}``,
``{"type": "image", "url"}``...). Retrieved documents are ``{"id", "score", "content",
"metadata"}`` (keys without a value left out).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

Message = dict[str, Any]

try:  # the `fast` extra: several times faster on the payloads every model span carries
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None  # type: ignore[assignment]

_loads: Callable[[str], Any] = json.loads if _orjson is None else _orjson.loads


def put(attrs: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` unless it is already set or `value` is None: what a span says itself, or what
    a convention mapped earlier, wins."""
    if value is not None and key not in attrs:
        attrs[key] = value


def integer(value: Any) -> int | None:
    """An int from an int or a numeric string; None otherwise (bools are not counts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def first(attrs: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first of `keys` that is set."""
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def text(value: Any) -> str | None:
    """A non-empty string, or None."""
    return value.replace("\x00", "") if isinstance(value, str) and value else None


def maybe_json(value: Any) -> Any:
    """A JSON string decoded (structured attribute values pass through); None if undecodable."""
    if isinstance(value, str):
        try:
            return _loads(value)
        except (ValueError, RecursionError):
            return None
    return value


def dump(value: Any) -> str:
    """Compact JSON text of a payload (never raises: unknown objects become strings)."""
    if _orjson is not None:
        try:
            text: str = _orjson.dumps(value, default=str).decode()
            return text
        except (TypeError, ValueError):  # e.g. integers beyond 64 bits: the slow path
            pass
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):  # circular despite `default`
        return json.dumps(str(value), ensure_ascii=False)


def payload_text(value: Any, *, is_json: bool) -> str | None:
    """A payload attribute as stored JSON text: JSON text passes through unparsed (the store
    reads it lazily), anything else is encoded (plain text becomes a JSON string)."""
    if value is None:
        return None
    if isinstance(value, str):
        if is_json and value[:1] in ("{", "[", '"'):
            return value.replace("\x00", "") if "\x00" in value else value
        return dump(value)
    return dump(value)


def looks_json(value: Any) -> bool:
    """True for a string that starts like a JSON object or array."""
    return isinstance(value, str) and value[:1] in ("{", "[")


def indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Group flattened `{prefix}{i}.{rest}` keys by `i`: ``[{rest: value}, ...]`` in index order.

    >>> indexed({"m.0.role": "user", "m.1.role": "ai", "m.0.content": "hi"}, "m.")
    [{'role': 'user', 'content': 'hi'}, {'role': 'ai'}]
    """
    groups: dict[int, dict[str, Any]] = {}
    size = len(prefix)
    for key, value in attrs.items():
        if key.startswith(prefix):
            index, _, rest = key[size:].partition(".")
            # isdecimal: what int() takes ("²" is a digit but not a decimal); 9 digits at most.
            if index.isdecimal() and len(index) < 10:
                groups.setdefault(int(index), {})[rest] = value
    return [groups[i] for i in sorted(groups)]


def content_of(parts: list[dict[str, Any]]) -> Any:
    """Message content from normalised parts: the text when it is a single text part."""
    if len(parts) == 1 and parts[0].get("type") == "text":
        return parts[0].get("text")
    return parts or None


def openai_parts(content: Any) -> Any:
    """Content in the OpenAI shape (a string or a list of typed parts), as stored content."""
    if not isinstance(content, list):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            parts.append({"type": "text", "text": str(part)})
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            parts.append({"type": "text", "text": part.get("text")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append({"type": "image", "url": url})
        else:
            parts.append(part)
    return content_of(parts)


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """A stored tool call."""
    out: dict[str, Any] = {"id": call_id, "name": name, "arguments": arguments}
    return {k: v for k, v in out.items() if v is not None}


def openai_message(message: Mapping[str, Any], role: str | None = None) -> Message:
    """A message in OpenAI's chat shape (`tool_calls` with `function`) as a stored message."""
    out: Message = {"role": message.get("role") or role, "content": None}
    out["content"] = openai_parts(message.get("content"))
    calls = maybe_json(message.get("tool_calls"))
    if isinstance(calls, list) and calls:
        stored = []
        for call in calls:
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            function = function if isinstance(function, dict) else call
            name, arguments = function.get("name"), function.get("arguments")
            stored.append(tool_call(call.get("id"), name, arguments))
        out["tool_calls"] = stored
    call_id = message.get("tool_call_id") or (message.get("id") if out["role"] == "tool" else None)
    if call_id is not None:
        out["tool_call_id"] = call_id
    if isinstance(message.get("name"), str):
        out["name"] = message["name"]
    return out


def genai_message(message: Mapping[str, Any]) -> Message:
    """A message of `gen_ai.input.messages`/`gen_ai.output.messages` (typed `parts`) as stored."""
    out: Message = {"role": message.get("role"), "content": None}
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    raw_parts = message.get("parts")
    for part in raw_parts if isinstance(raw_parts, list) else ():
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part.get("content")})
        elif kind == "tool_call":
            calls.append(tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            out["tool_call_id"] = part.get("id")
            response = part.get("response")
            shown = response if isinstance(response, str) else dump(response)
            parts.append({"type": "text", "text": shown})
        else:
            parts.append(part)
    out["content"] = content_of(parts)
    if calls:
        out["tool_calls"] = calls
    if isinstance(message.get("name"), str):
        out["name"] = message["name"]
    return out


def system_message(instructions: Any) -> Message | None:
    """The system message of `gen_ai.system_instructions` (a list of parts, or text)."""
    if isinstance(instructions, str):
        return {"role": "system", "content": instructions}
    if isinstance(instructions, list):
        return genai_message({"role": "system", "parts": instructions})
    return None


def outputs_of(messages: list[Any]) -> Any:
    """Stored outputs of a call: its message, or the list when it returned several."""
    return messages[0] if len(messages) == 1 else messages


def document(
    doc_id: Any = None, score: Any = None, content: Any = None, metadata: Any = None
) -> dict[str, Any]:
    """A stored retrieved document (metadata given as JSON text is decoded)."""
    if isinstance(metadata, str):
        decoded = maybe_json(metadata)
        metadata = decoded if isinstance(decoded, dict) else metadata
    out = {"id": doc_id, "score": score, "content": content, "metadata": metadata}
    return {k: v for k, v in out.items() if v is not None}


__all__ = [
    "Message",
    "content_of",
    "document",
    "dump",
    "first",
    "genai_message",
    "indexed",
    "integer",
    "looks_json",
    "maybe_json",
    "openai_message",
    "openai_parts",
    "outputs_of",
    "payload_text",
    "put",
    "system_message",
    "text",
    "tool_call",
]
