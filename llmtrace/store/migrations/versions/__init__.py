"""Alembic revision files of the llmtrace store; see `llmtrace.store.migrations`."""
