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
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
LIFECYCLE_STAGES = ("active", "deleted")
# Metric values a DOUBLE column cannot hold on every backend (MySQL has no NaN or infinity).
METRIC_SPECIALS = ("nan", "inf", "-inf")
# What a server API key may do: read everything, or read and write.
API_KEY_SCOPES = ("read", "write")
# Registry: a model version's stage, and the state of a stage transition request.
MODEL_STAGES = ("None", "Staging", "Production", "Archived")
TRANSITION_STATUSES = ("PENDING", "APPROVED", "REJECTED", "CANCELLED")
PROMPT_TYPES = ("text", "chat")


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


def _in_check(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


def ExactString(length: int) -> sa.types.TypeEngine[str]:
    """A string compared exactly on every backend: MySQL/MariaDB get the binary collation, so
    that `lr` and `LR` are two param keys there too (their default collation folds case)."""
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb"
    )


# Autoincrement ids: BIGINT on servers, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


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


class ExperimentRow(Base):
    """A named group of runs with its artifact location."""

    __tablename__ = "experiments"

    experiment_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(ExactString(255), unique=True)
    artifact_location: Mapped[str] = mapped_column(sa.Text)
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (_in_check("lifecycle_stage", LIFECYCLE_STAGES, "lifecycle_stage"),)


class ExperimentTagRow(Base):
    """A key/value tag on an experiment."""

    __tablename__ = "experiment_tags"

    experiment_id: Mapped[str] = mapped_column(
        sa.String(32),
        sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    )
    key: Mapped[str] = mapped_column(ExactString(250), primary_key=True)
    value: Mapped[str] = mapped_column(ExactString(5000), default="")


