"""The trace search filter language, compiled to SQLAlchemy expressions over the `traces` table.

Filters are parsed by a hand-written tokenizer and recursive-descent parser into a small AST,
which is compiled into SQLAlchemy Core expressions. Every value becomes a bound parameter: user
text never reaches the SQL string, so a filter can be wrong but never dangerous.

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

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, cast

import sqlalchemy as sa

from llmtrace.exceptions import FilterSyntaxError, InvalidQueryError
from llmtrace.store.models import STATUS_VALUES, SpanRow, TraceMetadataRow, TraceRow, TraceTagRow

MAX_FILTER_LENGTH = 10_000
MAX_NESTING_DEPTH = 50
LIKE_ESCAPE = "\\"

# Core tables rather than ORM attributes, so that the expressions drop into Core statements
# without pulling in the ORM compilation path.
_traces = cast(sa.Table, TraceRow.__table__)
_spans = cast(sa.Table, SpanRow.__table__)
_tags = cast(sa.Table, TraceTagRow.__table__)
_metadata = cast(sa.Table, TraceMetadataRow.__table__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Integer columns are BIGINT; larger literals would fail at bind time with a driver error.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class _Fail(Exception):
    """Internal error carrying a position; `compile_filter` turns it into FilterSyntaxError."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# --- tokenizer ------------------------------------------------------------------------------

TokenKind = Literal["name", "keyword", "string", "number", "op", "(", ")", ",", "eof"]
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "like", "ilike", "true", "false"})
# Longest first, so that "<=" is not read as "<" followed by "=".
_OPERATORS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")
_CANONICAL_OP = {"==": "=", "<>": "!="}
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPABLE = "\\'\"`"


@dataclass(frozen=True)
class _Token:
    kind: TokenKind
    pos: int
    end: int
    # name: segments; keyword: lower-cased word; string: decoded text; number: int or float;
    # op: canonical operator; punctuation and eof: the text itself.
    value: str | int | float | tuple[str, ...]


def _read_quoted(text: str, start: int, what: str) -> tuple[str, int]:
    """Decode the quoted literal starting at `start`; return it and the index after it."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt not in _ESCAPABLE:
                raise _Fail(f"invalid escape '\\{nxt}' (only quotes and '\\' can be escaped)", i)
            out.append(nxt)
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _Fail(f"unterminated {what}", start)


def _number(raw: str, pos: int) -> int | float:
    if "." not in raw and "e" not in raw.lower():
        # Checked before int() so a 5000-digit literal is a clean error, not a ValueError.
        if len(raw.lstrip("-")) > 19 or not _INT_MIN <= int(raw) <= _INT_MAX:
            raise _Fail(f"number {raw} is out of range", pos)
        return int(raw)
    value = float(raw)
    if value in (float("inf"), float("-inf")):
        raise _Fail(f"number {raw} is out of range", pos)
    return value


def _tokenize(text: str) -> Iterator[_Token]:
    """Yield tokens lazily, so that the parser reports the earliest error, lexical or not."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            yield _Token(cast(TokenKind, ch), i, i + 1, ch)
            i += 1
        elif ch in "'\"":
            value, end = _read_quoted(text, i, "string")
            yield _Token("string", i, end, value)
            i = end
        elif (number := _NUMBER_RE.match(text, i)) is not None:
            end = number.end()
            if end < n and (text[end].isalnum() or text[end] in "_."):
                raise _Fail(f"invalid number {text[i : end + 1]!r}", i)
            yield _Token("number", i, end, _number(number.group(), i))
            i = end
        elif (word := _WORD_RE.match(text, i)) is not None:
            segments = [word.group()]
            end = word.end()
            while end < n and text[end] == ".":
                if end + 1 < n and text[end + 1] == "`":
                    key, end = _read_quoted(text, end + 1, "backquoted key")
                elif (bare := _KEY_RE.match(text, end + 1)) is not None:
                    key, end = bare.group(), bare.end()
                else:
                    raise _Fail("expected a key after '.'", end + 1)
                segments.append(key)
            lowered = segments[0].lower()
            if len(segments) == 1 and lowered in _KEYWORDS:
                yield _Token("keyword", i, end, lowered)
            else:
                yield _Token("name", i, end, tuple(segments))
            i = end
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise _Fail(f"unexpected token {ch!r}", i)
            yield _Token("op", i, i + len(op), _CANONICAL_OP.get(op, op))
            i += len(op)
    yield _Token("eof", n, n, "")


