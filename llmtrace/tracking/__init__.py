"""Experiment tracking: experiments, runs, params, metrics, tags and artifacts.

The fluent API works on the active run of the current context; `TrackingClient` takes
explicit ids. Runs go to the configured store (the one traces go to), artifacts to
`LLMTRACE_ARTIFACTS` (default `$LLMTRACE_HOME/artifacts`; a folder or `s3://bucket/prefix`).
Everything here is re-exported by `llmtrace` except the two errors.

Example:
    >>> import llmtrace
    >>> with llmtrace.start_run(name="baseline", experiment="rag-tuning") as run:
    ...     llmtrace.log_params({"k": 5, "model": "gpt-4o-mini"})
    ...     llmtrace.log_metric("f1", 0.81)
    ...     answer("question")        # a traced function: its trace is linked to the run
    >>> llmtrace.search_runs(["rag-tuning"], "metrics.f1 > 0.8").to_pandas()
"""

from __future__ import annotations

from llmtrace.tracking._client import TrackingClient
from llmtrace.tracking._datasets import (
    EvaluationDataset,
    create_dataset,
    delete_dataset,
    get_dataset,
    search_datasets,
)
from llmtrace.tracking._defaults import default_store
from llmtrace.tracking._errors import InvalidArtifactPathError, RunStateError
from llmtrace.tracking._fluent import (
    ActiveRun,
    active_run,
    end_run,
    set_experiment,
    start_run,
)
from llmtrace.tracking._fluent_log import (
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
    set_tag,
    set_tags,
)
from llmtrace.tracking._fluent_query import (
    create_experiment,
    delete_experiment,
    delete_run,
    download_artifacts,
    get_experiment_by_name,
    get_run,
    list_artifacts,
    rename_experiment,
    restore_experiment,
    restore_run,
    search_runs,
    set_experiment_tags,
)

__all__ = [
    "ActiveRun",
    "EvaluationDataset",
    "InvalidArtifactPathError",
    "RunStateError",
    "TrackingClient",
    "active_run",
    "create_dataset",
    "create_experiment",
    "default_store",
    "delete_dataset",
    "delete_experiment",
    "delete_run",
    "download_artifacts",
    "end_run",
    "get_dataset",
    "get_experiment_by_name",
    "get_run",
    "list_artifacts",
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
    "rename_experiment",
    "restore_experiment",
    "restore_run",
    "search_datasets",
    "search_runs",
    "set_experiment",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "start_run",
]
