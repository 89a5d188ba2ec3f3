"""The filter language shared by trace and run search: tokenizer, parser, AST, value checks.

A filter is tokenized lazily and parsed by recursive descent into a small AST; each search
(`_filter` for traces, `_run_filter` for runs) subclasses `Parser` to say which field names
exist and compiles the AST into SQLAlchemy Core expressions. Every value becomes a bound
parameter: user text never reaches the SQL string, so a filter can be wrong but never dangerous.

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
    field      := word ("." key)*
    key        := word | `backquoted key`

Strings accept backslash escapes of quotes and the backslash; `like` patterns use `\\` as their
escape character. Times are ISO-8601 strings (naive means UTC) or epoch milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, cast

import sqlalchemy as sa

from llmtrace.exceptions import FilterSyntaxError

MAX_FILTER_LENGTH = 10_000
MAX_NESTING_DEPTH = 50
LIKE_ESCAPE = "\\"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Integer columns are BIGINT; larger literals would fail at bind time with a driver error.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class FilterFail(Exception):
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
class Token:
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
                raise FilterFail(
                    f"invalid escape '\\{nxt}' (only quotes and '\\' can be escaped)", i
                )
            out.append(nxt)
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise FilterFail(f"unterminated {what}", start)


def _number(raw: str, pos: int) -> int | float:
    if "." not in raw and "e" not in raw.lower():
        # Checked before int() so a 5000-digit literal is a clean error, not a ValueError.
        if len(raw.lstrip("-")) > 19 or not _INT_MIN <= int(raw) <= _INT_MAX:
            raise FilterFail(f"number {raw} is out of range", pos)
        return int(raw)
    value = float(raw)
    if value in (float("inf"), float("-inf")):
        raise FilterFail(f"number {raw} is out of range", pos)
    return value


def tokenize(text: str) -> Iterator[Token]:
    """Yield tokens lazily, so that the parser reports the earliest error, lexical or not."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            yield Token(cast(TokenKind, ch), i, i + 1, ch)
            i += 1
        elif ch in "'\"":
            value, end = _read_quoted(text, i, "string")
            yield Token("string", i, end, value)
            i = end
        elif (number := _NUMBER_RE.match(text, i)) is not None:
            end = number.end()
            if end < n and (text[end].isalnum() or text[end] in "_."):
                raise FilterFail(f"invalid number {text[i : end + 1]!r}", i)
            yield Token("number", i, end, _number(number.group(), i))
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
                    raise FilterFail("expected a key after '.'", end + 1)
                segments.append(key)
            lowered = segments[0].lower()
            if len(segments) == 1 and lowered in _KEYWORDS:
                yield Token("keyword", i, end, lowered)
            else:
                yield Token("name", i, end, tuple(segments))
            i = end
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise FilterFail(f"unexpected token {ch!r}", i)
            yield Token("op", i, i + len(op), _CANONICAL_OP.get(op, op))
            i += len(op)
    yield Token("eof", n, n, "")


# --- fields and AST --------------------------------------------------------------------------

ValueType = Literal["string", "int", "float", "time"]


@dataclass(frozen=True)
class Column:
    column: sa.ColumnElement[Any]
    type: ValueType
    # Enum-like columns are stored upper-case; `choices` catches typos that would match nothing.
    upper: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    # Which table or kind of condition: "trace", "span", "tag", "metadata", "text" for traces;
    # "run", "metric", "param", "tag" for runs.
    kind: str
    name: str  # canonical, for messages: "latency_ms", "span.type", "tag.env"
    pos: int
    key: str = ""  # the tag, metadata, metric or param key
    column: Column | None = None


@dataclass(frozen=True)
class Value:
    value: str | int | float | bool
    pos: int


@dataclass(frozen=True)
class Comparison:
    field: Field
    # "=", "!=", "<", "<=", ">", ">=", "[not ]like", "[not ]ilike", "[not ]in", "is [not ]null"
    op: str
    op_pos: int
    values: tuple[Value, ...]


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = And | Or | Not | Comparison