# --- fields ---------------------------------------------------------------------------------

ValueType = Literal["string", "int", "float", "time"]


@dataclass(frozen=True)
class _Column:
    column: sa.ColumnElement[Any]
    type: ValueType
    # Enum-like columns are stored upper-case; `choices` catches typos that would match nothing.
    upper: bool = False
    choices: tuple[str, ...] = ()


_TRACE_FIELDS: dict[str, _Column] = {
    "name": _Column(_traces.c.name, "string"),
    "status": _Column(_traces.c.status, "string", upper=True, choices=STATUS_VALUES),
    "trace_id": _Column(_traces.c.trace_id, "string"),
    "session_id": _Column(_traces.c.session_id, "string"),
    "user_id": _Column(_traces.c.user_id, "string"),
    "run_id": _Column(_traces.c.run_id, "string"),
    "project": _Column(_traces.c.project, "string"),
    "latency_ms": _Column(_traces.c.duration_ms, "float"),
    "start_time": _Column(_traces.c.start_time, "time"),
    "end_time": _Column(_traces.c.end_time, "time"),
    "tokens": _Column(_traces.c.total_tokens, "int"),
    "input_tokens": _Column(_traces.c.input_tokens, "int"),
    "output_tokens": _Column(_traces.c.output_tokens, "int"),
    "span_count": _Column(_traces.c.span_count, "int"),
    "error_count": _Column(_traces.c.error_count, "int"),
    "cost": _Column(_traces.c.cost, "float"),
}
_TRACE_ALIASES = {"duration_ms": "latency_ms", "total_tokens": "tokens"}

_SPAN_FIELDS: dict[str, _Column] = {
    "name": _Column(_spans.c.name, "string"),
    "type": _Column(_spans.c.span_type, "string", upper=True),
    "model": _Column(_spans.c.model, "string"),
    "status": _Column(_spans.c.status, "string", upper=True, choices=STATUS_VALUES),
    "latency_ms": _Column(_spans.c.duration_ms, "float"),
    "input_tokens": _Column(_spans.c.input_tokens, "int"),
    "output_tokens": _Column(_spans.c.output_tokens, "int"),
    "cost": _Column(_spans.c.cost, "float"),
}
_SPAN_ALIASES = {"span_type": "type", "duration_ms": "latency_ms"}

_KNOWN_FIELDS = ", ".join(
    [*sorted([*_TRACE_FIELDS, *_TRACE_ALIASES]), "text", "tag.<key>", "metadata.<key>"]
    + [f"span.{f}" for f in sorted([*_SPAN_FIELDS, *_SPAN_ALIASES])]
)


# --- AST ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    kind: Literal["trace", "span", "tag", "metadata", "text"]
    name: str  # canonical, for messages: "latency_ms", "span.type", "tag.env"
    pos: int
    key: str = ""  # the tag or metadata key
    column: _Column | None = None


@dataclass(frozen=True)
class _Value:
    value: str | int | float | bool
    pos: int


@dataclass(frozen=True)
class _Comparison:
    field: _Field
    # "=", "!=", "<", "<=", ">", ">=", "[not ]like", "[not ]ilike", "[not ]in", "is [not ]null"
    op: str
    op_pos: int
    values: tuple[_Value, ...]


@dataclass(frozen=True)
class _And:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Or:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Not:
    item: _Node


_Node = _And | _Or | _Not | _Comparison


# --- parser ---------------------------------------------------------------------------------


