"""The fluent API: `with llmtrace.start_run(): llmtrace.log_metric("loss", 0.3)`.

Active runs form a stack in a ContextVar, so each thread and asyncio task sees the runs it
started (a worker thread sees the caller's run when started through
`llmtrace.ContextThreadPoolExecutor` or `llmtrace.with_context`). While a run is active,
`llmtrace.context.trace_defaults(run_id=...)` is in force: spans started inside carry the run
id, and `llmtrace.search_traces(f"run_id = '{run_id}'")` lists them.
"""

from __future__ import annotations

import atexit
import getpass
import logging
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from llmtrace.context import trace_defaults
from llmtrace.exceptions import AlreadyExistsError, NotFoundError
from llmtrace.store import Experiment, Metric, Run
from llmtrace.store._tracking_values import (
    check_metric,
    check_params,
    check_status,
    check_tags,
    now_ms,
)
from llmtrace.tracking import _defaults
from llmtrace.tracking._async import get_async_logger
from llmtrace.tracking._client import TrackingClient
from llmtrace.tracking._errors import RunStateError

logger = logging.getLogger("llmtrace")

DEFAULT_EXPERIMENT = "Default"
# Tag holding the `description` given to start_run.
DESCRIPTION_TAG = "llmtrace.note"

_ID = re.compile(r"^[0-9a-f]{32}$")


class ActiveRun:
    """A run started by `start_run`: a context manager that ends it (FINISHED, FAILED when
    the block raises, KILLED on KeyboardInterrupt); `info` is the run's `RunInfo` (updated
    when the run ends), `run_id` its id.

    Example:
        >>> with llmtrace.start_run(name="baseline") as run:
        ...     llmtrace.log_metric("f1", 0.8)
        >>> run.info.status
        'FINISHED'
    """

    def __init__(
        self,
        run: Run,
        client: TrackingClient,
        *,
        log_async: bool,
        defaults: AbstractContextManager[Any],
    ) -> None:
        self.info = run.info
        self.log_async = log_async
        self._client = client
        self._defaults = defaults
        self._ended = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.name!r} {self.run_id} status={self.info.status}>"

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            _end(self, "FINISHED")
            return
        status = "FAILED" if isinstance(exc, Exception) else "KILLED"
        try:
            _end(self, status)
        except Exception:
            # The block's own exception is what the caller must see.
            logger.error("llmtrace: ending run %s as %s failed", self.run_id, status, exc_info=True)

    # --- internals ------------------------------------------------------------------------------

    def _log(
        self,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        if self._ended:
            raise RunStateError(f"run {self.run_id} has ended; start a new run to log more")
        if not self.log_async:
            self._client.log_batch(
                self.run_id, metrics=metrics, params=params or {}, tags=tags or {}
            )
            return
        # Validated here, so that bad input fails at the call as in synchronous mode.
        stamp = now_ms()
        get_async_logger().enqueue(
            self._client.store,
            self.run_id,
            metrics=[check_metric(m, stamp) for m in metrics],
            params=check_params(params or {}),
            tags=check_tags(tags or {}),
        )

    def _finish(self, status: str) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        errors = get_async_logger().flush(self.run_id) if self.log_async else []
        final = "FAILED" if errors and status == "FINISHED" else status
        self.info = self._client.set_terminated(self.run_id, final)
        if errors:
            for extra in errors[1:]:
                logger.error("llmtrace: an async log call of run %s failed: %s", self.run_id, extra)
            raise errors[0]

    def _leave_context(self) -> None:
        try:
            self._defaults.__exit__(None, None, None)
        except ValueError:  # ended from another context than the one that started it
            logger.debug("llmtrace: run %s ended outside its context", self.run_id)


_STACK: ContextVar[tuple[ActiveRun, ...]] = ContextVar("llmtrace_active_runs", default=())
# set_experiment(): (experiment_id, name), process-wide.
_experiment: tuple[str, str] | None = None
_exit_hook = False
_exit_hook_lock = threading.Lock()


def _client() -> TrackingClient:
    return TrackingClient()


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without a passwd entry)
        return None


