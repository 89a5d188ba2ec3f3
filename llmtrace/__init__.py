"""llmtrace: OpenTelemetry-native tracing, evaluation and tracking for LLM applications.

Example:
    >>> import llmtrace
    >>> @llmtrace.trace
    ... def answer(question: str) -> str:
    ...     return "42"
    >>> answer("meaning of life?")
    >>> llmtrace.flush(); llmtrace.search_traces(limit=5)
"""

from __future__ import annotations

from llmtrace._api import (
    configure,
    delete_traces,
    flush,
    get_store,
    get_trace,
    search_traces,
    shutdown,
    stats,
)
from llmtrace._version import __version__
from llmtrace.context import trace_defaults
from llmtrace.exceptions import (
    AlreadyExistsError,
    ConfigError,
    FilterSyntaxError,
    InvalidParameterError,
    InvalidQueryError,
    LlmtraceError,
    MigrationError,
    NotFoundError,
    StoreError,
)
from llmtrace.integrations import instrument, uninstrument
from llmtrace.pricing import set_price
from llmtrace.registry import (
    approve_transition,
    load_prompt,
    register_model,
    register_prompt,
    request_transition,
    set_model_alias,
    set_prompt_alias,
    transition_model_version_stage,
)
from llmtrace.semconv import SpanStatus, SpanType
from llmtrace.store import (
    Assessment,
    RestStore,
    Span,
    SqlStore,
    Store,
    Trace,
    TraceInfo,
    TraceList,
)
from llmtrace.tracing import (
    ContextThreadPoolExecutor,
    LiveSpan,
    current_span,
    current_trace_id,
    span,
    trace,
    update_current_trace,
    with_context,
)
from llmtrace.tracking import (
    EvaluationDataset,
    TrackingClient,
    active_run,
    create_dataset,
    create_experiment,
    delete_dataset,
    delete_experiment,
    delete_run,
    download_artifacts,
    end_run,
    get_dataset,
    get_experiment_by_name,
    get_run,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    rename_experiment,
    restore_experiment,
    restore_run,
    search_datasets,
    search_runs,
    set_experiment,
    set_experiment_tags,
    set_tag,
    set_tags,
    start_run,
)

__all__ = [
    "AlreadyExistsError",
    "Assessment",
    "ConfigError",
    "ContextThreadPoolExecutor",
    "EvaluationDataset",
    "FilterSyntaxError",
    "InvalidParameterError",
    "InvalidQueryError",
    "LiveSpan",
    "LlmtraceError",
    "MigrationError",
    "NotFoundError",
    "RestStore",
    "Span",
    "SpanStatus",
    "SpanType",
    "SqlStore",
    "Store",
    "StoreError",
    "Trace",
    "TraceInfo",
    "TraceList",
    "TrackingClient",
    "__version__",
    "active_run",
    "approve_transition",
    "configure",
    "create_dataset",
    "create_experiment",
    "current_span",
    "current_trace_id",
    "delete_dataset",
    "delete_experiment",
    "delete_run",
    "delete_traces",
    "download_artifacts",
    "end_run",
    "flush",
    "get_dataset",
    "get_experiment_by_name",
    "get_run",
    "get_store",
    "get_trace",
    "instrument",
    "list_artifacts",
    "load_prompt",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "register_model",
    "register_prompt",
    "rename_experiment",
    "request_transition",
    "restore_experiment",
    "restore_run",
    "search_datasets",
    "search_runs",
    "search_traces",
    "set_experiment",
    "set_experiment_tags",
    "set_model_alias",
    "set_price",
    "set_prompt_alias",
    "set_tag",
    "set_tags",
    "shutdown",
    "span",
    "start_run",
    "stats",
    "trace",
    "trace_defaults",
    "transition_model_version_stage",
    "uninstrument",
    "update_current_trace",
    "with_context",
]


def __getattr__(name: str) -> object:
    """`llmtrace.models`, `llmtrace.serving` and `llmtrace.registry` after a plain
    `import llmtrace`: imported on first use (the model format pulls in cloudpickle and YAML,
    serving Starlette), so `import llmtrace` stays light."""
    if name in ("models", "serving", "registry"):
        import importlib

        return importlib.import_module(f"llmtrace.{name}")
    raise AttributeError(f"module 'llmtrace' has no attribute {name!r}")
