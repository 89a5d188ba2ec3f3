"""The prompt search filter: the store's filter language, evaluated on `Prompt` values.

Fields: `name`, `description`, `created_at`, `updated_at`, and `tags.<key>` (or `tag.<key>`).
Operators and syntax are those of trace and run search (`_filter_syntax`). The filter runs in
Python over the name-ordered scan of the (small) prompts table rather than in SQL: tags are a
JSON column, and this way `like` is case-sensitive and `ilike` is not on every backend alike
(SQLite's LIKE folds case, MySQL's binary names do not).

Example:
    >>> matches = compile_prompt_filter("name like 'qa-%' and tags.team = 'search'")
    >>> matches(Prompt("qa-short", tags={"team": "search"}))
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from llmtrace.exceptions import FilterSyntaxError
from llmtrace.store._filter_syntax import (
    LIKE_ESCAPE,
    MAX_FILTER_LENGTH,
    And,
    Column,
    Comparison,
    Field,
    FilterFail,
    Node,
    Not,
    Or,
    Parser,
    Token,
    convert_value,
    kv_value,
)
from llmtrace.store.prompt_entities import Prompt

Predicate = Callable[[Prompt], bool]

_FIELDS: dict[str, Column] = {
    "name": Column(sa.literal_column("name"), "string"),
    "description": Column(sa.literal_column("description"), "string"),
    "created_at": Column(sa.literal_column("created_at"), "time"),
    "updated_at": Column(sa.literal_column("updated_at"), "time"),
}
_TAG_PREFIXES = ("tags", "tag")
_KNOWN = ", ".join([*_FIELDS, "tags.<key>"])


class _PromptParser(Parser):
    def resolve_field(self, tok: Token) -> Field:
        segments = cast(tuple[str, ...], tok.value)
        head = segments[0].lower()
        if len(segments) == 1 and head in _FIELDS:
            return Field("prompt", head, tok.pos, column=_FIELDS[head])
        if head in _TAG_PREFIXES:
            if len(segments) == 1:
                raise FilterFail("expected '.' and a key after 'tags', e.g. tags.team", tok.end)
            if len(segments) > 2:
                dotted = ".".join(segments[1:])
                raise FilterFail(
                    f"keys containing '.' must be backquoted: tags.`{dotted}`", tok.pos
                )
            if not segments[1]:
                raise FilterFail("empty tag key", tok.pos)
            return Field("tag", f"tags.{segments[1]}", tok.pos, key=segments[1])
        source = self.text[tok.pos : tok.end]
        raise FilterFail(f"unknown field {source!r} (known: {_KNOWN})", tok.pos)


def _like(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == LIKE_ESCAPE and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _compare(op: str, values: list[Any]) -> Callable[[Any], bool]:
    first = values[0] if values else None
    if op.endswith("like"):
        regex = _like(str(first), "ilike" in op)
        negate = op.startswith("not ")
        return lambda v: (regex.fullmatch(v) is None) == negate
    checks: dict[str, Callable[[Any], bool]] = {
        "=": lambda v: bool(v == first),
        "!=": lambda v: bool(v != first),
        "<": lambda v: bool(v < first),
        "<=": lambda v: bool(v <= first),
        ">": lambda v: bool(v > first),
        ">=": lambda v: bool(v >= first),
        "in": lambda v: v in values,
        "not in": lambda v: v not in values,
    }
    return checks[op]


def _field_value(field: Field, prompt: Prompt) -> str | datetime | None:
    if field.kind == "tag":
        return prompt.tags.get(field.key)
    value: str | datetime | None = getattr(prompt, field.name)
    return value


def _compile_comparison(cmp: Comparison) -> Predicate:
    field, op = cmp.field, cmp.op
    if op in ("is null", "is not null"):
        want_null = op == "is null"
        return lambda p: (_field_value(field, p) is None) == want_null
    if field.kind == "tag":
        values: list[Any] = [kv_value(v, field, op) for v in cmp.values]
    else:
        column = cast(Column, field.column)
        if "like" in op and column.type != "string":
            raise FilterFail(f"'{op}' needs a text field, but {field.name} is a time", cmp.op_pos)
        values = [convert_value(v, field, column, op) for v in cmp.values]
    check = _compare(op, values)
    # SQL semantics: a missing value (no such tag, no description) matches no comparison.
    return lambda p: (value := _field_value(field, p)) is not None and check(value)


def _compile(node: Node) -> Predicate:
    if isinstance(node, And):
        items = [_compile(item) for item in node.items]
        return lambda p: all(item(p) for item in items)
    if isinstance(node, Or):
        items = [_compile(item) for item in node.items]
        return lambda p: any(item(p) for item in items)
    if isinstance(node, Not):
        inner = _compile(node.item)
        return lambda p: not inner(p)
    return _compile_comparison(node)


def compile_prompt_filter(text: str | None) -> Predicate | None:
    """A predicate on `Prompt`s for a filter, None for None or a blank filter; raises
    FilterSyntaxError (with the position) for an invalid one."""
    if text is None:
        return None
    try:
        if len(text) > MAX_FILTER_LENGTH:
            raise FilterFail(
                f"filter is too long ({len(text)} characters, max {MAX_FILTER_LENGTH})",
                MAX_FILTER_LENGTH,
            )
        if not text.strip():
            return None
        return _compile(_PromptParser(text).parse())
    except FilterFail as exc:
        raise FilterSyntaxError(exc.message, filter=text, position=exc.position) from None


__all__ = ["Predicate", "compile_prompt_filter"]
