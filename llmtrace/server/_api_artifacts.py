"""REST routes of run artifacts, mounted under /api/v1: list, download (streamed) and upload
(the raw request body, streamed to a temporary file, then into the run's repository).

The server keeps artifacts where each run's `artifact_uri` says (a folder on the server's
machine or S3-compatible storage, through the same repositories the library uses locally), so
the path rules of `llmtrace.tracking.artifacts` hold here too: `..`, absolute paths,
backslashes, NUL bytes and symlinks leading out of the artifact root answer 400.

Deleted runs: their artifacts can still be listed and downloaded (as `GET /runs/{id}` still
answers), but uploads answer 404, as logging to a deleted run does.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from llmtrace.exceptions import NotFoundError
from llmtrace.server._deps import get_store
from llmtrace.server._errors import ApiError
from llmtrace.server._tracking_models import (
    ArtifactPage,
    ArtifactWritten,
    json_response,
    page_of,
)
from llmtrace.store import SqlStore
from llmtrace.tracking.artifacts import (
    ArtifactRepository,
    FileInfo,
    LocalArtifactRepository,
    get_artifact_repository,
)
from llmtrace.tracking.artifacts._paths import (
    resolve_under,
    validate_artifact_file,
    validate_artifact_path,
)

router = APIRouter(tags=["artifacts"])
StoreDep = Annotated[SqlStore, Depends(get_store)]
_UPLOAD_PREFIX = "llmtrace-upload-"
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "the file's bytes, as they are (any Content-Type)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file's bytes",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def run_repository(store: SqlStore, run_id: str, *, writing: bool) -> ArtifactRepository:
    """The artifact repository of a run; NotFoundError for an unknown run, and for a deleted
    run when `writing`."""
    run = store.get_run(run_id)
    if writing and run.info.lifecycle_stage == "deleted":
        raise NotFoundError(
            f"run {run_id!r} is deleted (or its experiment is); restore it to upload artifacts"
        )
    return get_artifact_repository(run.info.artifact_uri)


@router.get(
    "/runs/{run_id}/artifacts",
    response_model=ArtifactPage,
    summary="List a run's artifacts",
)
def list_artifacts(
    run_id: str,
    store: StoreDep,
    path: str | None = None,
    recursive: bool = False,
    limit: int = 1000,
    page_token: str | None = None,
) -> Response:
    """The files and folders directly inside the folder `path` (default: the root), sorted
    by path. With `recursive=true`: every file below `path` (or `path` itself when it is a
    file), without sizes."""
    rel = validate_artifact_path(path)
    repo = run_repository(store, run_id, writing=False)
    if recursive:
        entries = [FileInfo(key, False, None) for key in sorted(repo._files_under(rel))]
    else:
        entries = repo.list_artifacts(rel)
    items, token = page_of(entries, limit, page_token, "artifacts", run_id, rel, recursive)
    files = [{"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size} for f in items]
    return json_response({"files": files, "next_page_token": token})


def _file_to_send(store: SqlStore, run_id: str, key: str) -> tuple[Path, bool]:
    """A local file holding the artifact `key`, and whether it is a temporary copy."""
    repo = run_repository(store, run_id, writing=False)
    if isinstance(repo, LocalArtifactRepository):
        local = resolve_under(repo.root, key)
        if local.is_file():
            return local, False
        found = local.is_dir()
    else:
        files = repo._files_under(key)
        if files == [key]:
            fd, name = tempfile.mkstemp(prefix=_UPLOAD_PREFIX)
            os.close(fd)
            try:
                repo._download_file(key, Path(name))
            except BaseException:
                os.unlink(name)
                raise
            return Path(name), True
        found = bool(files)
    if found:
        raise NotFoundError(
            f"artifact {key!r} of run {run_id!r} is a folder: list it with "
            f"GET /api/v1/runs/{run_id}/artifacts?path={key}"
        )
    raise NotFoundError(f"no artifact file {key!r} in run {run_id!r}")


@router.get(
    "/runs/{run_id}/artifacts/{path:path}",
    response_class=Response,
    responses=_FILE_ANSWER,
    summary="Download an artifact file",
)
async def download_artifact(run_id: str, path: str, request: Request) -> Response:
    """The bytes of one artifact file, streamed (404 for a folder or a missing file)."""
    key = validate_artifact_file(path)
    local, temporary = await asyncio.to_thread(_file_to_send, get_store(request), run_id, key)
    media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    cleanup = BackgroundTask(os.unlink, local) if temporary else None
    return FileResponse(local, media_type=media_type, background=cleanup)


@router.put(
    "/runs/{run_id}/artifacts/{path:path}",
    status_code=201,
    response_model=ArtifactWritten,
    openapi_extra=_RAW_BODY,
    summary="Upload an artifact file (raw body)",
)
async def upload_artifact(run_id: str, path: str, request: Request) -> Response:
    """Write the request body as the artifact file `path`, replacing what was there. The
    body may be as large as the server's `max_body_bytes`."""
    key = validate_artifact_file(path)
    repo = await asyncio.to_thread(run_repository, get_store(request), run_id, writing=True)
    fd, name = tempfile.mkstemp(prefix=_UPLOAD_PREFIX)
    spool = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                if chunk:
                    await asyncio.to_thread(out.write, chunk)
        try:
            await asyncio.to_thread(repo._upload_file, spool, key)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise ApiError(
                409, f"cannot write the artifact file {key!r} of run {run_id!r}: {exc}"
            ) from exc
    finally:
        spool.unlink(missing_ok=True)
    return json_response({"path": key}, 201)


__all__ = ["router", "run_repository"]
