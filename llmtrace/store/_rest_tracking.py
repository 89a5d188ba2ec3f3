"""Experiment-tracking methods of `RestStore`: the tracking half of the `Store` protocol over
the server's REST API (docs/rest-api-tracking.md), plus the artifact transfers that
`HttpArtifactRepository` builds on.

Arguments are checked here with the very checks `SqlStore` runs, so that a bad key, value or
time fails the same way (same exception, same message) before any request is sent; results are
decoded into the same entities (`_wire_runs`). Metric timestamps left out are taken here, at
the call, as `SqlStore` takes them at its call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from llmtrace.exceptions import NotFoundError, StoreError
from llmtrace.store._base import MetricsLike
from llmtrace.store._rest import (
    _RETRY_STATUSES,
    API_PREFIX,
    RestClient,
    _retry_after,
    error_from_response,
)
from llmtrace.store._tracking_values import (
    ParamsLike,
    TagsLike,
    check_metric,
    check_params,
    check_tags,
    check_time,
    now_ms,
)
from llmtrace.store._wire_runs import (
    experiment_from_dict,
    float_to_wire,
    metric_from_dict,
    run_from_dict,
    run_info_from_dict,
    run_list_from_dict,
)
from llmtrace.store.run_entities import Experiment, Metric, Run, RunInfo, RunList

# Pages asked for when a method returns a whole list (the server's maxima).
_EXPERIMENT_PAGE = 10_000
_HISTORY_PAGE = 100_000
_ARTIFACT_PAGE = 10_000
_CHUNK = 1024 * 1024


def segment(text: str) -> str:
    """`text` as one URL path segment: everything percent-encoded but letters, digits and
    `-_~`, so that "/", "?", "#", "%" and the dot segments "." / ".." reach the server as
    written."""
    return quote(text, safe="").replace(".", "%2E")


def artifact_url_path(run_id: str, key: str) -> str:
    """The API path of the artifact file `key` (a validated artifact path) of a run."""
    return f"/runs/{segment(run_id)}/artifacts/{quote(key, safe='/')}"


def _metric_wire(metric: Metric) -> dict[str, Any]:
    return {
        "key": metric.key,
        "value": float_to_wire(metric.value),
        "step": metric.step,
        "timestamp_ms": metric.timestamp_ms,
    }


def _time(value: datetime | None, what: str) -> str | None:
    return None if value is None else check_time(value, what).isoformat()


class RestTrackingMixin(RestClient):
    """Experiments, runs, params, metrics and tags over the server's REST API.

    Example:
        >>> store = RestStore("http://llmtrace:5000")
        >>> exp_id = store.create_experiment("rag-tuning")
        >>> run = store.create_run(exp_id)
        >>> store.log_metric(run.run_id, "f1", 0.8)
    """

    # --- experiments --------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: TagsLike | None = None,
        experiment_id: str | None = None,
    ) -> str:
        """Create an experiment and return its id. Without `artifact_location` the server
        chooses `<its artifact root>/<experiment id>`."""
        body = {
            "name": name,
            "artifact_location": artifact_location,
            "tags": check_tags(tags, "experiment tag"),
            "experiment_id": experiment_id,
        }
        return str(self.request("POST", "/experiments", json=body).json()["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        """One experiment (NotFoundError if unknown)."""
        return experiment_from_dict(self.get_json(f"/experiments/{segment(experiment_id)}"))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with exactly this name, active or deleted, or None."""
        try:
            return experiment_from_dict(self.get_json("/experiments/by-name", name=name))
        except NotFoundError:
            return None

    def list_experiments(self, *, view: str = "active") -> list[Experiment]:
        """Experiments in a view ("active", "deleted", "all"), oldest first."""
        found: list[Experiment] = []
        token: str | None = None
        while True:
            page = self.get_json(
                "/experiments", view=view, limit=_EXPERIMENT_PAGE, page_token=token
            )
            found += [experiment_from_dict(item) for item in page["experiments"]]
            token = page.get("next_page_token")
            if not token:
                return found

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; AlreadyExistsError if the name is taken."""
        path = f"/experiments/{segment(experiment_id)}"
        self.request("PATCH", path, json={"name": new_name}, retry=True)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment (and so its runs) deleted."""
        self.request("DELETE", f"/experiments/{segment(experiment_id)}")

    def restore_experiment(self, experiment_id: str) -> None:
        """Make a deleted experiment active again."""
        self.request("POST", f"/experiments/{segment(experiment_id)}/restore", retry=True)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an active experiment."""
        ((key, text),) = check_tags([(key, value)], "experiment tag").items()
        path = f"/experiments/{segment(experiment_id)}/tags/{segment(key)}"
        self.request("PUT", path, json={"value": text})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag from an active experiment (no error if it was not set)."""
        self.request("DELETE", f"/experiments/{segment(experiment_id)}/tags/{segment(key)}")

    # --- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        start_time: datetime | None = None,
        tags: TagsLike | None = None,
        parent_run_id: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        """Start a RUNNING run in an active experiment."""
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "start_time": _time(start_time, "start_time"),
            "tags": check_tags(tags),
            "parent_run_id": parent_run_id,
            "user_id": user_id,
        }
        return run_from_dict(self.request("POST", "/runs", json=body).json())

    def get_run(self, run_id: str) -> Run:
        """A run with params, latest metrics and tags (NotFoundError if unknown)."""
        return run_from_dict(self.get_json(f"/runs/{segment(run_id)}"))

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: datetime | None = None,
        name: str | None = None,
    ) -> RunInfo:
        """Change status, end time or name of an active run; returns the updated info."""
        body = {"status": status, "end_time": _time(end_time, "end_time"), "name": name}
        body = {k: v for k, v in body.items() if v is not None}
        response = self.request("PATCH", f"/runs/{segment(run_id)}", json=body, retry=True)
        return run_info_from_dict(response.json())

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted."""
        self.request("DELETE", f"/runs/{segment(run_id)}")

    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again."""
        self.request("POST", f"/runs/{segment(run_id)}/restore", retry=True)

    def delete_run_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from an active run (no error if it was not set)."""
        self.request("DELETE", f"/runs/{segment(run_id)}/tags/{segment(key)}")

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: MetricsLike = (),
        params: ParamsLike = (),
        tags: TagsLike = (),
    ) -> None:
        """Log metrics, params and tags to an active run in one transaction."""
        stamp = now_ms()
        points = [_metric_wire(check_metric(m, stamp)) for m in metrics]
        body = {"metrics": points, "params": check_params(params), "tags": check_tags(tags)}
        self.request("POST", f"/runs/{segment(run_id)}/batch", json=body)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        *,
        step: int = 0,
        timestamp_ms: int | None = None,
    ) -> None:
        """Log one metric point (NaN and +/-inf are kept as such)."""
        point = check_metric(Metric(key, value, step, timestamp_ms), now_ms())
        self.request("POST", f"/runs/{segment(run_id)}/metrics", json=_metric_wire(point))

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one (immutable) param; InvalidParameterError if it has another value."""
        ((key, text),) = check_params([(key, value)]).items()
        body = {"key": key, "value": text}
        self.request("POST", f"/runs/{segment(run_id)}/params", json=body, retry=True)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set one tag of a run."""
        ((key, text),) = check_tags([(key, value)]).items()
        self.request("PUT", f"/runs/{segment(run_id)}/tags/{segment(key)}", json={"value": text})

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All points of a metric, by step then timestamp."""
        path = f"/runs/{segment(run_id)}/metrics/{segment(key)}/history"
        points: list[Metric] = []
        token: str | None = None
        while True:
            page = self.get_json(path, limit=_HISTORY_PAGE, page_token=token)
            points += [metric_from_dict(item) for item in page["metrics"]]
            token = page.get("next_page_token")
            if not token:
                return points

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
        """A page of runs of these experiments matching the filter."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else experiment_ids
        body = {
            "experiment_ids": [str(i) for i in ids],
            "filter": filter,
            "order_by": order_by
            if order_by is None or isinstance(order_by, str)
            else list(order_by),
            "limit": limit,
            "page_token": page_token,
            "view": view,
        }
        # A search changes nothing: safe to send again after a lost connection.
        return run_list_from_dict(
            self.request("POST", "/runs/search", json=body, retry=True).json()
        )

    # --- artifacts (the primitives of HttpArtifactRepository) ---------------------------------

    def list_artifact_entries(
        self, run_id: str, path: str = "", *, recursive: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The entries (`path`, `is_dir`, `file_size`) of a run's artifact folder `path`,
        all pages; with `recursive`, every file below it (or `path` itself if a file)."""
        token: str | None = None
        while True:
            params = {
                "path": path or None,
                "recursive": "true" if recursive else None,
                "limit": _ARTIFACT_PAGE,
                "page_token": token,
            }
            page = self.request("GET", f"/runs/{segment(run_id)}/artifacts", params=params).json()
            yield from page["files"]
            token = page.get("next_page_token")
            if not token:
                return

    def upload_artifact(self, run_id: str, key: str, source: Path | bytes) -> None:
        """Send a local file (streamed) or bytes as the artifact file `key` of a run."""
        import httpx

        url = API_PREFIX + artifact_url_path(run_id, key)
        headers = {"Content-Type": "application/octet-stream"}
        for attempt in range(self._retries + 1):
            try:
                if isinstance(source, bytes):
                    response = self._http.put(url, content=source, headers=headers)
                else:
                    with source.open("rb") as body:
                        response = self._http.put(url, content=body, headers=headers)
            except httpx.ConnectError as exc:  # nothing sent yet: safe to try again
                if attempt < self._retries:
                    time.sleep(min(0.1 * 2**attempt, 2.0))
                    continue
                raise StoreError(f"llmtrace server {self.url} unreachable: {exc}") from exc
            except httpx.TransportError as exc:
                raise StoreError(
                    f"uploading the artifact {key!r} of run {run_id!r} to {self.url} failed: "
                    f"{type(exc).__name__}: {exc} (a server closing the connection during a "
                    "large upload usually refuses its size: see its max_body_bytes)"
                ) from exc
            if response.status_code in _RETRY_STATUSES and attempt < self._retries:
                time.sleep(_retry_after(response, attempt))
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            return

    def download_artifact(self, run_id: str, key: str, local: Path) -> None:
        """Stream the artifact file `key` of a run into the local file `local`."""
        import httpx

        url = API_PREFIX + artifact_url_path(run_id, key)
        for attempt in range(self._retries + 1):
            try:
                with self._http.stream("GET", url) as response:
                    if response.status_code in _RETRY_STATUSES and attempt < self._retries:
                        time.sleep(_retry_after(response, attempt))
                        continue
                    if response.status_code >= 400:
                        response.read()
                        raise error_from_response(response)
                    with local.open("wb") as out:
                        for chunk in response.iter_bytes(_CHUNK):
                            out.write(chunk)
                return
            except httpx.TransportError as exc:
                if attempt < self._retries:
                    time.sleep(min(0.1 * 2**attempt, 2.0))
                    continue
                raise StoreError(
                    f"downloading the artifact {key!r} of run {run_id!r} from {self.url} "
                    f"failed: {exc}"
                ) from exc

    def read_artifact(self, run_id: str, key: str) -> bytes:
        """The content of the artifact file `key` of a run."""
        return self.request("GET", artifact_url_path(run_id, key)).content


__all__ = ["RestTrackingMixin", "artifact_url_path", "segment"]
