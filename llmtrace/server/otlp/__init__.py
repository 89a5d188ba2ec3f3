"""OTLP ingest (placeholder until the ingest work lands): HTTP route, queue, gRPC receiver."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from llmtrace.store import SqlStore

router = APIRouter()


class IngestQueue:
    """Bounded queue of spans written by a background thread."""

    def __init__(self, store: SqlStore, *, max_spans: int) -> None:
        self.store = store
        self.max_spans = max_spans

    def start(self) -> None:
        """Start the writer."""

    def stop(self) -> None:
        """Drain and stop the writer."""

    def stats(self) -> dict[str, Any]:
        """Counters."""
        return {}


def start_grpc(app: FastAPI, port: int, host: str) -> Any:
    """Start the OTLP/gRPC receiver."""
    raise NotImplementedError


__all__ = ["IngestQueue", "router", "start_grpc"]
