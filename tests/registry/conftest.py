"""Fixtures for registry tests: tracing and tracking into a temporary store (`tracking`,
`configure_tracing`) and a live llmtrace server (`live_server`)."""

from __future__ import annotations

from tests.server.conftest import live_server
from tests.tracking.conftest import configure_tracing, reset_fluent_state, tracking

__all__ = ["configure_tracing", "live_server", "reset_fluent_state", "tracking"]
