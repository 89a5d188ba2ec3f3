"""API keys of the server: public id, name, scope, SHA-256 of the secret, timestamps.

Revision ID: 0003_api_keys
Revises: 0002_experiment_tracking
Create Date: 2026-11-26 19:16:36.962488
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Self-contained on purpose: do not import llmtrace.store.models here, so that this revision keeps
# describing the schema as it was when it was written.

revision: str = "0003_api_keys"
down_revision: str | Sequence[str] | None = "0002_experiment_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc_datetime() -> sa.DateTime:
    # Naive UTC with microseconds: MySQL's DATETIME drops fractions unless fsp is given.
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create the `api_keys` table."""
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("revoked_at", _utc_datetime(), nullable=True),
        sa.Column("last_used_at", _utc_datetime(), nullable=True),
        sa.CheckConstraint("scope IN ('read', 'write')", name=op.f("ck_api_keys_scope")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_secret_hash"), "api_keys", ["secret_hash"], unique=True)


def downgrade() -> None:
    """Drop the `api_keys` table (its index goes with it)."""
    op.drop_table("api_keys")
