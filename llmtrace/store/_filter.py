"""The trace search filter language, compiled to SQLAlchemy expressions over the `traces` table.

The tokenizer and parser are shared with run search (`_filter_syntax`); this module names the
trace fields and compiles the AST. Every value becomes a bound parameter: user text never
reaches the SQL string, so a filter can be wrong but never dangerous.

Grammar (keywords are case-insensitive; precedence `not` > `and` > `or`)::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" or_expr ")" | comparison
    comparison := field ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") value
                | field ["not"] ("like" | "ilike") string
                | field ["not"] "in" "(" value ("," value)* ")"
                | field "is" ["not"] "null"
    value      := 'string' | "string" | integer | float | "true" | "false"
    field      := name | "tag." key | "metadata." key | "span." name | "text"
    key        := word | `backquoted key`

Strings accept backslash escapes of quotes and the backslash; `like` patterns use `\\` as their
escape character (`name like '100\\\\%'` matches a literal "100%"). Times are ISO-8601 strings
(naive means UTC) or epoch milliseconds.

Semantics worth knowing: comparisons follow SQL, so `session_id != 'a'` does not match traces
without a session (use `is null`); `tag.k <op> v` means "has tag k whose value matches", and
`tag.k is null` means "has no tag k"; `span.<f> <op> v` means "has a span that matches";
`text = 'x'` means "a span's inputs or outputs contain x", case-insensitively. Whether plain
`=` and `like` are case-sensitive depends on the database collation (MySQL's default is not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa

from llmtrace.exceptions import InvalidQueryError
from llmtrace.store._filter_syntax import (
    LIKE_ESCAPE,
    MAX_FILTER_LENGTH,
    MAX_NESTING_DEPTH,
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
    apply_op,
    compile_kv,
    compile_text,
    convert_value,
    escape_like,
)
from llmtrace.store.models import STATUS_VALUES, SpanRow, TraceMetadataRow, TraceRow, TraceTagRow

# Core tables rather than ORM attributes, so that the expressions drop into Core statements
# without pulling in the ORM compilation path.
_traces = cast(sa.Table, TraceRow.__table__)
_spans = cast(sa.Table, SpanRow.__table__)
_tags = cast(sa.Table, TraceTagRow.__table__)
_metadata = cast(sa.Table, TraceMetadataRow.__table__)


# --- fields ---------------------------------------------------------------------------------

_TRACE_FIELDS: dict[str, Column] = {
    "name": Column(_traces.c.name, "string"),
    "status": Column(_traces.c.status, "string", upper=True, choices=STATUS_VALUES),
    "trace_id": Column(_traces.c.trace_id, "string"),
    "session_id": Column(_traces.c.session_id, "string"),
    "user_id": Column(_traces.c.user_id, "string"),
    "run_id": Column(_traces.c.run_id, "string"),
    "project": Column(_traces.c.project, "string"),
    "latency_ms": Column(_traces.c.duration_ms, "float"),
    "start_time": Column(_traces.c.start_time, "time"),
    "end_time": Column(_traces.c.end_time, "time"),
    "tokens": Column(_traces.c.total_tokens, "int"),
    "input_tokens": Column(_traces.c.input_tokens, "int"),
    "output_tokens": Column(_traces.c.output_tokens, "int"),
    "span_count": Column(_traces.c.span_count, "int"),
    "error_count": Column(_traces.c.error_count, "int"),
    "cost": Column(_traces.c.cost, "float"),
}
_TRACE_ALIASES = {"duration_ms": "latency_ms", "total_tokens": "tokens"}

_SPAN_FIELDS: dict[str, Column] = {
    "name": Column(_spans.c.name, "string"),
    "type": Column(_spans.c.span_type, "string", upper=True),
    "model": Column(_spans.c.model, "string"),
    "status": Column(_spans.c.status, "string", upper=True, choices=STATUS_VALUES),
    "latency_ms": Column(_spans.c.duration_ms, "float"),
    "input_tokens": Column(_spans.c.input_tokens, "int"),
    "output_tokens": Column(_spans.c.output_tokens, "int"),
    "cost": Column(_spans.c.cost, "float"),
}
_SPAN_ALIASES = {"span_type": "type", "duration_ms": "latency_ms"}

_KNOWN_FIELDS = ", ".join(
    [*sorted([*_TRACE_FIELDS, *_TRACE_ALIASES]), "text", "tag.<key>", "metadata.<key>"]
    + [f"span.{f}" for f in sorted([*_SPAN_FIELDS, *_SPAN_ALIASES])]
)


# --- parser ---------------------------------------------------------------------------------


class _TraceParser(Parser):
    def resolve_field(self, tok: Token) -> Field:
        segments = cast(tuple[str, ...], tok.value)
        head = segments[0].lower()
        source = self.text[tok.pos : tok.end]
        if len(segments) == 1:
            name = _TRACE_ALIASES.get(head, head)
            if name in _TRACE_FIELDS:
                return Field("trace", name, tok.pos, column=_TRACE_FIELDS[name])
            if name == "text":
                return Field("text", name, tok.pos)
            if name in ("tag", "metadata", "span"):
                raise FilterFail(
                    f"expected '.' and a name after '{head}', e.g. {head}.name", tok.end
                )
        elif head in ("tag", "metadata"):
            if len(segments) > 2:
                dotted = ".".join(segments[1:])
                raise FilterFail(
                    f"keys containing '.' must be backquoted: {head}.`{dotted}`", tok.pos
                )
            if not segments[1]:
                raise FilterFail(f"empty {head} key", tok.pos)
            kind = "tag" if head == "tag" else "metadata"
            return Field(kind, f"{head}.{segments[1]}", tok.pos, key=segments[1])
        elif head == "span" and len(segments) == 2:
            sub = segments[1].lower()
            sub = _SPAN_ALIASES.get(sub, sub)
            if sub in _SPAN_FIELDS:
                return Field("span", f"span.{sub}", tok.pos, column=_SPAN_FIELDS[sub])
        raise FilterFail(f"unknown field {source!r} (known: {_KNOWN_FIELDS})", tok.pos)


# --- compiler -------------------------------------------------------------------------------


def _compile_text(cmp: Comparison) -> sa.ColumnElement[bool]:
    if cmp.op not in ("=", "!=", "like", "ilike", "not like", "not ilike"):
        raise FilterFail("text supports =, !=, like, ilike, not like and not ilike", cmp.op_pos)
    value = cmp.values[0]
    if not isinstance(value.value, str):
        raise FilterFail("expected a string for text", value.pos)
    pattern = value.value
    if cmp.op in ("=", "!="):
        pattern = f"%{escape_like(pattern)}%"
    found = sa.exists().where(
        _spans.c.trace_id == _traces.c.trace_id,
        sa.or_(
            _spans.c.inputs.ilike(pattern, escape=LIKE_ESCAPE),
            _spans.c.outputs.ilike(pattern, escape=LIKE_ESCAPE),
        ),
    )
    return ~found if cmp.op in ("!=", "not like", "not ilike") else found


def _compile_comparison(cmp: Comparison) -> sa.ColumnElement[bool]:
    field, op = cmp.field, cmp.op
    if field.kind == "text":
        return _compile_text(cmp)
    if field.kind in ("tag", "metadata"):
        table = _tags if field.kind == "tag" else _metadata
        return compile_kv(table, table.c.trace_id == _traces.c.trace_id, cmp)
    column = cast(Column, field.column)
    if "like" in op and column.type != "string":
        raise FilterFail(f"'{op}' needs a text field, but {field.name} is not text", cmp.op_pos)
    condition = apply_op(
        column.column, op, [convert_value(v, field, column, op) for v in cmp.values]
    )
    if field.kind == "span":
        return sa.exists().where(_spans.c.trace_id == _traces.c.trace_id, condition)
    return condition


def _compile(node: Node) -> sa.ColumnElement[bool]:
    if isinstance(node, And):
        return sa.and_(*(_compile(item) for item in node.items))
    if isinstance(node, Or):
        return sa.or_(*(_compile(item) for item in node.items))
    if isinstance(node, Not):
        return sa.not_(_compile(node.item))
    return _compile_comparison(node)


def compile_filter(text: str | None) -> sa.ColumnElement[bool] | None:
    """Compile a filter string into a boolean expression over the `traces` table.

    Tag, metadata, span and text conditions become correlated EXISTS subqueries, so the result
    can be used in the WHERE clause of any statement selecting from `traces`. Returns None for
    None or a blank filter. Raises FilterSyntaxError (with the 0-based position) otherwise.

    Example:
        >>> where = compile_filter("latency_ms > 500 and (tag.env = 'prod' or status = 'error')")
        >>> query = sa.select(TraceRow.trace_id).where(where)
    """
    return compile_text(text, _TraceParser, _compile)


# --- order by -------------------------------------------------------------------------------

_ORDER_FIELDS: dict[str, sa.ColumnElement[Any]] = {
    "start_time": _traces.c.start_time,
    "end_time": _traces.c.end_time,
    "latency_ms": _traces.c.duration_ms,
    "name": _traces.c.name,
    "status": _traces.c.status,
    "tokens": _traces.c.total_tokens,
    "input_tokens": _traces.c.input_tokens,
    "output_tokens": _traces.c.output_tokens,
    "span_count": _traces.c.span_count,
    # Backends disagree on where NULLs sort; unknown cost sorts as -1 (below $0) everywhere.
    "cost": sa.func.coalesce(_traces.c.cost, sa.literal_column("-1.0", sa.Float)),
    "trace_id": _traces.c.trace_id,
}
_ORDER_ALIASES = {"duration_ms": "latency_ms", "total_tokens": "tokens"}
ORDER_BY_KEYS: tuple[str, ...] = tuple(sorted([*_ORDER_FIELDS, *_ORDER_ALIASES]))


def parse_order_by(
    keys: Sequence[str] | str | None,
) -> list[tuple[sa.ColumnElement[Any], bool]]:
    """Parse order_by keys ("field [asc|desc]", ascending by default) into (expression, desc).

    A string may hold several comma-separated keys. None or no keys means newest first. The
    caller appends `trace_id` as a tiebreak for stable keyset pagination. Raises
    InvalidQueryError for an unknown field, a bad direction or a repeated field.

    Example:
        >>> [(str(expr), desc) for expr, desc in parse_order_by("latency_ms desc, name")]
        [('traces.duration_ms', True), ('traces.name', False)]
    """
    raw = [keys] if isinstance(keys, str) else list(keys or [])
    parts = [p.strip() for item in raw for p in item.split(",") if p.strip()]
    if not parts:
        return [(_ORDER_FIELDS["start_time"], True)]
    allowed = f"allowed: {', '.join(ORDER_BY_KEYS)}, each optionally followed by asc or desc"
    result: list[tuple[sa.ColumnElement[Any], bool]] = []
    seen: set[str] = set()
    for part in parts:
        words = part.split()
        field = _ORDER_ALIASES.get(words[0].lower(), words[0].lower())
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or field not in _ORDER_FIELDS or direction not in ("asc", "desc"):
            raise InvalidQueryError(f"invalid order_by key {part!r} ({allowed})")
        if field in seen:
            raise InvalidQueryError(f"order_by repeats {field!r}")
        seen.add(field)
        result.append((_ORDER_FIELDS[field], direction == "desc"))
    return result


__all__ = [
    "LIKE_ESCAPE",
    "MAX_FILTER_LENGTH",
    "MAX_NESTING_DEPTH",
    "ORDER_BY_KEYS",
    "compile_filter",
    "parse_order_by",
]
