"""Tolerant parsing of a judge's JSON answer, and the schema checks applied to it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


class ParseError(ValueError):
    """The text holds no JSON object matching the schema; the message says what is wrong."""


def parse_json(text: str, schema: Mapping[str, Any] | None = None) -> Any:
    """The first JSON object in `text`, checked against `schema`'s required keys and types.

    Accepts bare JSON, JSON inside a Markdown code fence and JSON with prose around it.

    Example:
        >>> parse_json('Sure! ```json\\n{"score": 4}\\n``` Hope it helps.')
        {'score': 4}
    """
    data = _extract(text)
    if schema is not None:
        check(data, schema)
    return data


def _extract(text: str) -> Any:
    stripped = text.strip()
    candidates = [stripped]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(stripped)]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    for candidate in candidates:
        found = _first_object(candidate)
        if found is not None:
            return found
    raise ParseError(f"no JSON object in the judge's answer: {text[:200]!r}")


def _first_object(text: str) -> dict[str, Any] | None:
    """The first balanced `{...}` of `text` that decodes as a JSON object."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def check(data: Any, schema: Mapping[str, Any]) -> None:
    """Raise `ParseError` when `data` lacks a required key or a property has the wrong type
    (a small subset of JSON Schema: `type`, `required`, `properties`, `enum`)."""
    _check(data, schema, "$")


def _check(value: Any, schema: Mapping[str, Any], where: str) -> None:
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_is(value, name) for name in names):
            raise ParseError(f"{where} should be {expected}, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise ParseError(f"{where} should be one of {schema['enum']}, got {value!r}")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                raise ParseError(f"{where} misses the required key {key!r}")
        for key, sub in (schema.get("properties") or {}).items():
            if key in value and isinstance(sub, Mapping):
                _check(value[key], sub, f"{where}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]")


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def schema_instructions(schema: Mapping[str, Any]) -> str:
    """A system-prompt paragraph asking for JSON matching `schema` (for endpoints without
    structured output)."""
    return (
        "Answer with a single JSON object only, no prose and no code fence, matching this "
        f"JSON schema:\n{json.dumps(schema, sort_keys=True)}"
    )


REPAIR_PROMPT = (
    "Your previous answer was not valid JSON for the required schema ({error}). "
    "Reply again with the corrected JSON object only."
)