def _find_experiment(client: TrackingClient, ref: str) -> Experiment | None:
    """By name, else by id (for a 32-hex `ref`)."""
    found = client.get_experiment_by_name(ref)
    if found is None and _ID.match(ref):
        try:
            found = client.get_experiment(ref)
        except NotFoundError:
            found = None
    return found


def _current_experiment(client: TrackingClient, *, create: bool) -> Experiment | None:
    if _experiment is not None:
        experiment_id, name = _experiment
        try:
            return client.get_experiment(experiment_id)
        except NotFoundError:  # another store was configured since set_experiment()
            return _experiment_named(client, name, create=create)
    return _experiment_named(client, DEFAULT_EXPERIMENT, create=create)


def _experiment_named(client: TrackingClient, ref: str, *, create: bool) -> Experiment | None:
    found = _find_experiment(client, ref)
    if found is not None or not create:
        return found
    try:
        return client.get_experiment(client.create_experiment(ref))
    except AlreadyExistsError:  # created concurrently
        found = client.get_experiment_by_name(ref)
        if found is None:
            raise
        return found


def _usable_experiment(client: TrackingClient, ref: str | None) -> Experiment:
    exp = (
        _current_experiment(client, create=True)
        if ref is None
        else _experiment_named(client, ref, create=True)
    )
    assert exp is not None
    if exp.lifecycle_stage == "deleted":
        raise RunStateError(
            f"experiment {exp.name!r} ({exp.experiment_id}) is deleted: restore it with "
            f"llmtrace.restore_experiment({exp.experiment_id!r}) or use another name"
        )
    return exp


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    run_id: str | None = None,
    description: str | None = None,
    log_async: bool | None = None,
) -> ActiveRun:
    """Start a run and make it active; use as a context manager, or call `end_run()`.

    - `experiment`: a name or an id; default the one given to `set_experiment`, else
      "Default". A missing experiment is created.
    - `nested=True` starts a child of the active run (`parent_run_id`); without it, starting
      a run while one is active raises `RunStateError`.
    - `run_id` resumes an existing run (status RUNNING again).
    - `description` is stored as the tag `llmtrace.note`.
    - `log_async=True` (or `LLMTRACE_ASYNC_LOGGING=true`): `log_param(s)`, `log_metric(s)`
      and `set_tag(s)` return at once and a background thread writes them; `end_run` waits
      for them and raises the first error. Artifacts are always written at the call.

    Spans started inside (`@llmtrace.trace`, integrations) carry the run id.

    Example:
        >>> with llmtrace.start_run(name="k=5", experiment="rag-tuning") as run:
        ...     llmtrace.log_params({"k": 5, "model": "gpt-4o-mini"})
        ...     for step, loss in enumerate(losses):
        ...         llmtrace.log_metric("loss", loss, step=step)
    """
    stack = _STACK.get()
    if stack and not nested:
        top = stack[-1]
        raise RunStateError(
            f"run {top.run_id} ({top.info.name!r}) is already active: pass nested=True to "
            "start a child run, or end it first (llmtrace.end_run())"
        )
    client = TrackingClient(_defaults.default_store())
    settings = _defaults.current_settings()
    all_tags = dict(tags or {})
    if description is not None:
        all_tags[DESCRIPTION_TAG] = description
    if run_id is not None:
        run = _resume(client, run_id, experiment, name, all_tags)
    else:
        exp = _usable_experiment(client, experiment)
        run = client.create_run(
            exp.experiment_id,
            name=name,
            tags=all_tags,
            parent_run_id=stack[-1].run_id if stack else None,
            user_id=_user(),
        )
    defaults = trace_defaults(run_id=run.run_id)
    defaults.__enter__()
    active = ActiveRun(
        run,
        client,
        log_async=settings.async_logging if log_async is None else log_async,
        defaults=defaults,
    )
    _STACK.set((*stack, active))
    _install_exit_hook()
    return active


