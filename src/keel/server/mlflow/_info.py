"""What the mlflow client probes without logging in: ``/api/3.0/mlflow/server-info``,
``/version`` and ``/health`` (which asks the database, as ``/api/v1/health`` does).

Traces are out of scope: ``POST /v1/traces`` answers as MLflow's server does for a store
without span logging — 501 with the sentence MLflow's OTLP span exporter recognises (it then
logs at debug level only) — and refuses what MLflow refuses first: a missing
``X-MLflow-Experiment-Id`` (422) and a body that is not ``application/x-protobuf`` (400,
"Invalid Content-Type"). Nothing sent there is read or stored.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import PlainTextResponse

from keel.server._auth import public
from keel.server._errors import RETRY_AFTER_S
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
async def health(request: Request) -> PlainTextResponse:
    """MLflow's ``/health``: ``OK``, or 503 naming the problem when the database does not
    answer (the same probe as ``/api/v1/health``), so a load balancer stops sending work."""
    problem = await request.app.state.health.database_problem()
    if problem is None:
        return PlainTextResponse("OK")
    return PlainTextResponse(
        f"database unavailable: {problem}",
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


#: MLflow's span exporter stays quiet on a 501 whose text starts with this.
_NO_SPANS = "REST OTLP span logging is not supported by"
_OTLP_TYPE = "application/x-protobuf"


@router.post("/v1/traces", dependencies=[Depends(public)], include_in_schema=False)
async def otlp_traces(request: Request) -> JSON:
    """OTLP/HTTP span export: refused as MLflow refuses it, then 501 (no traces in keel)."""
    if "x-mlflow-experiment-id" not in request.headers:
        return _otlp_error(422, "missing header: X-MLflow-Experiment-Id")
    ctype = request.headers.get("content-type")
    if ctype != _OTLP_TYPE:
        return _otlp_error(400, f"Invalid Content-Type: {ctype}. Expected: {_OTLP_TYPE}")
    return _otlp_error(501, f"{_NO_SPANS} keel (traces are not stored by keel server)")


def _otlp_error(status: int, message: str) -> JSON:
    """FastAPI's ``detail`` (what MLflow's server and tests read) beside keel's error body."""
    code = {400: "BAD_REQUEST", 422: "INVALID_PARAMETER_VALUE"}.get(status, "NOT_IMPLEMENTED")
    body = {"detail": message, "error_code": code, "message": message}
    return JSON(body, status_code=status)
