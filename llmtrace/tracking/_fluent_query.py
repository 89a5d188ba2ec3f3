"""Fluent functions on runs and experiments by id, and run search, over the configured store."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmtrace.exceptions import NotFoundError
from llmtrace.store import Experiment, Run, RunList
from llmtrace.tracking._fluent import (
    _client,
    _current_experiment,
    _find_experiment,
    _usable_experiment,
)
from llmtrace.tracking.artifacts import FileInfo


def get_run(run_id: str) -> Run:
    """A run with its params, latest metric values and tags; `NotFoundError` if unknown.

    Example:
        >>> llmtrace.get_run(run_id).metrics["f1"]
    """
    return _client().get_run(run_id)


def delete_run(run_id: str) -> None:
    """Mark a run deleted (hidden from `search_runs`, closed to logging; artifacts kept).

    Example:
        >>> llmtrace.delete_run(run_id); llmtrace.restore_run(run_id)
    """
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Make a deleted run active again.

    Example:
        >>> llmtrace.restore_run(run_id)
    """
    _client().restore_run(run_id)


def list_artifacts(run_id: str, path: str | None = None) -> list[FileInfo]:
    """Files and folders directly inside `path` (default: the root) of a run's artifacts.

    Example:
        >>> [f.path for f in llmtrace.list_artifacts(run_id, "plots")]
        ['plots/loss.png']
    """
    return _client().list_artifacts(run_id, path)


def download_artifacts(
    run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
) -> Path:
    """Copy a run's artifact file or folder (`""`: everything) to `dst_path` (default: a new
    temporary folder), keeping its relative path; returns the local path.

    Example:
        >>> local = llmtrace.download_artifacts(run_id, "eval/results.json", "/tmp/out")
    """
    return _client().download_artifacts(run_id, path, dst_path)


def search_runs(
    experiments: Sequence[str] | str | None = None,
    filter: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    limit: int = 100,
    page_token: str | None = None,
    view: str = "active",
) -> RunList:
    """Search runs of experiments (names or ids; default: the current experiment).

    The filter language (see docs/tracking.md) has `metrics.<k>`, `params.<k>`, `tags.<k>`
    and the attributes `status`, `name`, `run_id`, `start_time`, `end_time`, `duration`,
    `user_id`, `parent_run_id`; `and`/`or`/`not`, parentheses, comparisons, `like`, `in`,
    `is null`. `order_by` entries are "<key> [asc|desc]"; pages continue with
    `page_token=result.next_page_token`.

    Example:
        >>> runs = llmtrace.search_runs(["rag-tuning"], "metrics.f1 > 0.8 and params.k = '5'",
        ...                             order_by=["metrics.f1 desc"], limit=10)
        >>> runs.to_pandas()
    """
    client = _client()
    if experiments is None:
        current = _current_experiment(client, create=False)
        if current is None:
            return RunList([], None)
        ids = [current.experiment_id]
    else:
        refs = [experiments] if isinstance(experiments, str) else list(experiments)
        ids = []
        for ref in refs:
            exp = _find_experiment(client, ref)
            if exp is None:
                raise NotFoundError(f"experiment {ref!r} not found (by name or id)")
            ids.append(exp.experiment_id)
    return client.search_runs(
        ids, filter, order_by=order_by, limit=limit, page_token=page_token, view=view
    )


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    """Create an experiment and return its id (`AlreadyExistsError` if the name is taken).
    Its artifacts go to `artifact_location`, default a new folder under the configured
    artifact root (`LLMTRACE_ARTIFACTS`).

    Example:
        >>> exp_id = llmtrace.create_experiment("rag-tuning", tags={"team": "search"})
    """
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment with this name (active or deleted), or None.

    Example:
        >>> llmtrace.get_experiment_by_name("rag-tuning").experiment_id
    """
    return _client().get_experiment_by_name(name)


def rename_experiment(experiment_id: str, new_name: str) -> None:
    """Rename an experiment (`AlreadyExistsError` if the name is taken).

    Example:
        >>> llmtrace.rename_experiment(exp_id, "rag-tuning-v2")
    """
    _client().rename_experiment(experiment_id, new_name)


def delete_experiment(experiment_id: str) -> None:
    """Mark an experiment deleted, its runs with it; `restore_experiment` undoes it.

    Example:
        >>> llmtrace.delete_experiment(exp_id)
    """
    _client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    """Make a deleted experiment (and its runs) active again.

    Example:
        >>> llmtrace.restore_experiment(exp_id)
    """
    _client().restore_experiment(experiment_id)


def set_experiment_tags(tags: Mapping[str, Any], experiment_id: str | None = None) -> None:
    """Set (or replace) tags of an experiment (default: the current experiment).

    Example:
        >>> llmtrace.set_experiment_tags({"owner": "ada"})
    """
    client = _client()
    if experiment_id is None:
        experiment_id = _usable_experiment(client, None).experiment_id
    client.set_experiment_tags(experiment_id, tags)


__all__ = [
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "download_artifacts",
    "get_experiment_by_name",
    "get_run",
    "list_artifacts",
    "rename_experiment",
    "restore_experiment",
    "restore_run",
    "search_runs",
    "set_experiment_tags",
]