# --- parser ---------------------------------------------------------------------------------


def describe(tok: Token, text: str) -> str:
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


class Parser:
    """Recursive-descent parser of the grammar above; subclasses name the fields."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        # One token of lookahead, read only when the parser looks at it.
        self.pending: Token | None = None
        self.depth = 0

    def peek(self) -> Token:
        if self.pending is None:
            self.pending = next(self.tokens)
        return self.pending

    def advance(self) -> Token:
        tok = self.peek()
        if tok.kind != "eof":
            self.pending = None
        return tok

    def at_keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "keyword" and tok.value == word

    def unexpected(self, tok: Token, expected: str) -> FilterFail:
        return FilterFail(f"unexpected {describe(tok, self.text)}; expected {expected}", tok.pos)

    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "eof":
            raise self.unexpected(tok, "'and', 'or' or end of filter")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        tok = self.peek()
        if not (self.at_keyword("not") or tok.kind == "("):
            return self.parse_comparison()
        # Bounded well below Python's recursion limit, so deep input is a syntax error.
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise FilterFail(
                f"filter is nested too deeply (max {MAX_NESTING_DEPTH} levels)", tok.pos
            )
        self.advance()
        node: Node
        if tok.kind == "(":
            node = self.parse_or()
            close = self.advance()
            if close.kind != ")":
                raise self.unexpected(close, f"')' to close '(' at position {tok.pos}")
        else:
            node = Not(self.parse_unary())
        self.depth -= 1
        return node

    def parse_comparison(self) -> Node:
        tok = self.advance()
        if tok.kind != "name":
            raise self.unexpected(tok, "a field name")
        field = self.resolve_field(tok)
        op_tok = self.advance()
        if op_tok.kind == "op":
            return Comparison(field, str(op_tok.value), op_tok.pos, (self.parse_value(),))
        word = op_tok.value if op_tok.kind == "keyword" else None
        prefix = ""
        if word == "not":
            prefix = "not "
            after = self.advance()
            word = after.value if after.kind == "keyword" else None
            if word not in ("like", "ilike", "in"):
                raise self.unexpected(after, "'like', 'ilike' or 'in' after 'not'")
        if word in ("like", "ilike"):
            return Comparison(field, f"{prefix}{word}", op_tok.pos, (self.parse_value(),))
        if word == "in":
            return Comparison(field, f"{prefix}in", op_tok.pos, self.parse_list())
        if word == "is":
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            null = self.advance()
            if not (null.kind == "keyword" and null.value == "null"):
                raise self.unexpected(null, "'null'" if negated else "'null' or 'not null'")
            op = "is not null" if negated else "is null"
            return Comparison(field, op, op_tok.pos, ())
        raise self.unexpected(
            op_tok, f"an operator (=, !=, <, <=, >, >=, like, ilike, in, is) after {field.name}"
        )

    def parse_value(self) -> Value:
        tok = self.advance()
        if tok.kind in ("string", "number"):
            return Value(cast("str | int | float", tok.value), tok.pos)
        if tok.kind == "keyword" and tok.value in ("true", "false"):
            return Value(tok.value == "true", tok.pos)
        if tok.kind == "keyword" and tok.value == "null":
            raise FilterFail("compare with null using 'is null' or 'is not null'", tok.pos)
        hint = " (quote text values: 'like this')" if tok.kind == "name" else ""
        raise self.unexpected(tok, f"a value (string, number, true or false){hint}")

    def parse_list(self) -> tuple[Value, ...]:
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

    def resolve_field(self, tok: Token) -> Field:
        """The field named by `tok` (a name token); raises FilterFail for an unknown one."""
        raise NotImplementedError


# --- values and operators, for the compilers -----------------------------------------------


def parse_time(raw: str, field: str, pos: int) -> datetime:
    """ISO-8601 by hand: `datetime.fromisoformat` on Python 3.10 rejects 'Z' and short fractions."""
    match = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})"
        r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
        r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?)?",
        raw.strip(),
    )
    if match is None:
        raise FilterFail(
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
        raise FilterFail(f"invalid time {raw!r} for {field}: {exc}", pos) from None


def convert_value(value: Value, field: Field, column: Column, op: str) -> Any:
    """The Python value to bind for `value`, checked against the field's type."""
    v = value.value
    if column.type == "time":
        if isinstance(v, str):
            return parse_time(v, field.name, value.pos)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                return _EPOCH + timedelta(milliseconds=v)
            except OverflowError:
                raise FilterFail(f"epoch milliseconds {v} out of range", value.pos) from None
        raise FilterFail(
            f"expected an ISO-8601 time or epoch milliseconds for {field.name}", value.pos
        )
    if column.type == "int":
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise FilterFail(f"expected an integer for {field.name}", value.pos)
    if column.type == "float":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            # An int would be bound (and cast, on PostgreSQL) as INTEGER.
            return float(v)
        raise FilterFail(f"expected a number for {field.name}", value.pos)
    if not isinstance(v, str):
        raise FilterFail(f"expected a string for {field.name}", value.pos)
    if column.upper:
        v = v.upper()
        if column.choices and op in ("=", "!=", "in", "not in") and v not in column.choices:
            known = ", ".join(column.choices)
            raise FilterFail(f"unknown {field.name} {value.value!r} (known: {known})", value.pos)
    return v


