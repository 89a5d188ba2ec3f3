"""Store migrations on SQLite, PostgreSQL and MariaDB.

`test_migrated_schema_matches_models` is the guard that keeps `llmtrace.store.models` and the
revisions in `llmtrace/store/migrations/versions/` in sync: change a model without adding a
revision (or the other way round) and it fails on every backend.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import StaticPool

from llmtrace.exceptions import MigrationError
from llmtrace.store import migrate
from llmtrace.store.models import Base

LLMTRACE_TABLES = frozenset(Base.metadata.tables)
CHECK_CONSTRAINTS = {
    "traces": {"ck_traces_status"},
    "spans": {"ck_spans_status"},
    "assessments": {"ck_assessments_source_type"},
    "api_keys": {"ck_api_keys_scope"},
}
NOW = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _sqlite_store_like_engine(url: str, **kwargs: Any) -> sa.Engine:
    """A SQLite engine configured as the store runs it: WAL, busy timeout, foreign keys."""
    engine = sa.create_engine(
        url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _trace(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "trace_id": "a" * 32,
        "project": "default",
        "name": "root",
        "start_time": NOW,
        "end_time": NOW,
        "duration_ms": 1.5,
        "status": "OK",
        "input_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
        "span_count": 1,
        "error_count": 0,
        "has_root": True,
    }
    return values | overrides


def _span(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "name": "llm",
        "span_type": "LLM",
        "status": "OK",
        "start_time": NOW,
        "end_time": NOW,
        "duration_ms": 1.5,
        "attributes": "{}",
        "events": "[]",
    }
    return values | overrides


def _assessment(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "assessment_id": "c" * 32,
        "trace_id": "a" * 32,
        "name": "relevance",
        "source_type": "HUMAN",
        "metadata": "{}",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return values | overrides


HEAD = "0004_datasets_registry"


def test_head_is_the_latest_shipped_revision() -> None:
    assert migrate.head_revision() == HEAD


def test_upgrade_downgrade_upgrade(engine: sa.Engine) -> None:
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)
    assert _tables(engine) == LLMTRACE_TABLES | {migrate.VERSION_TABLE}
    assert migrate.current_revision(engine) == migrate.head_revision()

    migrate.downgrade(engine, "base")
    # Alembic keeps its (now empty) version table.
    assert _tables(engine) == {migrate.VERSION_TABLE}
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)
    assert _tables(engine) == LLMTRACE_TABLES | {migrate.VERSION_TABLE}
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_migrated_schema_matches_models(migrated_engine: sa.Engine) -> None:
    # migrated_engine's schema comes from migrate.upgrade, like every user's.
    with migrated_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                # Same comparisons as `revision --autogenerate`, CHECK constraints included.
                "autogenerate_plugins": [
                    "alembic.autogenerate.*",
                    "alembic.ext.checkconstraint_byname",
                ],
                "include_name": lambda name, type_, _parents: (
                    not (type_ == "table" and name == migrate.VERSION_TABLE)
                ),
            },
        )
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_check_constraints_are_named(migrated_engine: sa.Engine) -> None:
    inspector = sa.inspect(migrated_engine)

    for table, expected in CHECK_CONSTRAINTS.items():
        names = {ck["name"] for ck in inspector.get_check_constraints(table)}
        assert names == expected, table


def test_check_constraints_reject_invalid_values(migrated_engine: sa.Engine) -> None:
    tables = Base.metadata.tables
    with migrated_engine.begin() as conn:
        conn.execute(tables["traces"].insert(), _trace())
        conn.execute(tables["spans"].insert(), _span())
        conn.execute(tables["assessments"].insert(), _assessment())

    invalid = [
        ("traces", _trace(trace_id="d" * 32, status="BOGUS")),
        ("spans", _span(span_id="e" * 16, status="BOGUS")),
        ("assessments", _assessment(assessment_id="f" * 32, source_type="BOGUS")),
    ]
    for table, row in invalid:
        # IntegrityError on most backends; some drivers report CHECK failures differently.
        with pytest.raises(sa.exc.DBAPIError), migrated_engine.begin() as conn:
            conn.execute(tables[table].insert(), row)

    with migrated_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables["traces"])).scalar() == 1


def test_utc_datetime_keeps_microseconds(migrated_engine: sa.Engine) -> None:
    # The inline DATETIME(fsp=6) of the revision is what keeps them on MySQL.
    traces = Base.metadata.tables["traces"]
    with migrated_engine.begin() as conn:
        conn.execute(traces.insert(), _trace())
        assert conn.execute(sa.select(traces.c.start_time)).scalar() == NOW


def test_ensure_schema_creates_an_empty_database(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="llmtrace.store.migrate"):
        migrate.ensure_schema(engine)

    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _tables(engine) == LLMTRACE_TABLES | {migrate.VERSION_TABLE}
    assert "creating the llmtrace schema" in caplog.text


def test_ensure_schema_at_head_changes_nothing(migrated_engine: sa.Engine) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(migrated_engine, "before_cursor_execute", record)
    try:
        migrate.ensure_schema(migrated_engine)
        migrate.upgrade(migrated_engine)
    finally:
        sa.event.remove(migrated_engine, "before_cursor_execute", record)

    writes = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "BEGIN", "SELECT GET_LOCK")
    assert not [s for s in statements if s.lstrip().upper().startswith(writes)]
    assert "pg_try_advisory" not in " ".join(statements)


def test_ensure_schema_after_downgrade_recreates_the_schema(sqlite_url: str) -> None:
    # SQLite only: the decision is the same on every backend, the DDL is covered above.
    engine = sa.create_engine(sqlite_url)
    try:
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")

        # The version table exists but is empty: like a new database.
        migrate.ensure_schema(engine)

        assert migrate.current_revision(engine) == migrate.head_revision()
        assert _tables(engine) == LLMTRACE_TABLES | {migrate.VERSION_TABLE}
    finally:
        engine.dispose()


def test_ensure_schema_rejects_a_revision_from_a_newer_llmtrace(migrated_engine: sa.Engine) -> None:
    with migrated_engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999_future'"))

    with pytest.raises(MigrationError, match="'9999_future'") as error:
        migrate.ensure_schema(migrated_engine)

    assert "Upgrade llmtrace" in str(error.value)
    assert migrate.current_revision(migrated_engine) == "9999_future"


def test_ensure_schema_rejects_tables_created_without_migrations(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine)

    with pytest.raises(MigrationError, match="no recorded schema revision"):
        migrate.ensure_schema(engine)

    # The way out the message suggests.
    migrate.stamp(engine)
    migrate.ensure_schema(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


@pytest.fixture
def extra_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Add a revision after head, as a newer llmtrace would ship it; yields its id."""
    (tmp_path / "0099_test_extra.py").write_text(
        '"""Test revision."""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        'revision = "0099_test_extra"\n'
        f'down_revision = "{HEAD}"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade():\n"
        '    op.create_table("test_extra", sa.Column("id", sa.Integer, primary_key=True))\n\n\n'
        "def downgrade():\n"
        '    op.drop_table("test_extra")\n'
    )
    original = migrate._config

    def config_with_extra_revision(*args: Any, **kwargs: Any) -> Any:
        config = original(*args, **kwargs)
        locations = os.pathsep.join([str(migrate.MIGRATIONS_DIR / "versions"), str(tmp_path)])
        config.set_main_option("version_locations", locations.replace("%", "%%"))
        return config

    monkeypatch.setattr(migrate, "_config", config_with_extra_revision)
    migrate._script_directory.cache_clear()
    migrate._known_revisions.cache_clear()
    try:
        yield "0099_test_extra"
    finally:
        monkeypatch.undo()
        migrate._script_directory.cache_clear()
        migrate._known_revisions.cache_clear()


