"""Fixtures for integration tests: the tracing fixtures, plus user prices dropped after each
test so a price set by one test never leaks into another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmtrace import pricing
from tests.tracing.conftest import configure_tracing, traced

__all__ = ["configure_tracing", "traced"]


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    pricing.reset_prices()
    yield
    pricing.reset_prices()
