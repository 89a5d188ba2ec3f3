"""The run search filter and order_by, compiled to SQLAlchemy expressions over the `runs` table.

Same language as the trace filter (`_filter_syntax`: and/or/not, parentheses, =, !=, <, <=, >,
>=, like, ilike, in, is null; values always bound), with these fields:

    metrics.<key>   the run's latest value of the metric (a number; `latest_metrics` table)
    params.<key>    a parameter (text)
    tags.<key>      a tag (text)
    status, name (alias run_name), run_id, experiment_id, start_time, end_time,
    duration (milliseconds, alias duration_ms), user_id, parent_run_id
                    attributes of the run; `attributes.<name>` also works

`metric.`, `param.`, `tag.` and `attribute.` are accepted for the plural prefixes. Keys with
dots, spaces or other characters are backquoted: ``metrics.`val loss` < 0.5``.

Semantics: `metrics.k <op> v` means "has metric k whose latest value matches" (NaN matches no
comparison except `!=`/`not in`; +/-inf compare beyond every finite number);
`params.k`/`tags.k` likewise; `<prefix>.k is null` means "has no k". Attribute comparisons
follow SQL: `end_time > ...` does not match a run that has not ended (use `is null`).

Example:
    >>> where = compile_run_filter("metrics.loss < 0.3 and params.model = 'gpt-4o'")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from llmtrace.exceptions import InvalidQueryError
from llmtrace.store._filter_syntax import (
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
    tokenize,
)
from llmtrace.store.models import LatestMetricRow, ParamRow, RunRow, RunTagRow
from llmtrace.store.run_entities import RUN_STATUSES

_runs = cast(sa.Table, RunRow.__table__)
_latest = cast(sa.Table, LatestMetricRow.__table__)
_params = cast(sa.Table, ParamRow.__table__)
_tags = cast(sa.Table, RunTagRow.__table__)

_RUN_FIELDS: dict[str, Column] = {
    "status": Column(_runs.c.status, "string", upper=True, choices=RUN_STATUSES),
    "name": Column(_runs.c.name, "string"),
    "run_id": Column(_runs.c.run_id, "string"),
    "experiment_id": Column(_runs.c.experiment_id, "string"),
    "start_time": Column(_runs.c.start_time, "time"),
    "end_time": Column(_runs.c.end_time, "time"),
    "duration": Column(_runs.c.duration_ms, "float"),
    "user_id": Column(_runs.c.user_id, "string"),
    "parent_run_id": Column(_runs.c.parent_run_id, "string"),
}
_RUN_ALIASES = {"run_name": "name", "duration_ms": "duration"}
# Prefix (as written, lower-cased) -> field kind.
_PREFIXES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "run",
    "attribute": "run",
}
_CANONICAL_PREFIX = {"metric": "metrics", "param": "params", "tag": "tags"}
_KNOWN_FIELDS = ", ".join(
    [*sorted([*_RUN_FIELDS, *_RUN_ALIASES]), "metrics.<key>", "params.<key>", "tags.<key>"]
)
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null")


def _resolve(segments: tuple[str, ...], pos: int, end: int, source: str) -> Field:
    """The field named by the dotted `segments` of a name token (FilterFail if unknown)."""
    head = segments[0].lower()
    if len(segments) == 1:
        name = _RUN_ALIASES.get(head, head)
        if name in _RUN_FIELDS:
            return Field("run", name, pos, column=_RUN_FIELDS[name])
        if head in _PREFIXES:
            raise FilterFail(f"expected '.' and a key after '{head}', e.g. {head}.loss", end)
    elif head in _PREFIXES:
        if len(segments) > 2:
            dotted = ".".join(segments[1:])
            raise FilterFail(f"keys containing '.' must be backquoted: {head}.`{dotted}`", pos)
        key = segments[1]
        if not key:
            raise FilterFail(f"empty {head} key", pos)
        kind = _PREFIXES[head]
        if kind == "run":
            name = _RUN_ALIASES.get(key.lower(), key.lower())
            if name in _RUN_FIELDS:
                return Field("run", name, pos, column=_RUN_FIELDS[name])
        else:
            return Field(kind, f"{_CANONICAL_PREFIX[kind]}.{key}", pos, key=key)
    raise FilterFail(f"unknown field {source!r} (known: {_KNOWN_FIELDS})", pos)


class _RunParser(Parser):
    def resolve_field(self, tok: Token) -> Field:
        segments = cast(tuple[str, ...], tok.value)
        return _resolve(segments, tok.pos, tok.end, self.text[tok.pos : tok.end])


def _metric_value(cmp: Comparison, index: int) -> float:
    value = cmp.values[index]
    v = value.value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FilterFail(f"expected a number for {cmp.field.name}", value.pos)
    return float(v)


def _compile_metric(cmp: Comparison) -> sa.ColumnElement[bool]:
    field, op = cmp.field, cmp.op
    if op not in _NUMERIC_OPS:
        raise FilterFail(f"'{op}' needs a text field, but {field.name} is a number", cmp.op_pos)
    has_key = [_latest.c.run_id == _runs.c.run_id, _latest.c.key == field.key]
    if op == "is null":
        return ~sa.exists().where(*has_key)
    if op == "is not null":
        return sa.exists().where(*has_key)
    values = [_metric_value(cmp, i) for i in range(len(cmp.values))]
    condition = apply_op(_latest.c.value, op, values)
    if op in ("!=", "not in"):
        # NaN is stored as NULL: unequal to every number, as in Python.
        condition = sa.or_(condition, _latest.c.special == "nan")
    return sa.exists().where(*has_key, condition)


def _compile_comparison(cmp: Comparison) -> sa.ColumnElement[bool]:
    field, op = cmp.field, cmp.op
    if field.kind == "metric":
        return _compile_metric(cmp)
    if field.kind in ("param", "tag"):
        table = _params if field.kind == "param" else _tags
        return compile_kv(table, table.c.run_id == _runs.c.run_id, cmp)
    column = cast(Column, field.column)
    if "like" in op and column.type != "string":
        raise FilterFail(f"'{op}' needs a text field, but {field.name} is not text", cmp.op_pos)
    return apply_op(column.column, op, [convert_value(v, field, column, op) for v in cmp.values])


def _compile(node: Node) -> sa.ColumnElement[bool]:
    if isinstance(node, And):
        return sa.and_(*(_compile(item) for item in node.items))
    if isinstance(node, Or):
        return sa.or_(*(_compile(item) for item in node.items))
    if isinstance(node, Not):
        return sa.not_(_compile(node.item))
    return _compile_comparison(node)


def compile_run_filter(text: str | None) -> sa.ColumnElement[bool] | None:
    """Compile a run filter into a boolean expression over the `runs` table.

    Metric, param and tag conditions are correlated EXISTS subqueries (primary-key lookups).
    Returns None for None or a blank filter; raises FilterSyntaxError with the position.

    Example:
        >>> compile_run_filter("metrics.`val loss` < 0.5 and status = 'FINISHED'")
    """
    return compile_text(text, _RunParser, _compile)


# --- order by -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key. `join` is the outer join it needs (metrics, params, tags), if any.

    `nullable` keys sort NULLs last in both directions, through a leading `expr IS NULL` key.
    """

    name: str
    expr: sa.ColumnElement[Any]
    desc: bool
    nullable: bool
    join: tuple[sa.FromClause, sa.ColumnElement[bool]] | None = None


