"""The OpenAPI document of the serving app, written from small pydantic request models.

The hot routes are raw Starlette routes (no per-request validation layer), so their
contract is stated here once instead of being inferred from handler signatures.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class V2Tensor(BaseModel):
    name: str = Field(description="Column name, or any name for one [n, k] tensor")
    shape: list[int] = Field(examples=[[1, 20]])
    datatype: str = Field(examples=["FP64"], description="BOOL, INT64, FP32, FP64, BYTES ...")
    data: list[Any]


class V2InferenceRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[V2Tensor]
    outputs: list[dict[str, Any]] | None = None


class V2InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[V2Tensor]


class DataFrameSplit(BaseModel):
    columns: list[str]
    data: list[list[Any]]


class InvocationsRequest(BaseModel):
    """Exactly one of the four input keys (MLflow scoring protocol)."""

    dataframe_split: DataFrameSplit | None = None
    dataframe_records: list[dict[str, Any]] | None = None
    inputs: Any = None
    instances: Any = None
    params: dict[str, Any] | None = None


class Predictions(BaseModel):
    predictions: list[Any]


class ErrorBody(BaseModel):
    error: str


_MODELS: tuple[type[BaseModel], ...] = (
    V2InferenceRequest,
    V2InferenceResponse,
    InvocationsRequest,
    Predictions,
    ErrorBody,
)
_ERRORS = {
    "400": "Input does not match the model (names the column, row or key)",
    "404": "No such model or version",
    "413": "Body over the size limit",
    "415": "Content type other than JSON/CSV (pickle and other executable types)",
    "429": "Model at its concurrency and queue limit; see Retry-After",
    "504": "The model did not answer within the timeout",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _post(summary: str, request: str, response: str, *, csv: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ref(request)}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {
        "200": {
            "description": "Predictions",
            "content": {"application/json": {"schema": _ref(response)}},
        }
    }
    for code, text in _ERRORS.items():
        responses[code] = {
            "description": text,
            "content": {"application/json": {"schema": _ref("ErrorBody")}},
        }
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": content},
            "responses": responses,
        }
    }


def _get(summary: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": {"description": "OK"}}}}


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document(deployment: str) -> dict[str, Any]:
    from keel import __version__

    schemas: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    paths: dict[str, Any] = {
        "/v2/models/{name}/infer": _post(
            "Open Inference Protocol v2 inference", "V2InferenceRequest", "V2InferenceResponse"
        ),
        "/v2/models/{name}/versions/{version}/infer": _post(
            "v2 inference on one version (number or alias)",
            "V2InferenceRequest",
            "V2InferenceResponse",
        ),
        "/invocations": _post(
            "MLflow scoring protocol (?model=NAME when several are served)",
            "InvocationsRequest",
            "Predictions",
            csv=True,
        ),
        "/models/{name}/predict": _post(
            "Plain JSON: a list of row objects", "InvocationsRequest", "Predictions"
        ),
        "/v2": _get("Server metadata"),
        "/v2/health/live": _get("Liveness"),
        "/v2/health/ready": _get("Readiness (503 while models load)"),
        "/v2/models/{name}": _get("Model metadata: inputs, versions, traffic"),
        "/v2/models/{name}/ready": _get("Model readiness"),
        "/models": _get("Every served version with its weight and role"),
        "/metrics": _get("Prometheus metrics"),
    }
    for path, item in paths.items():
        names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        for op in item.values():
            op["parameters"] = [_param(n) for n in names]
    return {
        "openapi": "3.1.0",
        "info": {"title": f"keel serving: {deployment}", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas},
    }


__all__ = ["openapi_document"]
