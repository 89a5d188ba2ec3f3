"""Initial schema: traces, spans, trace tags and metadata, assessments.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Self-contained on purpose: do not import llmtrace.store.models here, so that this revision keeps
# describing the schema as it was when it was written.

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc_datetime() -> sa.DateTime:
    # Naive UTC with microseconds: MySQL's DATETIME drops fractions unless fsp is given.
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _long_text() -> sa.Text:
    # JSON payloads: MySQL's TEXT stops at 64 KiB.
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    """Create every table of the first llmtrace schema."""
    op.create_table(
        "traces",
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("start_time", _utc_datetime(), nullable=False),
        sa.Column("end_time", _utc_datetime(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Double(), nullable=True),
        sa.Column("input_preview", sa.String(1000), nullable=True),
        sa.Column("output_preview", sa.String(1000), nullable=True),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("has_root", sa.Boolean(), nullable=False),
        sa.CheckConstraint("status IN ('UNSET', 'OK', 'ERROR')", name=op.f("ck_traces_status")),
        sa.PrimaryKeyConstraint("trace_id", name=op.f("pk_traces")),
    )
    op.create_index(op.f("ix_traces_project_start_time"), "traces", ["project", "start_time"])
    op.create_index(op.f("ix_traces_start_time"), "traces", ["start_time"])
    op.create_index(op.f("ix_traces_session_id"), "traces", ["session_id"])
    op.create_index(op.f("ix_traces_user_id"), "traces", ["user_id"])
    op.create_index(op.f("ix_traces_run_id"), "traces", ["run_id"])

    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("parent_span_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("span_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("start_time", _utc_datetime(), nullable=False),
        sa.Column("end_time", _utc_datetime(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cost", sa.Double(), nullable=True),
        sa.Column("inputs", _long_text(), nullable=True),
        sa.Column("outputs", _long_text(), nullable=True),
        sa.Column("attributes", _long_text(), nullable=False),
        sa.Column("events", _long_text(), nullable=False),
        sa.CheckConstraint("status IN ('UNSET', 'OK', 'ERROR')", name=op.f("ck_spans_status")),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.trace_id"],
            name=op.f("fk_spans_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name=op.f("pk_spans")),
    )

    op.create_table(
        "trace_tags",
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.trace_id"],
            name=op.f("fk_trace_tags_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trace_id", "key", name=op.f("pk_trace_tags")),
    )
    op.create_index(op.f("ix_trace_tags_key_value"), "trace_tags", ["key", "value"])

    op.create_table(
        "trace_metadata",
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.trace_id"],
            name=op.f("fk_trace_metadata_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trace_id", "key", name=op.f("pk_trace_metadata")),
    )
    op.create_index(op.f("ix_trace_metadata_key_value"), "trace_metadata", ["key", "value"])

    op.create_table(
        "assessments",
        sa.Column("assessment_id", sa.String(32), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("source_type", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=True),
        sa.Column("value", _long_text(), nullable=True),
        sa.Column("numeric_value", sa.Double(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metadata", _long_text(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "source_type IN ('HUMAN', 'LLM_JUDGE', 'CODE')",
            name=op.f("ck_assessments_source_type"),
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["traces.trace_id"],
            name=op.f("fk_assessments_trace_id_traces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assessment_id", name=op.f("pk_assessments")),
    )
    op.create_index(op.f("ix_assessments_trace_id"), "assessments", ["trace_id"])
    op.create_index(op.f("ix_assessments_name"), "assessments", ["name"])


def downgrade() -> None:
    """Drop every table, children first so that foreign keys never block a drop."""
    for table in ("assessments", "trace_metadata", "trace_tags", "spans", "traces"):
        op.drop_table(table)
