"""What the mlflow client probes without logging in: ``/api/3.0/mlflow/server-info``,
``/version`` and ``/health``.

Traces are out of scope: the OTLP span exporter (which reads ``/version`` first) gets a
JSON 415 for its protobuf POST to ``/v1/traces`` and logs it at debug level only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import PlainTextResponse

from keel.server._auth import public
from keel.server._json import JSON

router = APIRouter(tags=["mlflow"])

#: The MLflow release whose REST API keel serves (and whose tests it runs:
#: benchmarks/compat/). The client compares it to gate features (OTLP spans from 3.4).
MLFLOW_API_VERSION = "3.12.0"


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


@router.get("/version", dependencies=[Depends(public)])
async def version() -> PlainTextResponse:
    """MLflow's ``/version``: the bare version string of the API served."""
    return PlainTextResponse(MLFLOW_API_VERSION)


@router.get("/health", dependencies=[Depends(public)])
async def health() -> PlainTextResponse:
    return PlainTextResponse("OK")
