"""``/api/v1/runs/{id}/artifacts`` and ``/api/v1/blobs``: files streamed up and down.

Bytes never sit whole in memory: uploads spool to a temporary file (memory up to 8 MiB)
and go to the blob store by :meth:`BlobStore.put_stream`; downloads stream
:meth:`BlobStore.iter_chunks`, which verifies the hash as it goes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from keel.exceptions import NotFoundError, PermissionDeniedError
from keel.server._auth import Guard, Principal, authenticated, reader, writer
from keel.server._receipts import can_read, check_reference, receipt
from keel.server._state import AppState, state
from keel.server._types import RunId, Sha, Text
from keel.store import ArtifactInfo, BlobRef
from keel.store.paths import safe_relpath
from keel.store.protocols import Blobs
from keel.store.users import Role
from keel.store.wire import envelope

router = APIRouter(tags=["artifacts"])
SPOOL = 8 << 20
#: How a download route describes its answer: the file's bytes.
BYTES: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {"application/octet-stream": {}}}},
}


class ItemIn(BaseModel):
    path: Text
    sha: Sha


class BlobReceipt(BaseModel):
    """A stored blob and the receipt that proves who uploaded it."""

    sha: str
    size: int
    receipt: str


class ItemsIn(BaseModel):
    """Files to record, each an uploaded blob; ``receipts`` quotes their upload receipts."""

    items: list[ItemIn] = Field(max_length=100_000)
    receipts: dict[Sha, Text] = {}


async def receive_blob(request: Request, blobs: Blobs) -> BlobRef:
    """Spool the request body and put it in the blob store; memory use stays bounded."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        return await run_in_threadpool(blobs.put_stream, spool)


def stream_blob(blobs: Blobs, sha: str, size: int, filename: str) -> StreamingResponse:
    safe_name = filename.rsplit("/", 1)[-1].replace('"', "")[:200] or "download"
    return StreamingResponse(
        blobs.iter_chunks(sha),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{safe_name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _ref(
    st: AppState, who: Principal, path: str, sha: str, receipt: str | None
) -> tuple[str, BlobRef]:
    check_reference(st, who, sha, receipt)
    if not st.store.blobs.exists(sha):
        raise NotFoundError(f"blob {sha} is not on the server; upload it first")
    return safe_relpath(path), BlobRef(sha, st.store.blobs.size(sha))


def refs(
    st: AppState, who: Principal, files: Iterable[tuple[str, str]], receipts: Mapping[str, str]
) -> list[tuple[str, BlobRef]]:
    """Files (path, blob sha) to record, each blob on the server and uploaded by ``who``
    (its receipt in ``receipts``)."""
    return [_ref(st, who, path, sha, receipts.get(sha)) for path, sha in files]


def item_refs(st: AppState, who: Principal, body: ItemsIn) -> list[tuple[str, BlobRef]]:
    return refs(st, who, [(i.path, i.sha) for i in body.items], body.receipts)


@router.get(
    "/api/v1/runs/{run_id}/artifacts", response_model=envelope("artifacts", list[ArtifactInfo])
)
def list_artifacts(
    run_id: RunId, prefix: Text | None = None, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    guard.run(run_id)
    guard.st.store.runs.get_info(run_id)
    return {"artifacts": guard.st.store.artifacts.list(run_id, prefix or None)}


@router.post(
    "/api/v1/runs/{run_id}/artifacts", response_model=envelope("artifacts", list[ArtifactInfo])
)
def add_artifacts(run_id: RunId, body: ItemsIn, guard: Guard = Depends(writer)) -> dict[str, Any]:
    """Record already uploaded blobs (``PUT /api/v1/blobs``) as artifacts of the run."""
    guard.run(run_id)
    return {"artifacts": guard.st.store.artifacts.add(run_id, item_refs(guard.st, guard.who, body))}


@router.get("/api/v1/runs/{run_id}/artifact-info")
def artifact_info(run_id: RunId, path: Text, guard: Guard = Depends(reader)) -> ArtifactInfo:
    guard.run(run_id)
    return guard.st.store.artifacts.get(run_id, path)


@router.delete("/api/v1/runs/{run_id}/artifacts", response_model=envelope("deleted", int))
def delete_artifacts(run_id: RunId, path: Text, guard: Guard = Depends(writer)) -> dict[str, Any]:
    guard.run(run_id)
    return {"deleted": guard.st.store.artifacts.delete(run_id, path)}


@router.get("/api/v1/runs/{run_id}/artifacts/{path:path}", **BYTES)
def download_artifact(run_id: RunId, path: str, guard: Guard = Depends(reader)) -> Response:
    guard.run(run_id)
    art = guard.st.store.artifacts.get(run_id, path)
    return stream_blob(guard.st.store.blobs, art.blob_sha, art.size, art.path)


@router.put("/api/v1/runs/{run_id}/artifacts/{path:path}")
async def upload_artifact(
    run_id: RunId, path: str, request: Request, guard: Guard = Depends(writer)
) -> ArtifactInfo:
    clean = safe_relpath(path)
    await run_in_threadpool(guard.run, run_id)
    ref = await receive_blob(request, guard.st.store.blobs)
    added = await run_in_threadpool(guard.st.store.artifacts.add, run_id, [(clean, ref)])
    return added[0]


@router.put("/api/v1/blobs")
async def upload_blob(
    request: Request, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> BlobReceipt:
    """Store a blob; the answer carries a receipt to quote when referencing it."""
    await run_in_threadpool(_require_some_write_role, st, who)
    ref = await receive_blob(request, st.store.blobs)
    return BlobReceipt(sha=ref.sha, size=ref.size, receipt=receipt(st, who, ref.sha))


@router.get("/api/v1/blobs/{sha}", **BYTES)
def download_blob(
    sha: Sha, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> Response:
    _readable(st, who, sha)
    return stream_blob(st.store.blobs, sha, st.store.blobs.size(sha), sha)


@router.head("/api/v1/blobs/{sha}", **BYTES)
def blob_exists(
    sha: Sha, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> Response:
    _readable(st, who, sha)
    return Response(status_code=200, headers={"Content-Length": str(st.store.blobs.size(sha))})


def _readable(st: AppState, who: Principal, sha: str) -> None:
    if not can_read(st, who, sha) or not st.store.blobs.exists(sha):
        raise NotFoundError(f"blob {sha} does not exist or is not yours to read")


def _require_some_write_role(st: AppState, who: Principal) -> None:
    if who.is_admin or who.user is None:
        return
    roles: dict[int, Any] = st.store.credentials.memberships(who.user.id)
    if not any(r.allows(Role.WRITER) for r in roles.values()):
        raise PermissionDeniedError("uploading needs the writer role in at least one project")
