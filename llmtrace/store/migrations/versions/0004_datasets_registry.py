"""Datasets and their records, the model registry (models, versions, tags, aliases, stage
transition requests) and the prompt registry (prompts, versions, aliases).

Revision ID: 0004_datasets_registry
Revises: 0003_api_keys
Create Date: 2026-11-26 23:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Self-contained on purpose: do not import llmtrace.store.models here, so that this revision keeps
# describing the schema as it was when it was written.

revision: str = "0004_datasets_registry"
down_revision: str | Sequence[str] | None = "0003_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc_datetime() -> sa.DateTime:
    # Naive UTC with microseconds: MySQL's DATETIME drops fractions unless fsp is given.
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _exact(length: int) -> sa.String:
    # Compared exactly on every backend: MySQL/MariaDB's default collation folds case.
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def _long_text() -> sa.Text:
    # JSON payloads: MySQL's TEXT stops at 64 KiB.
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    """Create the dataset, model registry and prompt registry tables."""
    op.create_table(
        "datasets",
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("name", _exact(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", _long_text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_datasets")),
    )
    op.create_index(op.f("ix_datasets_name"), "datasets", ["name"], unique=True)
    op.create_table(
        "prompts",
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("name", _exact(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", _long_text(), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("prompt_id", name=op.f("pk_prompts")),
    )
    op.create_index(op.f("ix_prompts_name"), "prompts", ["name"], unique=True)
    op.create_table(
        "registered_models",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("name", _exact(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_registered_models")),
    )
    op.create_index(op.f("ix_registered_models_name"), "registered_models", ["name"], unique=True)
    op.create_table(
        "dataset_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("inputs", _long_text(), nullable=False),
        sa.Column("expectations", _long_text(), nullable=True),
        sa.Column("outputs", _long_text(), nullable=True),
        sa.Column("context", _long_text(), nullable=True),
        sa.Column("metadata", _long_text(), nullable=True),
        sa.Column("source_trace_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.dataset_id"],
            name=op.f("fk_dataset_records_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_records")),
    )
    op.create_index(
        op.f("ix_dataset_records_dataset_id_input_hash"),
        "dataset_records",
        ["dataset_id", "input_hash"],
        unique=True,
    )
    op.create_index(
        op.f("ix_dataset_records_record_id"), "dataset_records", ["record_id"], unique=True
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("alias", _exact(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_model_aliases_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_table(
        "model_versions",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('None', 'Staging', 'Production', 'Archived')",
            name=op.f("ck_model_versions_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_model_versions_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "version", name=op.f("pk_model_versions")),
    )
    op.create_index(op.f("ix_model_versions_run_id"), "model_versions", ["run_id"], unique=False)
    op.create_table(
        "prompt_aliases",
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("alias", _exact(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.prompt_id"],
            name=op.f("fk_prompt_aliases_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prompt_id", "alias", name=op.f("pk_prompt_aliases")),
    )
    op.create_table(
        "prompt_versions",
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("template_type", sa.String(length=8), nullable=False),
        sa.Column("template", _long_text(), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=True),
        sa.Column("commit_message", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.CheckConstraint(
            "template_type IN ('text', 'chat')", name=op.f("ck_prompt_versions_template_type")
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.prompt_id"],
            name=op.f("fk_prompt_versions_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prompt_id", "version", name=op.f("pk_prompt_versions")),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("key", _exact(250), nullable=False),
        sa.Column("value", _exact(5000), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.model_id"],
            name=op.f("fk_registered_model_tags_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "key", name=op.f("pk_registered_model_tags")),
    )
    op.create_table(
        "model_version_tags",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", _exact(250), nullable=False),
        sa.Column("value", _exact(5000), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            name=op.f("fk_model_version_tags_model_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "version", "key", name=op.f("pk_model_version_tags")),
    )
    op.create_table(
        "stage_transition_requests",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("archive_existing", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column("requested_at", _utc_datetime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", _utc_datetime(), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')",
            name=op.f("ck_stage_transition_requests_status"),
        ),
        sa.CheckConstraint(
            "to_stage IN ('None', 'Staging', 'Production', 'Archived')",
            name=op.f("ck_stage_transition_requests_to_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            name=op.f("fk_stage_transition_requests_model_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_stage_transition_requests")),
    )
    op.create_index(
        op.f("ix_stage_transition_requests_model_id_version"),
        "stage_transition_requests",
        ["model_id", "version"],
        unique=False,
    )
    op.create_index(
        op.f("ix_stage_transition_requests_status_requested_at"),
        "stage_transition_requests",
        ["status", "requested_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the tables (children first; their indexes go with them)."""
    op.drop_table("stage_transition_requests")
    op.drop_table("model_version_tags")
    op.drop_table("registered_model_tags")
    op.drop_table("prompt_versions")
    op.drop_table("prompt_aliases")
    op.drop_table("model_versions")
    op.drop_table("model_aliases")
    op.drop_table("dataset_records")
    op.drop_table("registered_models")
    op.drop_table("prompts")
    op.drop_table("datasets")
