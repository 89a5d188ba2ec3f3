"""`TrackingClient`: experiments, runs, logging and artifacts with explicit ids."""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from llmtrace.store import Experiment, Metric, Run, RunInfo, RunList, Store, open_store
from llmtrace.store._base import MetricsLike
from llmtrace.store._tracking_values import ParamsLike, TagsLike
from llmtrace.tracking import _defaults, _formats
from llmtrace.tracking.artifacts import ArtifactRepository, FileInfo, get_artifact_repository

if TYPE_CHECKING:
    import pandas as pd

    from llmtrace.store._rest_tracking import RestTrackingMixin

# Artifact URIs of runs seen lately (they never change), to skip a query per artifact call.
_URI_CACHE_SIZE = 1024


def is_remote_store(store: object) -> TypeGuard[RestTrackingMixin]:
    """True when `store` is a client of an llmtrace server (a `RestStore`): its artifacts
    then go through the server.

    Looked up without importing the REST client (and httpx) when no such store exists yet.
    """
    module = sys.modules.get("llmtrace.store._rest_tracking")
    return module is not None and isinstance(store, module.RestTrackingMixin)


class TrackingClient:
    """Experiment tracking with explicit ids: the same operations as the fluent API
    (`llmtrace.start_run`, `llmtrace.log_metric`, ...) for code that manages runs itself,
    from any thread.

    `store` is a `Store` or a store URL: a database URL, or `http(s)://host:port` of an
    llmtrace server (default: the configured store, the one traces go to); `artifact_root`
    is where new experiments keep artifacts (a folder, `file:///...` or `s3://bucket/prefix`;
    default `LLMTRACE_ARTIFACTS` or `$LLMTRACE_HOME/artifacts`). With a server, artifacts go
    through it, and new experiments get a location under the server's artifact root unless
    `artifact_root` is given.

    Example:
        >>> client = llmtrace.TrackingClient()
        >>> exp_id = client.create_experiment("rag-tuning")
        >>> run = client.create_run(exp_id, name="baseline")
        >>> client.log_batch(run.run_id, metrics=[Metric("f1", 0.81)], params={"k": 5})
        >>> client.set_terminated(run.run_id)
    """

    def __init__(
        self,
        store: Store | str | None = None,
        artifact_root: str | os.PathLike[str] | None = None,
        *,
        s3_endpoint_url: str | None = None,
    ) -> None:
        self._store = open_store(store) if isinstance(store, str) else store
        self._artifact_root = os.fspath(artifact_root) if artifact_root is not None else None
        self._s3_endpoint_url = s3_endpoint_url
        self._uris: OrderedDict[str, str] = OrderedDict()
        self._uris_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TrackingClient(store={self._store!r}, artifact_root={self._artifact_root!r})"

    @property
    def store(self) -> Store:
        """The store used (the configured one unless given)."""
        return self._store if self._store is not None else _defaults.default_store()

    @property
    def artifact_root(self) -> str:
        """Where new experiments keep their artifacts."""
        if self._artifact_root is not None:
            return self._artifact_root
        return _defaults.current_settings().artifact_root()

    # --- experiments ----------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment; returns its id. Its artifacts go to `artifact_location`
        (default: a new folder under `artifact_root`). `AlreadyExistsError` if the name is
        taken (by an active or a deleted experiment)."""
        experiment_id = uuid.uuid4().hex
        store = self.store
        if artifact_location is None and self._artifact_root is None and is_remote_store(store):
            # The server keeps the artifacts: its own artifact root decides where.
            return store.create_experiment(name, tags=tags, experiment_id=experiment_id)
        if artifact_location is None:  # the experiment's folder is named after its id
            artifact_location = f"{self.artifact_root.rstrip('/')}/{experiment_id}"
        return store.create_experiment(
            name, artifact_location=artifact_location, tags=tags, experiment_id=experiment_id
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        """One experiment; `NotFoundError` if unknown."""
        return self.store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name (active or deleted), or None."""
        return self.store.get_experiment_by_name(name)

    def list_experiments(self, view: str = "active") -> list[Experiment]:
        """Experiments in a view: "active" (default), "deleted" or "all"."""
        return self.store.list_experiments(view=view)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment; `AlreadyExistsError` if the name is taken."""
        self.store.rename_experiment(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted (its runs with it); `restore_experiment` undoes it."""
        self.store.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        """Make a deleted experiment active again."""
        self.store.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set (or replace) one tag of an experiment."""
        self.store.set_experiment_tag(experiment_id, key, value)

    def set_experiment_tags(self, experiment_id: str, tags: Mapping[str, Any]) -> None:
        """Set (or replace) several tags of an experiment."""
        for key, value in tags.items():
            self.store.set_experiment_tag(experiment_id, key, value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an experiment (no error if it was not set)."""
        self.store.delete_experiment_tag(experiment_id, key)

    # --- runs -----------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        start_time: datetime | None = None,
        user_id: str | None = None,
    ) -> Run:
        """Start a RUNNING run (a readable name is generated when not given)."""
        run = self.store.create_run(
            experiment_id,
            name=name,
            start_time=start_time,
            tags=tags,
            parent_run_id=parent_run_id,
            user_id=user_id,
        )
        self._remember(run.info)
        return run

    def get_run(self, run_id: str) -> Run:
        """A run with its params, latest metric values and tags; `NotFoundError` if unknown."""
        run = self.store.get_run(run_id)
        self._remember(run.info)
        return run

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: datetime | None = None,
        name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; returns the updated info."""
        return self.store.update_run(run_id, status=status, end_time=end_time, name=name)

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: datetime | None = None
    ) -> RunInfo:
        """End a run: FINISHED (default), FAILED or KILLED; sets end time and duration."""
        return self.store.update_run(run_id, status=status, end_time=end_time)

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (hidden from searches, closed to logging); `restore_run`
        undoes it. Its artifacts are kept."""
        self.store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again."""
        self.store.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        view: str = "active",
    ) -> RunList:
        """A page of runs of these experiments matching `filter` (see docs/tracking.md).

        Example:
            >>> client.search_runs([exp_id], "metrics.f1 > 0.8 and params.k = '5'",
            ...                    order_by=["metrics.f1 desc"], limit=20)
        """
        return self.store.search_runs(
            experiment_ids,
            filter,
            order_by=order_by,
            limit=limit,
            page_token=page_token,
            view=view,
        )

    # --- logging --------------------------------------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        metrics: MetricsLike = (),
        params: ParamsLike = (),
        tags: TagsLike = (),
    ) -> None:
        """Log metrics, params and tags in one transaction (all or nothing).

        Metrics are `Metric`s or (key, value[, step[, timestamp_ms]]) tuples; params and tags
        mappings or (key, value) pairs. A param logged again with another value fails the
        whole batch with `InvalidParameterError` (params are immutable).
        """
        self.store.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int = 0,
        timestamp_ms: int | None = None,
    ) -> None:
        """Log one metric point (NaN and +/-inf are stored as such)."""
        self.store.log_batch(run_id, metrics=[Metric(key, value, step, timestamp_ms)])

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int = 0,
        timestamp_ms: int | None = None,
    ) -> None:
        """Log several metrics at one step, in one transaction."""
        points = [Metric(k, v, step, timestamp_ms) for k, v in metrics.items()]
        self.store.log_batch(run_id, metrics=points)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric, ordered by step then timestamp."""
        return self.store.get_metric_history(run_id, key)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one param (stored as `str(value)`; immutable once logged)."""
        self.store.log_batch(run_id, params=[(key, value)])

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log several params in one transaction."""
        self.store.log_batch(run_id, params=params)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set (or replace) one tag of a run."""
        self.store.log_batch(run_id, tags=[(key, value)])

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set (or replace) several tags of a run in one transaction."""
        self.store.log_batch(run_id, tags=tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag of a run (no error if it was not set)."""
        self.store.delete_run_tag(run_id, key)

    # --- artifacts ------------------------------------------------------------------------------

    def artifact_repository(self, run_id: str) -> ArtifactRepository:
        """The artifact repository of a run (local folder or S3, from its artifact URI; with
        a remote store, the server's artifact routes)."""
        store = self.store
        if is_remote_store(store):
            from llmtrace.tracking.artifacts._http import HttpArtifactRepository

            return HttpArtifactRepository(store, run_id)
        with self._uris_lock:
            uri = self._uris.get(run_id)
        if uri is None:
            uri = self.get_run(run_id).info.artifact_uri
        return self.repository_for(uri)

    def repository_for(self, artifact_uri: str) -> ArtifactRepository:
        """The artifact repository of an artifact URI, with this client's S3 endpoint."""
        return get_artifact_repository(artifact_uri, s3_endpoint_url=self._s3_endpoint_url)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Upload a file (or a folder, under its own name) to the run's artifacts, below
        `artifact_path`; returns the artifact path written."""
        return self.artifact_repository(run_id).log_artifact(local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[str]:
        """Upload the contents of a folder below `artifact_path`; returns the files written.
        A symlink pointing outside the folder rejects the whole upload."""
        return self.artifact_repository(run_id).log_artifacts(local_dir, artifact_path)

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> str:
        """Write a dict as JSON (or YAML for `.yaml`/`.yml`, needs PyYAML)."""
        data = _formats.dict_bytes(dictionary, artifact_file)
        return self.artifact_repository(run_id).log_bytes(data, artifact_file)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        """Write text (UTF-8) as an artifact file."""
        return self.artifact_repository(run_id).log_bytes(text.encode("utf-8"), artifact_file)

    def log_table(
        self, run_id: str, data: pd.DataFrame | Mapping[str, Any], artifact_file: str
    ) -> str:
        """Write a table (a DataFrame or a dict of columns) as JSON
        `{"columns": [...], "data": [[...], ...]}` (`.json`) or CSV (`.csv`); an existing
        file is replaced. `load_table` reads it back."""
        data_bytes = _formats.table_bytes(data, artifact_file)
        return self.artifact_repository(run_id).log_bytes(data_bytes, artifact_file)

    def load_table(self, run_id: str, artifact_file: str) -> pd.DataFrame:
        """A table written by `log_table`, as a DataFrame."""
        data = self.artifact_repository(run_id).read_bytes(artifact_file)
        return _formats.read_table(data, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> str:
        """Save a matplotlib figure (format from the extension: .png, .svg, .pdf, ...) or a
        plotly figure (.html, or an image with kaleido installed)."""
        data = _formats.figure_bytes(figure, artifact_file)
        return self.artifact_repository(run_id).log_bytes(data, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly inside `path` (the root by default) of a run's
        artifacts."""
        return self.artifact_repository(run_id).list_artifacts(path)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> Path:
        """Copy a run's artifact file or folder (`""`: all) into `dst_path` (default: a new
        temporary folder); returns the local path of `path`."""
        return self.artifact_repository(run_id).download_artifacts(path, dst_path)

    # --- internals ------------------------------------------------------------------------------

    def _remember(self, info: RunInfo) -> None:
        with self._uris_lock:
            self._uris[info.run_id] = info.artifact_uri
            self._uris.move_to_end(info.run_id)
            while len(self._uris) > _URI_CACHE_SIZE:
                self._uris.popitem(last=False)


__all__ = ["TrackingClient", "is_remote_store"]