def kv_value(value: Value, field: Field, op: str) -> str:
    """Tags and metadata are text; numbers and booleans are accepted for (in)equality only."""
    v = value.value
    if isinstance(v, str):
        return v
    if op in ("=", "!=", "in", "not in"):
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    raise FilterFail(f"expected a string for {field.name}", value.pos)


def compile_kv(
    table: sa.Table, link: sa.ColumnElement[bool], cmp: Comparison
) -> sa.ColumnElement[bool]:
    """A condition on a key/value table (tags, params, metadata) whose rows `link` ties to
    the searched row: an EXISTS on the key, with the value compared when the operator asks."""
    field, op = cmp.field, cmp.op
    has_key = [link, table.c.key == field.key]
    if op == "is null":
        return ~sa.exists().where(*has_key)
    if op == "is not null":
        return sa.exists().where(*has_key)
    values = [kv_value(v, field, op) for v in cmp.values]
    return sa.exists().where(*has_key, apply_op(table.c.value, op, values))


def apply_op(column: sa.ColumnElement[Any], op: str, values: list[Any]) -> sa.ColumnElement[bool]:
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


def filter_literal(value: str) -> str:
    """`value` as a string literal of the filter language, quotes and backslashes escaped, so
    that any text can be searched for.

    Example:
        >>> llmtrace.search_traces(f"session_id = {filter_literal(session)}")
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def escape_like(value: str) -> str:
    """`value` as a `like` pattern that matches it literally."""
    for special in (LIKE_ESCAPE, "%", "_"):
        value = value.replace(special, LIKE_ESCAPE + special)
    return value


def compile_text(
    text: str | None,
    parser: Callable[[str], Parser],
    compile_node: Callable[[Node], sa.ColumnElement[bool]],
) -> sa.ColumnElement[bool] | None:
    """Parse `text` with `parser(text)` and compile the AST with `compile_node`.

    None or a blank filter gives None; any error, lexical, syntactic or of types, becomes a
    FilterSyntaxError carrying the 0-based position.
    """
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
        return compile_node(parser(text).parse())
    except FilterFail as exc:
        raise FilterSyntaxError(exc.message, filter=text, position=exc.position) from None


__all__ = [
    "LIKE_ESCAPE",
    "MAX_FILTER_LENGTH",
    "MAX_NESTING_DEPTH",
    "And",
    "Column",
    "Comparison",
    "Field",
    "FilterFail",
    "Node",
    "Not",
    "Or",
    "Parser",
    "Token",
    "Value",
    "ValueType",
    "apply_op",
    "compile_kv",
    "compile_text",
    "convert_value",
    "describe",
    "escape_like",
    "filter_literal",
    "kv_value",
    "parse_time",
    "tokenize",
]