_NULLABLE_ATTRIBUTES = frozenset({"end_time", "duration", "user_id", "parent_run_id"})
DEFAULT_ORDER = "start_time desc"
_ORDER_HELP = (
    "order_by keys are a field (an attribute such as start_time, name, status, duration, or "
    "metrics.<key>, params.<key>, tags.<key>) optionally followed by asc or desc"
)


def _sort_key(field: Field, desc: bool, index: int) -> SortKey:
    if field.kind == "run":
        column = cast(Column, field.column)
        return SortKey(field.name, column.column, desc, field.name in _NULLABLE_ATTRIBUTES)
    table = {"metric": _latest, "param": _params, "tag": _tags}[field.kind]
    alias = table.alias(f"o{index}")
    on = sa.and_(alias.c.run_id == _runs.c.run_id, alias.c.key == field.key)
    return SortKey(field.name, alias.c.value, desc, True, (alias, on))


def _parse_order_item(item: str) -> list[tuple[Field, bool]]:
    """Fields and directions of one order_by string ("metrics.loss desc, name")."""
    keys: list[tuple[Field, bool]] = []
    tokens = tokenize(item)
    while True:
        tok = next(tokens)
        if tok.kind != "name":
            raise FilterFail("expected a field name", tok.pos)
        segments = cast(tuple[str, ...], tok.value)
        field = _resolve(segments, tok.pos, tok.end, item[tok.pos : tok.end])
        tok = next(tokens)
        after = cast(tuple[str, ...], tok.value) if tok.kind == "name" else ()
        word = after[0].lower() if len(after) == 1 else ""
        desc = word == "desc"
        if word in ("asc", "desc"):
            tok = next(tokens)
        keys.append((field, desc))
        if tok.kind == "eof":
            return keys
        if tok.kind != ",":
            raise FilterFail("expected asc, desc, ',' or the end", tok.pos)


def parse_run_order_by(keys: Sequence[str] | str | None) -> list[SortKey]:
    """Parse order_by keys ("field [asc|desc]", ascending by default) into sort keys.

    None or no keys means newest first (start_time desc). The caller adds run_id as the final
    tiebreak. Raises InvalidQueryError for an unknown field, a bad direction or a repeat.

    Example:
        >>> [k.name for k in parse_run_order_by(["metrics.`val loss`", "start_time desc"])]
        ['metrics.val loss', 'start_time']
    """
    raw = [keys] if isinstance(keys, str) else list(keys or [])
    items = [item for item in raw if item.strip()] or [DEFAULT_ORDER]
    result: list[SortKey] = []
    seen: set[str] = set()
    for item in items:
        try:
            parsed = _parse_order_item(item)
        except FilterFail as exc:
            raise InvalidQueryError(
                f"invalid order_by {item!r}: {exc.message} at position {exc.position} "
                f"({_ORDER_HELP})"
            ) from None
        for field, desc in parsed:
            if field.name in seen:
                raise InvalidQueryError(f"order_by repeats {field.name!r}")
            seen.add(field.name)
            result.append(_sort_key(field, desc, len(result)))
    return result


__all__ = ["DEFAULT_ORDER", "SortKey", "compile_run_filter", "parse_run_order_by"]
