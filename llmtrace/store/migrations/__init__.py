"""Alembic migrations of the llmtrace store, shipped inside the package and run in code.

There is no ``alembic.ini``: `llmtrace.store.migrate` builds the Alembic configuration
programmatically and hands its own connection to ``env.py``, so migrations work on any engine the
store is given, including in-memory SQLite. The store calls `llmtrace.store.migrate.ensure_schema`
on first use, which creates the schema or brings it up to date.

The version table is ``llmtrace_alembic_version`` (not ``alembic_version``) so that llmtrace can
share a database with an application that runs its own Alembic migrations.

Adding a revision after changing `llmtrace.store.models`::

    python -m llmtrace.store.migrate revision -m "add datasets table"

This upgrades a temporary SQLite database to the current head, autogenerates the difference to the
models into ``versions/NNNN_<slug>.py``, formatted with ruff when it is installed (``--empty``
skips autogenerate, ``--rev-id`` overrides the readable id, ``--directory`` writes elsewhere for
a dry run). Then edit the file by hand:

* keep it self-contained: never import `llmtrace.store.models` (a revision freezes the schema as
  it was when it was written); spell column types inline as ``0001_initial`` does;
* give every constraint and index its full conventional name with ``op.f(...)``;
* SQLite runs with ``render_as_batch``: wrap column changes in ``op.batch_alter_table``;
* MySQL/MariaDB commit DDL implicitly, so keep each revision small enough to be re-run by hand
  should it fail halfway;
* run ``pytest tests/store/test_migrations.py``: its drift test compares the migrated schema with
  the models on SQLite, PostgreSQL and MariaDB.
"""
