"""Fixtures for model-format tests: the tracking fixtures (tracing and runs into a temporary
SQLite store, artifacts in a temporary folder), and a fake registry store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from llmtrace.exceptions import NotFoundError
from tests.tracking.conftest import configure_tracing, reset_fluent_state, traced, tracking

__all__ = ["FakeRegistry", "configure_tracing", "reset_fluent_state", "traced", "tracking"]


@dataclass
class FakeVersion:
    """The fields of a registered model version that model URIs use."""

    name: str
    version: int
    source: str
    run_id: str | None = None
    current_stage: str = "None"


class FakeRegistry:
    """A hand-written stand-in for the registry methods of a store: versions, aliases and
    stages in dicts. Other attributes (get_run, ...) go to `delegate` when given, so that
    `runs:/` sources resolve through a real store."""

    def __init__(self, delegate: Any = None) -> None:
        self.versions: dict[tuple[str, int], FakeVersion] = {}
        self.aliases: dict[tuple[str, str], int] = {}
        self.calls: list[tuple[str, Any]] = []
        self._delegate = delegate

    def add(self, name: str, source: str, *, stage: str = "None", run_id: str | None = None) -> int:
        version = 1 + max((v for n, v in self.versions if n == name), default=0)
        self.versions[(name, version)] = FakeVersion(name, version, source, run_id, stage)
        return version

    def get_model_version(self, name: str, version: int) -> FakeVersion:
        self.calls.append(("get_model_version", (name, version)))
        try:
            return self.versions[(name, version)]
        except KeyError:
            raise NotFoundError(f"model version {name} v{version} not found") from None

    def get_model_version_by_alias(self, name: str, alias: str) -> FakeVersion:
        self.calls.append(("get_model_version_by_alias", (name, alias)))
        if (name, alias) not in self.aliases:
            raise NotFoundError(f"alias {alias!r} of {name!r} not found")
        return self.versions[(name, self.aliases[(name, alias)])]

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[FakeVersion]:
        self.calls.append(("get_latest_versions", (name, stages)))
        latest: dict[str, FakeVersion] = {}
        for (n, _), v in sorted(self.versions.items()):
            if n == name and (stages is None or v.current_stage in stages):
                latest[v.current_stage] = v
        return list(latest.values())

    def __getattr__(self, attr: str) -> Any:
        if self._delegate is None:
            raise AttributeError(attr)
        return getattr(self._delegate, attr)


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()
