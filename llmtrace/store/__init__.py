"""The llmtrace store: traces, spans, assessments and experiment tracking in SQL (SQLite,
PostgreSQL, MySQL), or on an llmtrace server over its REST API.

Example:
    >>> from llmtrace.store import open_store
    >>> store = open_store("sqlite:///traces.db")
    >>> remote = open_store("http://127.0.0.1:5000")  # a RestStore
"""

from __future__ import annotations

from llmtrace.store._base import Store
from llmtrace.store._filter_syntax import filter_literal
from llmtrace.store._rest_store import RestStore
from llmtrace.store._sql import SqlStore
from llmtrace.store.analytics_entities import SpanGroup, TimeBucket
from llmtrace.store.dataset_entities import (
    Dataset,
    DatasetList,
    DatasetRecord,
    DatasetRecordList,
    MergeResult,
)
from llmtrace.store.entities import Assessment, ModelUsage, Span, Trace, TraceInfo, TraceList
from llmtrace.store.prompt_entities import Prompt, PromptList, PromptVersion, PromptVersionList
from llmtrace.store.records import SpanRecord
from llmtrace.store.registry_entities import (
    ModelVersion,
    ModelVersionList,
    RegisteredModel,
    RegisteredModelList,
    TransitionRequest,
)
from llmtrace.store.run_entities import Experiment, Metric, Param, Run, RunInfo, RunList


def open_store(url: str) -> Store:
    """Open the store at `url`: a `RestStore` for the http(s) URL of an llmtrace server
    (API key from `$LLMTRACE_API_KEY`), else a `SqlStore` on the SQLAlchemy URL, creating and
    migrating the database if needed."""
    if url.startswith(("http://", "https://")):
        return RestStore(url)
    return SqlStore(url)


__all__ = [
    "Assessment",
    "Dataset",
    "DatasetList",
    "DatasetRecord",
    "DatasetRecordList",
    "Experiment",
    "MergeResult",
    "Metric",
    "ModelUsage",
    "ModelVersion",
    "ModelVersionList",
    "Param",
    "Prompt",
    "PromptList",
    "PromptVersion",
    "PromptVersionList",
    "RegisteredModel",
    "RegisteredModelList",
    "RestStore",
    "Run",
    "RunInfo",
    "RunList",
    "Span",
    "SpanGroup",
    "SpanRecord",
    "SqlStore",
    "Store",
    "TimeBucket",
    "Trace",
    "TraceInfo",
    "TraceList",
    "TransitionRequest",
    "filter_literal",
    "open_store",
]
