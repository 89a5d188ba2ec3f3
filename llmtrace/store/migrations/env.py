"""Alembic environment of the llmtrace store, run by `llmtrace.store.migrate`.

Online mode runs on the connection the caller put into ``config.attributes["connection"]``: the
store owns its engine (pool, SQLite pragmas, in-memory ``StaticPool``), so this file never creates
one. Offline mode renders SQL for the URL in the ``sqlalchemy.url`` main option.

Logging is deliberately not configured here (no ``fileConfig``): llmtrace is a library and must not
touch the application's logging setup.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection, make_url

from llmtrace.store.migrate import VERSION_TABLE
from llmtrace.store.models import Base, UtcDateTime

# Alembic's default comparisons plus CHECK constraints by name.
CHECK_CONSTRAINT_PLUGINS = ["alembic.autogenerate.*", "alembic.ext.checkconstraint_byname"]

config = context.config
target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Restrict autogenerate to llmtrace's tables.

    The database may be shared with an application; without this, autogenerate would propose
    dropping every table that is not an llmtrace model.
    """
    if type_ == "table":
        return name in target_metadata.tables
    return True


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render `UtcDateTime` as plain SQLAlchemy types so new revisions stay self-contained."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        autogen_context.imports.add("from sqlalchemy.dialects import mysql")
        return 'sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")'
    return False


def _has_check_constraint_plugin() -> bool:
    try:
        return importlib.util.find_spec("alembic.ext.checkconstraint_byname") is not None
    except ModuleNotFoundError:  # no alembic.ext package at all before 1.18
        return False


def _common_options(dialect_name: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "version_table": VERSION_TABLE,
        "compare_type": True,
        "include_name": _include_name,
        "render_item": _render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
    }
    if _has_check_constraint_plugin():
        # Alembic >= 1.18 can diff CHECK constraints by name, which all of ours have; older
        # versions ignore CHECK constraints in autogenerate (and reject this option).
        options["autogenerate_plugins"] = CHECK_CONSTRAINT_PLUGINS
    return options


def run_migrations_offline() -> None:
    """Write the migration SQL for ``sqlalchemy.url`` to the configured output buffer."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("offline migrations need the sqlalchemy.url main option")
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_common_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection given by `llmtrace.store.migrate`."""
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "llmtrace migrations run through llmtrace.store.migrate, which passes a connection "
            'in config.attributes["connection"]'
        )
    context.configure(connection=connection, **_common_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