def test_ensure_schema_migrates_an_older_schema(
    engine: sa.Engine, extra_revision: str, caplog: pytest.LogCaptureFixture
) -> None:
    migrate.upgrade(engine, "0001_initial")

    with caplog.at_level(logging.INFO, logger="llmtrace.store.migrate"):
        migrate.ensure_schema(engine)

    assert migrate.current_revision(engine) == extra_revision
    assert "test_extra" in _tables(engine)
    assert f"from revision 0001_initial to {extra_revision}" in caplog.text


def test_concurrent_first_use(db_url: str) -> None:
    # Threads with one engine each stand for processes starting on the same new database.
    make_engine = _sqlite_store_like_engine if db_url.startswith("sqlite") else sa.create_engine
    engines = [make_engine(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def first_use(engine: sa.Engine) -> None:
        try:
            barrier.wait()
            migrate.ensure_schema(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert migrate.current_revision(engines[0]) == migrate.head_revision()
        assert _tables(engines[0]) == LLMTRACE_TABLES | {migrate.VERSION_TABLE}
    finally:
        for engine in engines:
            engine.dispose()


def test_unknown_target_revision_raises_migration_error(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    try:
        with pytest.raises(MigrationError, match="nope"):
            migrate.upgrade(engine, "nope")
    finally:
        engine.dispose()


def test_sqlite_in_memory_with_static_pool() -> None:
    engine = _sqlite_store_like_engine("sqlite://", poolclass=StaticPool)
    try:
        migrate.ensure_schema(engine)
        assert _tables(engine) == LLMTRACE_TABLES | {migrate.VERSION_TABLE}
        migrate.downgrade(engine, "base")
        migrate.ensure_schema(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_sqlite_file_in_wal_mode_cascades(sqlite_url: str) -> None:
    engine = _sqlite_store_like_engine(sqlite_url)
    tables = Base.metadata.tables
    try:
        migrate.ensure_schema(engine)
        with engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            conn.execute(tables["traces"].insert(), _trace())
            conn.execute(tables["spans"].insert(), _span())
            conn.execute(tables["traces"].delete())
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(tables["spans"])).scalar() == 0
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///unused.db", "DATETIME"),
        ("postgresql+psycopg://user@unused/db", "TIMESTAMP WITHOUT TIME ZONE"),
        ("mysql+pymysql://user@unused/db", "LONGTEXT"),
    ],
    ids=["sqlite", "postgresql", "mysql"],
)
def test_upgrade_sql_renders_an_offline_script(url: str, expected: str) -> None:
    script = migrate.upgrade_sql(url)

    assert f"CREATE TABLE {migrate.VERSION_TABLE}" in script
    assert "CREATE TABLE traces" in script
    assert "ck_traces_status" in script
    assert "'0001_initial'" in script
    assert expected in script


def test_new_revision_at_head_is_empty(tmp_path: Path) -> None:
    path = migrate.new_revision("Check the models, again!", directory=tmp_path)

    assert path == tmp_path / "0005_check_the_models_again.py"
    text = path.read_text()
    assert re.search(rf"^down_revision: .* = [\"']{HEAD}[\"']$", text, re.MULTILINE)
    # Nothing to autogenerate: the models and the migrations agree.
    assert "op." not in text
    compile(text, str(path), "exec")


def test_revision_ids_fit_the_version_column() -> None:
    rev_id = migrate._next_revision_id("a very long message " * 5)
    assert rev_id.startswith("0005_a_very_long")
    assert len(rev_id) <= 32


# The conftest's migrated_db_url fixture, which most store tests use instead of migrating.


def test_migrated_db_url_is_at_head(migrated_db_url: str) -> None:
    engine = sa.create_engine(migrated_db_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.begin() as conn:
            # Left behind on purpose, for the next test to prove the fixture deletes it.
            conn.execute(Base.metadata.tables["traces"].insert(), _trace())
    finally:
        engine.dispose()


def test_migrated_db_url_has_empty_tables(migrated_db_url: str) -> None:
    engine = sa.create_engine(migrated_db_url)
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
        assert _tables(engine) == LLMTRACE_TABLES | {migrate.VERSION_TABLE}
    finally:
        engine.dispose()