def _describe(tok: _Token, text: str) -> str:
    if tok.kind == "eof":
        return "end of filter"
    source = text[tok.pos : tok.end]
    if len(source) > 40:
        source = source[:37] + "..."
    if tok.kind == "string":
        return f"string {source}"
    if tok.kind == "number":
        return f"number {source}"
    return f"token {source!r}"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        # One token of lookahead, read only when the parser looks at it.
        self.pending: _Token | None = None
        self.depth = 0

    def peek(self) -> _Token:
        if self.pending is None:
            self.pending = next(self.tokens)
        return self.pending

    def advance(self) -> _Token:
        tok = self.peek()
        if tok.kind != "eof":
            self.pending = None
        return tok

    def at_keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "keyword" and tok.value == word

    def unexpected(self, tok: _Token, expected: str) -> _Fail:
        return _Fail(f"unexpected {_describe(tok, self.text)}; expected {expected}", tok.pos)

    def parse(self) -> _Node:
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "eof":
            raise self.unexpected(tok, "'and', 'or' or end of filter")
        return node

    def parse_or(self) -> _Node:
        items = [self.parse_and()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else _Or(tuple(items))

    def parse_and(self) -> _Node:
        items = [self.parse_unary()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else _And(tuple(items))

    def parse_unary(self) -> _Node:
        tok = self.peek()
        if not (self.at_keyword("not") or tok.kind == "("):
            return self.parse_comparison()
        # Bounded well below Python's recursion limit, so deep input is a syntax error.
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise _Fail(f"filter is nested too deeply (max {MAX_NESTING_DEPTH} levels)", tok.pos)
        self.advance()
        node: _Node
        if tok.kind == "(":
            node = self.parse_or()
            close = self.advance()
            if close.kind != ")":
                raise self.unexpected(close, f"')' to close '(' at position {tok.pos}")
        else:
            node = _Not(self.parse_unary())
        self.depth -= 1
        return node

    def parse_comparison(self) -> _Node:
        tok = self.advance()
        if tok.kind != "name":
            raise self.unexpected(tok, "a field name")
        field = self.resolve_field(tok)
        op_tok = self.advance()
        if op_tok.kind == "op":
            return _Comparison(field, str(op_tok.value), op_tok.pos, (self.parse_value(),))
        word = op_tok.value if op_tok.kind == "keyword" else None
        prefix = ""
        if word == "not":
            prefix = "not "
            after = self.advance()
            word = after.value if after.kind == "keyword" else None
            if word not in ("like", "ilike", "in"):
                raise self.unexpected(after, "'like', 'ilike' or 'in' after 'not'")
        if word in ("like", "ilike"):
            return _Comparison(field, f"{prefix}{word}", op_tok.pos, (self.parse_value(),))
        if word == "in":
            return _Comparison(field, f"{prefix}in", op_tok.pos, self.parse_list())
        if word == "is":
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            null = self.advance()
            if not (null.kind == "keyword" and null.value == "null"):
                raise self.unexpected(null, "'null'" if negated else "'null' or 'not null'")
            op = "is not null" if negated else "is null"
            return _Comparison(field, op, op_tok.pos, ())
        raise self.unexpected(
            op_tok, f"an operator (=, !=, <, <=, >, >=, like, ilike, in, is) after {field.name}"
        )

    def parse_value(self) -> _Value:
        tok = self.advance()
        if tok.kind in ("string", "number"):
            return _Value(cast("str | int | float", tok.value), tok.pos)
        if tok.kind == "keyword" and tok.value in ("true", "false"):
            return _Value(tok.value == "true", tok.pos)
        if tok.kind == "keyword" and tok.value == "null":
            raise _Fail("compare with null using 'is null' or 'is not null'", tok.pos)
        hint = " (quote text values: 'like this')" if tok.kind == "name" else ""
        raise self.unexpected(tok, f"a value (string, number, true or false){hint}")

    def parse_list(self) -> tuple[_Value, ...]:
        tok = self.advance()
        if tok.kind != "(":
            raise self.unexpected(tok, "'(' to start the list of values")
        values = [self.parse_value()]
        while self.peek().kind == ",":
            self.advance()
            values.append(self.parse_value())
        tok = self.advance()
        if tok.kind != ")":
            raise self.unexpected(tok, "',' or ')'")
        return tuple(values)

    def resolve_field(self, tok: _Token) -> _Field:
        segments = cast(tuple[str, ...], tok.value)
        head = segments[0].lower()
        source = self.text[tok.pos : tok.end]
        if len(segments) == 1:
            name = _TRACE_ALIASES.get(head, head)
            if name in _TRACE_FIELDS:
                return _Field("trace", name, tok.pos, column=_TRACE_FIELDS[name])
            if name == "text":
                return _Field("text", name, tok.pos)
            if name in ("tag", "metadata", "span"):
                raise _Fail(f"expected '.' and a name after '{head}', e.g. {head}.name", tok.end)
        elif head in ("tag", "metadata"):
            if len(segments) > 2:
                dotted = ".".join(segments[1:])
                raise _Fail(f"keys containing '.' must be backquoted: {head}.`{dotted}`", tok.pos)
            if not segments[1]:
                raise _Fail(f"empty {head} key", tok.pos)
            kind: Literal["tag", "metadata"] = "tag" if head == "tag" else "metadata"
            return _Field(kind, f"{head}.{segments[1]}", tok.pos, key=segments[1])
        elif head == "span" and len(segments) == 2:
            sub = segments[1].lower()
            sub = _SPAN_ALIASES.get(sub, sub)
            if sub in _SPAN_FIELDS:
                return _Field("span", f"span.{sub}", tok.pos, column=_SPAN_FIELDS[sub])
        raise _Fail(f"unknown field {source!r} (known: {_KNOWN_FIELDS})", tok.pos)


# --- compiler -------------------------------------------------------------------------------


def _parse_time(raw: str, field: str, pos: int) -> datetime:
    """ISO-8601 by hand: `datetime.fromisoformat` on Python 3.10 rejects 'Z' and short fractions."""
    match = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})"
        r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
        r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?)?",
        raw.strip(),
    )
    if match is None:
        raise _Fail(
            f"invalid time {raw!r} for {field}; expected ISO-8601 such as "
            "'2026-01-02T03:04:05Z' or epoch milliseconds",
            pos,
        )
    year, month, day, hour, minute, second, fraction, _, sign, off_h, off_m = match.groups()
    try:
        tz = timezone.utc
        if sign:
            offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
            tz = timezone(-offset if sign == "-" else offset)
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "").ljust(6, "0")[:6]), tzinfo=tz,
        )  # fmt: skip
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise _Fail(f"invalid time {raw!r} for {field}: {exc}", pos) from None


