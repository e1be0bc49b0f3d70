"""``/api/3.0/mlflow/server-info``: what the client probes before uploads (no login)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from keel.server._auth import public
from keel.server._json import JSON

router = APIRouter(tags=["mlflow"])


@router.get("/api/3.0/mlflow/server-info", dependencies=[Depends(public)])
async def server_info() -> JSON:
    return JSON(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
        }
    )
