"""Fixtures for evaluation tests: `tracking` (tracing, runs and artifacts in a temporary
SQLite store, fluent state reset afterwards) and the tracing fixtures it builds on."""

from __future__ import annotations

from tests.tracking.conftest import configure_tracing, reset_fluent_state, tracking

__all__ = ["configure_tracing", "reset_fluent_state", "tracking"]