def _convert(value: _Value, field: _Field, column: _Column, op: str) -> Any:
    """The Python value to bind for `value`, checked against the field's type."""
    v = value.value
    if column.type == "time":
        if isinstance(v, str):
            return _parse_time(v, field.name, value.pos)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                return _EPOCH + timedelta(milliseconds=v)
            except OverflowError:
                raise _Fail(f"epoch milliseconds {v} out of range", value.pos) from None
        raise _Fail(f"expected an ISO-8601 time or epoch milliseconds for {field.name}", value.pos)
    if column.type == "int":
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise _Fail(f"expected an integer for {field.name}", value.pos)
    if column.type == "float":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            # An int would be bound (and cast, on PostgreSQL) as INTEGER.
            return float(v)
        raise _Fail(f"expected a number for {field.name}", value.pos)
    if not isinstance(v, str):
        raise _Fail(f"expected a string for {field.name}", value.pos)
    if column.upper:
        v = v.upper()
        if column.choices and op in ("=", "!=", "in", "not in") and v not in column.choices:
            known = ", ".join(column.choices)
            raise _Fail(f"unknown {field.name} {value.value!r} (known: {known})", value.pos)
    return v


def _kv_value(value: _Value, field: _Field, op: str) -> str:
    """Tags and metadata are text; numbers and booleans are accepted for (in)equality only."""
    v = value.value
    if isinstance(v, str):
        return v
    if op in ("=", "!=", "in", "not in"):
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    raise _Fail(f"expected a string for {field.name}", value.pos)


