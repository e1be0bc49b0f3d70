"""``/api/2.0/mlflow-artifacts``: the proxied artifact store the mlflow client talks to.

Paths are ``<experiment>/<run id>/artifacts/<path>`` for run artifacts and
``<experiment>/models/<model id>/artifacts/<path>`` for logged-model files; anything else,
and any ``..``, absolute, backslash or control-character path in any encoding, is a 400.
The bytes are keel blobs, so an artifact logged by the mlflow client is an ordinary keel
run artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server._json import JSON
from keel.server._types import RunId, Text
from keel.server.api.artifacts import receive_blob, stream_blob
from keel.server.mlflow._context import Ctx, mlflow_reader, mlflow_writer
from keel.store import ArtifactInfo, BlobRef
from keel.store.paths import safe_relpath

router = APIRouter(prefix="/mlflow-artifacts", tags=["mlflow artifacts"])
tracking_router = APIRouter(tags=["mlflow artifacts"])


@dataclass
class Target:
    """The run or logged model a path points into, and the path inside it."""

    ctx: Ctx
    run_id: str | None
    model_id: str | None
    rest: str

    def list(self, prefix: str | None) -> list[ArtifactInfo]:
        store = self.ctx.st.store
        if self.run_id is not None:
            return store.artifacts.list(self.run_id, prefix)
        assert self.model_id is not None
        return store.logged_models.list_files(self.model_id, prefix)

    def get(self) -> ArtifactInfo:
        found = [a for a in self.list(self.rest) if a.path == self.rest]
        if not self.rest or not found:
            raise NotFoundError(f"no artifact {self.rest!r} here")
        return found[0]

    def add(self, ref: BlobRef) -> None:
        store = self.ctx.st.store
        if self.run_id is not None:
            store.artifacts.add(self.run_id, [(self.rest, ref)])
        else:
            assert self.model_id is not None
            store.logged_models.add_files(self.model_id, [(self.rest, ref)])

    def delete(self) -> None:
        store = self.ctx.st.store
        if self.run_id is not None:
            store.artifacts.delete(self.run_id, self.rest)
        else:
            assert self.model_id is not None
            store.logged_models.delete_files(self.model_id, self.rest)


def target(ctx: Ctx, path: str) -> Target:
    safe_relpath(path)  # refuses "..", NUL, backslashes ... in any encoding, anywhere
    parts = path.split("/")
    if len(parts) >= 3 and parts[2] == "artifacts" and parts[1] != "models":
        return Target(ctx, ctx.run(parts[1]), None, _rest(parts[3:]))
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        model = ctx.st.store.logged_models.get(parts[2])
        if ctx.st.project_of_experiment(model.experiment_id) != ctx.project_id:
            raise NotFoundError(f"logged model {parts[2]!r} does not exist")
        return Target(ctx, None, model.id, _rest(parts[4:]))
    raise InvalidArgumentError(
        f"artifact path {path[:200]!r} must look like <experiment id>/<run id>/artifacts/<path>"
    )


def _rest(parts: list[str]) -> str:
    """The path inside the run, checked on its own: ``artifacts//etc`` is absolute."""
    raw = "/".join(parts)
    return safe_relpath(raw) if raw else ""


def listing(items: list[ArtifactInfo], prefix: str) -> list[dict[str, Any]]:
    """Immediate children of ``prefix`` in MLflow's FileInfo shape; a file lists as []."""
    base = f"{prefix}/" if prefix else ""
    files: dict[str, dict[str, Any]] = {}
    for art in items:
        if art.path == prefix:
            return []
        if not art.path.startswith(base):
            continue
        head, sep, _tail = art.path[len(base) :].partition("/")
        if sep:
            files.setdefault(head, {"path": head, "is_dir": True})
        else:
            files[head] = {"path": head, "is_dir": False, "file_size": art.size}
    return sorted(files.values(), key=lambda f: f["path"])


@router.get("/artifacts")
def list_artifacts(path: Text = "", ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    if not path.strip("/"):
        return JSON({})
    tgt = target(ctx, path.strip("/"))
    files = listing(tgt.list(tgt.rest or None), tgt.rest)
    return JSON({"files": files} if files else {})


@router.get("/artifacts/{path:path}")
def download(path: str, ctx: Ctx = Depends(mlflow_reader)) -> Response:
    art = target(ctx, path).get()
    return stream_blob(ctx.st.store.blobs, art.blob_sha, art.size, art.path)


@router.put("/artifacts/{path:path}")
async def upload(path: str, request: Request, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    tgt = await run_in_threadpool(target, ctx, path)
    if not tgt.rest:
        raise InvalidArgumentError(f"artifact path {path[:200]!r} names no file")
    ref = await receive_blob(request, ctx.st.store.blobs)
    await run_in_threadpool(tgt.add, ref)
    return JSON({})


@router.delete("/artifacts/{path:path}")
def delete(path: str, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    tgt = target(ctx, path)
    if not tgt.rest:
        raise InvalidArgumentError("deleting a whole run's artifacts at once is not supported")
    tgt.delete()
    return JSON({})


@tracking_router.get("/artifacts/list")
def tracking_list(
    run_id: RunId | None = None,
    run_uuid: RunId | None = None,
    path: Text = "",
    ctx: Ctx = Depends(mlflow_reader),
) -> JSON:
    """The tracking API's own listing (``/api/2.0/mlflow/artifacts/list``)."""
    rid = ctx.run(run_id or run_uuid)
    info = ctx.st.store.runs.get_info(rid)
    try:
        rest = safe_relpath(path) if path.strip("/") else ""
    except InvalidArgumentError as exc:  # MLflow's words, which its clients match
        raise InvalidArgumentError("Invalid path") from exc
    files = listing(ctx.st.store.artifacts.list(rid, rest or None), rest)
    for f in files:
        f["path"] = f"{rest}/{f['path']}" if rest else f["path"]
    root = f"mlflow-artifacts:/{ctx.exp_str(info.experiment_id)}/{rid}/artifacts"
    return JSON({"root_uri": root, "files": files} if files else {"root_uri": root})
