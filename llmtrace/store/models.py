"""SQLAlchemy 2.0 models of the llmtrace store: the single source of the schema.

Alembic migrations in `llmtrace/store/migrations/versions/` must produce exactly this schema
(`tests/store/test_migrations.py` compares them). When you change a model, add a revision.

Conventions: every constraint and index is named through `NAMING_CONVENTION`; timestamps are
UTC (`UtcDateTime` stores naive UTC and returns aware datetimes); enum-like columns are strings
with a named CHECK constraint so that every backend enforces them the same way; large JSON
payloads are text (LONGTEXT on MySQL, whose TEXT stops at 64 KiB).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUS_VALUES = ("UNSET", "OK", "ERROR")
ASSESSMENT_SOURCES = ("HUMAN", "LLM_JUDGE", "CODE")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, stored as naive UTC with microseconds on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


# JSON payloads (inputs, outputs, attributes) as text: LONGTEXT on MySQL.
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _status_check(column: str, name: str) -> sa.CheckConstraint:
    values = ", ".join(f"'{v}'" for v in STATUS_VALUES)
    return sa.CheckConstraint(f"{column} IN ({values})", name=name)


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class TraceRow(Base):
    """One trace with its rollups, so that listing and filtering never scan spans."""

    __tablename__ = "traces"

    trace_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    project: Mapped[str] = mapped_column(sa.String(255), default="default")
    # Root span name; empty until the root span arrives.
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    start_time: Mapped[datetime] = mapped_column(UtcDateTime())
    end_time: Mapped[datetime] = mapped_column(UtcDateTime())
    duration_ms: Mapped[float] = mapped_column(sa.Double)
    status: Mapped[str] = mapped_column(sa.String(8), default="UNSET")
    session_id: Mapped[str | None] = mapped_column(sa.String(255))
    user_id: Mapped[str | None] = mapped_column(sa.String(255))
    run_id: Mapped[str | None] = mapped_column(sa.String(64))
    input_tokens: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total_tokens: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # USD; NULL when no span of the trace has a known cost (unknown is not $0).
    cost: Mapped[float | None] = mapped_column(sa.Double)
    input_preview: Mapped[str | None] = mapped_column(sa.String(1000))
    output_preview: Mapped[str | None] = mapped_column(sa.String(1000))
    span_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    error_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # True once the local root span (no parent, or a remote parent) has been stored.
    has_root: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    __table_args__ = (
        _status_check("status", "status"),
        sa.Index(None, "project", "start_time"),
        sa.Index(None, "start_time"),
        sa.Index(None, "session_id"),
        sa.Index(None, "user_id"),
        sa.Index(None, "run_id"),
    )


class SpanRow(Base):
    """One span. `inputs`, `outputs`, `attributes` and `events` are JSON text."""

    __tablename__ = "spans"

    trace_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("traces.trace_id", ondelete="CASCADE"), primary_key=True
    )
    span_id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    parent_span_id: Mapped[str | None] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(255))
    span_type: Mapped[str] = mapped_column(sa.String(32), default="UNKNOWN")
    status: Mapped[str] = mapped_column(sa.String(8), default="UNSET")
    status_message: Mapped[str | None] = mapped_column(sa.Text)
    start_time: Mapped[datetime] = mapped_column(UtcDateTime())
    end_time: Mapped[datetime] = mapped_column(UtcDateTime())
    duration_ms: Mapped[float] = mapped_column(sa.Double)
    model: Mapped[str | None] = mapped_column(sa.String(255))
    input_tokens: Mapped[int | None] = mapped_column(sa.BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(sa.BigInteger)
    cost: Mapped[float | None] = mapped_column(sa.Double)
    inputs: Mapped[str | None] = mapped_column(LongText)
    outputs: Mapped[str | None] = mapped_column(LongText)
    attributes: Mapped[str] = mapped_column(LongText, default="{}")
    events: Mapped[str] = mapped_column(LongText, default="[]")

    # No secondary indexes: span conditions in filters are EXISTS subqueries correlated on
    # trace_id, which the primary key serves, and every index slows the hot bulk insert.
    __table_args__ = (_status_check("status", "status"),)


class TraceTagRow(Base):
    """A key/value tag on a trace (`tag.<key>` in filters). Mutable after the trace ends."""

    __tablename__ = "trace_tags"

    trace_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("traces.trace_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(500), default="")

    __table_args__ = (sa.Index(None, "key", "value"),)


class TraceMetadataRow(Base):
    """A key/value metadata entry on a trace (`metadata.<key>` in filters)."""

    __tablename__ = "trace_metadata"

    trace_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("traces.trace_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(500), default="")

    __table_args__ = (sa.Index(None, "key", "value"),)


class AssessmentRow(Base):
    """A score or piece of feedback on a trace or one of its spans."""

    __tablename__ = "assessments"

    assessment_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    trace_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("traces.trace_id", ondelete="CASCADE")
    )
    span_id: Mapped[str | None] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(255))
    source_type: Mapped[str] = mapped_column(sa.String(16))
    source_id: Mapped[str | None] = mapped_column(sa.String(255))
    # JSON text of the value as given (number, bool, string, object); numeric copy for stats.
    value: Mapped[str | None] = mapped_column(LongText)
    numeric_value: Mapped[float | None] = mapped_column(sa.Double)
    rationale: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)
    metadata_json: Mapped[str] = mapped_column("metadata", LongText, default="{}")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        sa.CheckConstraint(
            "source_type IN (" + ", ".join(f"'{v}'" for v in ASSESSMENT_SOURCES) + ")",
            name="source_type",
        ),
        sa.Index(None, "trace_id"),
        sa.Index(None, "name"),
    )


__all__ = [
    "ASSESSMENT_SOURCES",
    "NAMING_CONVENTION",
    "STATUS_VALUES",
    "AssessmentRow",
    "Base",
    "LongText",
    "SpanRow",
    "TraceMetadataRow",
    "TraceRow",
    "TraceTagRow",
    "UtcDateTime",
]