def _apply(column: sa.ColumnElement[Any], op: str, values: list[Any]) -> sa.ColumnElement[bool]:
    first = values[0] if values else None
    match op:
        case "=":
            return column == first
        case "!=":
            return column != first
        case "<":
            return column < first
        case "<=":
            return column <= first
        case ">":
            return column > first
        case ">=":
            return column >= first
        case "like":
            return column.like(first, escape=LIKE_ESCAPE)
        case "not like":
            return column.not_like(first, escape=LIKE_ESCAPE)
        case "ilike":
            return column.ilike(first, escape=LIKE_ESCAPE)
        case "not ilike":
            return column.not_ilike(first, escape=LIKE_ESCAPE)
        case "in":
            return column.in_(values)
        case "not in":
            return column.not_in(values)
        case "is null":
            return column.is_(None)
        case "is not null":
            return column.is_not(None)
    raise AssertionError(f"unhandled operator {op!r}")


def _escape_like(value: str) -> str:
    for special in (LIKE_ESCAPE, "%", "_"):
        value = value.replace(special, LIKE_ESCAPE + special)
    return value


def _compile_text(cmp: _Comparison) -> sa.ColumnElement[bool]:
    if cmp.op not in ("=", "!=", "like", "ilike", "not like", "not ilike"):
        raise _Fail("text supports =, !=, like, ilike, not like and not ilike", cmp.op_pos)
    value = cmp.values[0]
    if not isinstance(value.value, str):
        raise _Fail("expected a string for text", value.pos)
    pattern = value.value
    if cmp.op in ("=", "!="):
        pattern = f"%{_escape_like(pattern)}%"
    found = sa.exists().where(
        _spans.c.trace_id == _traces.c.trace_id,
        sa.or_(
            _spans.c.inputs.ilike(pattern, escape=LIKE_ESCAPE),
            _spans.c.outputs.ilike(pattern, escape=LIKE_ESCAPE),
        ),
    )
    return ~found if cmp.op in ("!=", "not like", "not ilike") else found


def _compile_comparison(cmp: _Comparison) -> sa.ColumnElement[bool]:
    field, op = cmp.field, cmp.op
    if field.kind == "text":
        return _compile_text(cmp)
    if field.kind in ("tag", "metadata"):
        table = _tags if field.kind == "tag" else _metadata
        has_key = [table.c.trace_id == _traces.c.trace_id, table.c.key == field.key]
        if op == "is null":
            return ~sa.exists().where(*has_key)
        if op == "is not null":
            return sa.exists().where(*has_key)
        values = [_kv_value(v, field, op) for v in cmp.values]
        return sa.exists().where(*has_key, _apply(table.c.value, op, values))
    column = cast(_Column, field.column)
    if "like" in op and column.type != "string":
        raise _Fail(f"'{op}' needs a text field, but {field.name} is not text", cmp.op_pos)
    condition = _apply(column.column, op, [_convert(v, field, column, op) for v in cmp.values])
    if field.kind == "span":
        return sa.exists().where(_spans.c.trace_id == _traces.c.trace_id, condition)
    return condition


def _compile(node: _Node) -> sa.ColumnElement[bool]:
    if isinstance(node, _And):
        return sa.and_(*(_compile(item) for item in node.items))
    if isinstance(node, _Or):
        return sa.or_(*(_compile(item) for item in node.items))
    if isinstance(node, _Not):
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
    if text is None:
        return None
    try:
        if len(text) > MAX_FILTER_LENGTH:
            raise _Fail(
                f"filter is too long ({len(text)} characters, max {MAX_FILTER_LENGTH})",
                MAX_FILTER_LENGTH,
            )
        if not text.strip():
            return None
        return _compile(_Parser(text).parse())
    except _Fail as exc:
        raise FilterSyntaxError(exc.message, filter=text, position=exc.position) from None


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