def _resume(
    client: TrackingClient,
    run_id: str,
    experiment: str | None,
    name: str | None,
    tags: Mapping[str, Any],
) -> Run:
    run = client.get_run(run_id)
    if run.info.lifecycle_stage == "deleted":
        raise RunStateError(
            f"run {run_id} is deleted: restore it with llmtrace.restore_run({run_id!r}) first"
        )
    if experiment is not None:
        exp = _find_experiment(client, experiment)
        if exp is None or exp.experiment_id != run.info.experiment_id:
            raise RunStateError(
                f"run {run_id} belongs to experiment {run.info.experiment_id}, not {experiment!r}"
            )
    run.info = client.update_run(run_id, status="RUNNING", name=name)
    if tags:
        client.set_tags(run_id, tags)
        run.tags.update({k: str(v) for k, v in tags.items()})
    return run


def active_run() -> ActiveRun | None:
    """The innermost active run of this context, or None.

    Example:
        >>> with llmtrace.start_run() as run:
        ...     assert llmtrace.active_run() is run
    """
    stack = _STACK.get()
    return stack[-1] if stack else None


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run (and make its parent active again); no-op without one.

    `status` is FINISHED, FAILED or KILLED. In async mode, waits for the run's queued log
    calls and raises the first that failed (the run then ends FAILED).
    """
    stack = _STACK.get()
    if stack:
        _end(stack[-1], status)


def _end(target: ActiveRun, status: str) -> None:
    """End `target`, after any run nested in it that is still active (same status)."""
    status = check_status(status)  # a typo must not leave the run half-ended
    stack = _STACK.get()
    if not any(r is target for r in stack):
        target._finish(status)  # started in another context: nothing of ours to unwind
        return
    index = next(i for i, r in enumerate(stack) if r is target)
    first_error: BaseException | None = None
    for position in range(len(stack) - 1, index - 1, -1):
        run = stack[position]
        try:
            run._finish(status)
        except Exception as exc:
            first_error = first_error or exc
        finally:
            _STACK.set(stack[:position])
            run._leave_context()
    if first_error is not None:
        raise first_error


def _active(what: str) -> ActiveRun:
    stack = _STACK.get()
    if not stack:
        raise RunStateError(
            f"{what} needs an active run: wrap the code in `with llmtrace.start_run():`, or use "
            "llmtrace.TrackingClient() with an explicit run id"
        )
    return stack[-1]


def _install_exit_hook() -> None:
    global _exit_hook
    with _exit_hook_lock:
        if not _exit_hook:
            _exit_hook = True
            atexit.register(_end_runs_at_exit)


def _end_runs_at_exit() -> None:
    stack = _STACK.get()
    if not stack:
        return
    # The interpreter sets sys.last_value when the program dies of an uncaught exception.
    crashed = getattr(sys, "last_value", None) is not None
    try:
        _end(stack[0], "FAILED" if crashed else "FINISHED")
    except Exception as exc:  # interpreter exit: a message, never a traceback
        logger.error("llmtrace: ending the active run at exit failed: %s", exc)


def set_experiment(name: str) -> Experiment:
    """Make `name` (or an experiment id) the experiment of later runs, creating it if needed;
    returns it. Process-wide.

    Example:
        >>> llmtrace.set_experiment("rag-tuning")
        >>> with llmtrace.start_run(): ...
    """
    global _experiment
    exp = _usable_experiment(_client(), name)
    _experiment = (exp.experiment_id, exp.name)
    return exp


__all__ = [
    "DEFAULT_EXPERIMENT",
    "DESCRIPTION_TAG",
    "ActiveRun",
    "active_run",
    "end_run",
    "set_experiment",
    "start_run",
]