class RunRow(Base):
    """One run: status, times, artifact location, parent run for nested runs."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(ExactString(255), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="RUNNING")
    start_time: Mapped[datetime] = mapped_column(UtcDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Set when the run ends, so `duration` filters and sorts without arithmetic on dates.
    duration_ms: Mapped[float | None] = mapped_column(sa.Double)
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(16), default="active")
    artifact_uri: Mapped[str] = mapped_column(sa.Text)
    user_id: Mapped[str | None] = mapped_column(sa.String(255))
    parent_run_id: Mapped[str | None] = mapped_column(sa.String(32))

    __table_args__ = (
        _in_check("status", RUN_STATUSES, "status"),
        _in_check("lifecycle_stage", LIFECYCLE_STAGES, "lifecycle_stage"),
        sa.Index(None, "experiment_id", "start_time"),
        sa.Index(None, "parent_run_id"),
    )


class ParamRow(Base):
    """A run parameter: immutable once logged."""

    __tablename__ = "params"

    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(ExactString(250), primary_key=True)
    value: Mapped[str] = mapped_column(ExactString(6000))


class MetricRow(Base):
    """One logged metric point (the full history; search reads `latest_metrics`).

    `value` is NULL for NaN and holds +/-DBL_MAX for infinities, with `special` saying which,
    so that every backend stores and compares them the same way.
    """

    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(ExactString(250))
    value: Mapped[float | None] = mapped_column(sa.Double)
    special: Mapped[str | None] = mapped_column(sa.String(8))
    step: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    timestamp_ms: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (
        _in_check("special", METRIC_SPECIALS, "special"),
        sa.Index(None, "run_id", "key", "step"),
    )


class LatestMetricRow(Base):
    """The latest point of each metric of a run (highest step, then latest timestamp)."""

    __tablename__ = "latest_metrics"

    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(ExactString(250), primary_key=True)
    value: Mapped[float | None] = mapped_column(sa.Double)
    special: Mapped[str | None] = mapped_column(sa.String(8))
    step: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    timestamp_ms: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (
        _in_check("special", METRIC_SPECIALS, "special"),
        # Runs ordered by a metric are read from here in (value, run_id) order, the run_id
        # tiebreak included, so that a page stops after its rows without sorting the rest.
        sa.Index(None, "key", "value", "run_id"),
    )


class RunTagRow(Base):
    """A key/value tag on a run (`tags.<key>` in run filters)."""

    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(ExactString(250), primary_key=True)
    value: Mapped[str] = mapped_column(ExactString(5000), default="")


class ApiKeyRow(Base):
    """An API key of the llmtrace server. Only the SHA-256 of the secret is stored: the secret
    is shown once, when the key is created."""

    __tablename__ = "api_keys"

    # Public id, also embedded in the secret (`llmt_<key_id>_<random>`), so a lookup is by key.
    key_id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    scope: Mapped[str] = mapped_column(sa.String(8))
    # Hex SHA-256 of the whole secret: enough for 256-bit random secrets (no dictionary to try).
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Updated at most once a minute per key and server process (see `authenticate_api_key`).
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        _in_check("scope", API_KEY_SCOPES, "scope"),
        sa.Index(None, "secret_hash", unique=True),
    )


class DatasetRow(Base):
    """A named evaluation dataset. `digest` changes whenever its records do, so an evaluation
    run can record exactly which contents it scored."""

    __tablename__ = "datasets"

    dataset_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(ExactString(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    tags: Mapped[str] = mapped_column(LongText, default="{}")  # JSON object
    # SHA-256 over the records' content hashes in insertion order (hex, first 16 characters).
    digest: Mapped[str] = mapped_column(sa.String(64), default="")
    record_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(sa.String(255))

    __table_args__ = (sa.Index(None, "name", unique=True),)


class DatasetRecordRow(Base):
    """One row of a dataset: inputs, expectations, optional outputs/context, metadata. Records
    are unique per dataset by the hash of their inputs (merging records upserts on it)."""

    __tablename__ = "dataset_records"

    # Insertion order, so that a dataset reads back in the order it was written.
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(sa.String(32))
    dataset_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("datasets.dataset_id", ondelete="CASCADE")
    )
    input_hash: Mapped[str] = mapped_column(sa.String(64))
    inputs: Mapped[str] = mapped_column(LongText)  # JSON
    expectations: Mapped[str | None] = mapped_column(LongText)
    outputs: Mapped[str | None] = mapped_column(LongText)
    context: Mapped[str | None] = mapped_column(LongText)
    metadata_json: Mapped[str | None] = mapped_column("metadata", LongText)
    source_trace_id: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        sa.Index(None, "record_id", unique=True),
        sa.Index(None, "dataset_id", "input_hash", unique=True),
    )


class RegisteredModelRow(Base):
    """A registered model: a name under which model versions are kept."""

    __tablename__ = "registered_models"

    model_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(ExactString(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    # Stage transitions of this model's versions need an approved request.
    requires_approval: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The highest version number ever given: numbers of deleted versions are never reused, so
    # `models:/<name>/<n>` always means the same files or nothing.
    last_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (sa.Index(None, "name", unique=True),)


class RegisteredModelTagRow(Base):
    """A key/value tag on a registered model (`tags.<key>` in model filters)."""

    __tablename__ = "registered_model_tags"

    model_id: Mapped[str] = mapped_column(
        sa.String(32),
        sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    )
    key: Mapped[str] = mapped_column(ExactString(250), primary_key=True)
    value: Mapped[str] = mapped_column(ExactString(5000), default="")


class ModelVersionRow(Base):
    """A version of a registered model: where its files are (`source`, a model URI) and the
    run that produced it."""

    __tablename__ = "model_versions"

    model_id: Mapped[str] = mapped_column(
        sa.String(32),
        sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    )
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(sa.Text)
    run_id: Mapped[str | None] = mapped_column(sa.String(32))
    stage: Mapped[str] = mapped_column(sa.String(16), default="None")
    description: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        _in_check("stage", MODEL_STAGES, "stage"),
        sa.Index(None, "run_id"),
    )


class ModelVersionTagRow(Base):
    """A key/value tag on a model version."""

    __tablename__ = "model_version_tags"

    model_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(ExactString(250), primary_key=True)
    value: Mapped[str] = mapped_column(ExactString(5000), default="")

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
    )


class ModelAliasRow(Base):
    """A named pointer (`@champion`) to one version of a registered model."""

    __tablename__ = "model_aliases"

    model_id: Mapped[str] = mapped_column(
        sa.String(32),
        sa.ForeignKey("registered_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    )
    alias: Mapped[str] = mapped_column(ExactString(255), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)


class StageTransitionRequestRow(Base):
    """A request to move a model version to a stage, and its decision (who, when, why)."""

    __tablename__ = "stage_transition_requests"

    request_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(sa.String(32))
    version: Mapped[int] = mapped_column(sa.Integer)
    to_stage: Mapped[str] = mapped_column(sa.String(16))
    archive_existing: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default="PENDING")
    requested_by: Mapped[str | None] = mapped_column(sa.String(255))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[str | None] = mapped_column(sa.String(255))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision_comment: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        _in_check("to_stage", MODEL_STAGES, "to_stage"),
        _in_check("status", TRANSITION_STATUSES, "status"),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
        sa.Index(None, "status", "requested_at"),
        sa.Index(None, "model_id", "version"),
    )


class PromptRow(Base):
    """A registered prompt: a name under which template versions are kept."""

    __tablename__ = "prompts"

    prompt_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(ExactString(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    tags: Mapped[str] = mapped_column(LongText, default="{}")  # JSON object
    # The highest version number ever given: a deleted version's number is never reused.
    last_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (sa.Index(None, "name", unique=True),)


class PromptVersionRow(Base):
    """An immutable version of a prompt: a text template or chat messages (JSON), with the
    variables it takes and a commit message."""

    __tablename__ = "prompt_versions"

    prompt_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("prompts.prompt_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    template_type: Mapped[str] = mapped_column(sa.String(8), default="text")
    template: Mapped[str] = mapped_column(LongText)
    variables: Mapped[str] = mapped_column(sa.Text, default="[]")  # JSON list of names
    # Model settings that belong with the prompt (model name, temperature...), JSON object.
    config: Mapped[str | None] = mapped_column(sa.Text)
    commit_message: Mapped[str | None] = mapped_column(sa.Text)
    tags: Mapped[str] = mapped_column(sa.Text, default="{}")  # JSON object
    created_by: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (_in_check("template_type", PROMPT_TYPES, "template_type"),)


class PromptAliasRow(Base):
    """A named pointer (`@production`) to one version of a prompt."""

    __tablename__ = "prompt_aliases"

    prompt_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("prompts.prompt_id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(ExactString(255), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)


__all__ = [
    "API_KEY_SCOPES",
    "ASSESSMENT_SOURCES",
    "LIFECYCLE_STAGES",
    "METRIC_SPECIALS",
    "MODEL_STAGES",
    "NAMING_CONVENTION",
    "PROMPT_TYPES",
    "RUN_STATUSES",
    "STATUS_VALUES",
    "TRANSITION_STATUSES",
    "ApiKeyRow",
    "AssessmentRow",
    "Base",
    "BigId",
    "DatasetRecordRow",
    "DatasetRow",
    "ExactString",
    "ExperimentRow",
    "ExperimentTagRow",
    "LatestMetricRow",
    "LongText",
    "MetricRow",
    "ModelAliasRow",
    "ModelVersionRow",
    "ModelVersionTagRow",
    "ParamRow",
    "PromptAliasRow",
    "PromptRow",
    "PromptVersionRow",
    "RegisteredModelRow",
    "RegisteredModelTagRow",
    "RunRow",
    "RunTagRow",
    "SpanRow",
    "StageTransitionRequestRow",
    "TraceMetadataRow",
    "TraceRow",
    "TraceTagRow",
    "UtcDateTime",
]
