"""Filters of registry searches, in the language of trace and run filters (`_filter_syntax`).

Registered models:

    name, description, created_at, updated_at     attributes of the model
    tags.<key>                                    a tag of the model

Model versions (the registered model's `name` included):

    name, version, run_id, stage, source, description, created_by, created_at, updated_at
    tags.<key>                                    a tag of the version

Example:
    >>> compile_model_filter("name like 'rag-%' and tags.team = 'search'")
    >>> compile_version_filter("name = 'rag' and stage = 'Production'")
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa

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
)
from llmtrace.store.models import (
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
)
from llmtrace.store.registry_entities import STAGES

models_t = cast(sa.Table, RegisteredModelRow.__table__)
model_tags_t = cast(sa.Table, RegisteredModelTagRow.__table__)
versions_t = cast(sa.Table, ModelVersionRow.__table__)
version_tags_t = cast(sa.Table, ModelVersionTagRow.__table__)

_MODEL_FIELDS: dict[str, Column] = {
    "name": Column(models_t.c.name, "string"),
    "description": Column(models_t.c.description, "string"),
    "created_at": Column(models_t.c.created_at, "time"),
    "updated_at": Column(models_t.c.updated_at, "time"),
}
_VERSION_FIELDS: dict[str, Column] = {
    "name": Column(models_t.c.name, "string"),
    "version": Column(versions_t.c.version, "int"),
    "run_id": Column(versions_t.c.run_id, "string"),
    "stage": Column(versions_t.c.stage, "string", choices=STAGES),
    "source": Column(versions_t.c.source, "string"),
    "description": Column(versions_t.c.description, "string"),
    "created_by": Column(versions_t.c.created_by, "string"),
    "created_at": Column(versions_t.c.created_at, "time"),
    "updated_at": Column(versions_t.c.updated_at, "time"),
}


def _parser(fields: dict[str, Column]) -> type[Parser]:
    known = ", ".join([*fields, "tags.<key>"])

    class _Parser(Parser):
        def resolve_field(self, tok: Token) -> Field:
            segments = cast(tuple[str, ...], tok.value)
            head = segments[0].lower()
            source = self.text[tok.pos : tok.end]
            if len(segments) == 1 and head in fields:
                return Field("attr", head, tok.pos, column=fields[head])
            if head in ("tags", "tag") and len(segments) == 2 and segments[1]:
                return Field("tag", f"tags.{segments[1]}", tok.pos, key=segments[1])
            if head in ("tags", "tag") and len(segments) > 2:
                dotted = ".".join(segments[1:])
                raise FilterFail(
                    f"keys containing '.' must be backquoted: tags.`{dotted}`", tok.pos
                )
            raise FilterFail(f"unknown field {source!r} (known: {known})", tok.pos)

    return _Parser


_ModelParser = _parser(_MODEL_FIELDS)
_VersionParser = _parser(_VERSION_FIELDS)


def _stage(value: object, pos: int) -> str:
    """A stage named in any case ('production'), in its stored spelling ('Production')."""
    for stage in STAGES:
        if str(value).lower() == stage.lower():
            return stage
    raise FilterFail(f"unknown stage {value!r} (stages: {', '.join(STAGES)})", pos)


def _compiler(tags: sa.Table, link: sa.ColumnElement[bool]):  # type: ignore[no-untyped-def]
    def compile_node(node: Node) -> sa.ColumnElement[bool]:
        if isinstance(node, And):
            return sa.and_(*(compile_node(item) for item in node.items))
        if isinstance(node, Or):
            return sa.or_(*(compile_node(item) for item in node.items))
        if isinstance(node, Not):
            return sa.not_(compile_node(node.item))
        return _comparison(node)

    def _comparison(cmp: Comparison) -> sa.ColumnElement[bool]:
        field, op = cmp.field, cmp.op
        if field.kind == "tag":
            return compile_kv(tags, link, cmp)
        column = cast(Column, field.column)
        if "like" in op and column.type != "string":
            raise FilterFail(f"'{op}' needs a text field, but {field.name} is not text", cmp.op_pos)
        values = [convert_value(v, field, column, op) for v in cmp.values]
        if field.name == "stage" and "like" not in op and "null" not in op:
            values = [_stage(v, pos.pos) for v, pos in zip(values, cmp.values, strict=True)]
        return apply_op(column.column, op, values)

    return compile_node


_compile_model = _compiler(model_tags_t, model_tags_t.c.model_id == models_t.c.model_id)
_compile_version = _compiler(
    version_tags_t,
    sa.and_(
        version_tags_t.c.model_id == versions_t.c.model_id,
        version_tags_t.c.version == versions_t.c.version,
    ),
)


def compile_model_filter(text: str | None) -> sa.ColumnElement[bool] | None:
    """A registered-model filter as a condition on `registered_models` (None for none)."""
    return compile_text(text, _ModelParser, _compile_model)


def compile_version_filter(text: str | None) -> sa.ColumnElement[bool] | None:
    """A model-version filter as a condition on `model_versions` joined to their models."""
    return compile_text(text, _VersionParser, _compile_version)


__all__ = ["compile_model_filter", "compile_version_filter"]
