"""Fluent logging to the active run: params, metrics, tags and artifacts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmtrace.store import Metric
from llmtrace.tracking._fluent import _active
from llmtrace.tracking.artifacts import ArtifactRepository

if TYPE_CHECKING:
    import pandas as pd


def log_param(key: str, value: Any) -> None:
    """Log a param of the active run (stored as `str(value)`; immutable: logging it again
    with another value raises `InvalidParameterError`).

    Example:
        >>> llmtrace.log_param("retriever.k", 5)
    """
    _active("log_param")._log(params={key: value})


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params of the active run at once (one transaction).

    Example:
        >>> llmtrace.log_params({"model": "gpt-4o-mini", "temperature": 0.2})
    """
    _active("log_params")._log(params=params)


def log_metric(key: str, value: float, step: int = 0, timestamp_ms: int | None = None) -> None:
    """Log a metric point of the active run (NaN and +/-inf are kept as such);
    `timestamp_ms` defaults to now.

    Example:
        >>> llmtrace.log_metric("loss", 0.31, step=12)
    """
    _active("log_metric")._log(metrics=[Metric(key, value, step, timestamp_ms)])


def log_metrics(
    metrics: Mapping[str, float], step: int = 0, timestamp_ms: int | None = None
) -> None:
    """Log several metrics of the active run at one step (one transaction).

    Example:
        >>> llmtrace.log_metrics({"precision": 0.8, "recall": 0.7}, step=3)
    """
    points = [Metric(k, v, step, timestamp_ms) for k, v in metrics.items()]
    _active("log_metrics")._log(metrics=points)


def set_tag(key: str, value: Any) -> None:
    """Set (or replace) a tag of the active run.

    Example:
        >>> llmtrace.set_tag("dataset", "faq-v2")
    """
    _active("set_tag")._log(tags={key: value})


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set (or replace) several tags of the active run.

    Example:
        >>> llmtrace.set_tags({"team": "search", "stage": "dev"})
    """
    _active("set_tags")._log(tags=tags)


def _repo_of_active(what: str) -> ArtifactRepository:
    run = _active(what)
    return run._client.repository_for(run.info.artifact_uri)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    """Upload a file (or a folder, under its own name) to the active run's artifacts, below
    `artifact_path`; returns the artifact path written.

    Example:
        >>> llmtrace.log_artifact("model.pkl", artifact_path="models")
        'models/model.pkl'
    """
    return _repo_of_active("log_artifact").log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    """Upload the contents of a folder to the active run's artifacts; returns the files
    written. A symlink pointing outside the folder rejects the whole upload
    (`InvalidArtifactPathError`, nothing uploaded).

    Example:
        >>> llmtrace.log_artifacts("outputs/", artifact_path="outputs")
    """
    return _repo_of_active("log_artifacts").log_artifacts(local_dir, artifact_path)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> str:
    """Write a dict as a JSON artifact (YAML for `.yaml`/`.yml`, needs PyYAML).

    Example:
        >>> llmtrace.log_dict({"prompt": "You are ..."}, "config/prompt.json")
    """
    run = _active("log_dict")
    return run._client.log_dict(run.run_id, dictionary, artifact_file)


def log_text(text: str, artifact_file: str) -> str:
    """Write text (UTF-8) as an artifact file.

    Example:
        >>> llmtrace.log_text(report, "report.md")
    """
    run = _active("log_text")
    return run._client.log_text(run.run_id, text, artifact_file)


def log_table(data: pd.DataFrame | Mapping[str, Any], artifact_file: str) -> str:
    """Write a table (DataFrame or dict of columns) as JSON `{"columns": [...], "data":
    [[...], ...]}` (`.json`; `pd.read_json(f, orient="split", precise_float=True)` reads it
    back exactly) or CSV (`.csv`).

    Example:
        >>> llmtrace.log_table(results_df, "eval/results.json")
    """
    run = _active("log_table")
    return run._client.log_table(run.run_id, data, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> str:
    """Save a matplotlib figure (format from the extension) or a plotly figure (`.html`, or
    an image with kaleido) as an artifact.

    Example:
        >>> fig, ax = plt.subplots(); ax.plot(losses)
        >>> llmtrace.log_figure(fig, "plots/loss.png")
    """
    run = _active("log_figure")
    return run._client.log_figure(run.run_id, figure, artifact_file)


__all__ = [
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
    "set_tag",
    "set_tags",
]
