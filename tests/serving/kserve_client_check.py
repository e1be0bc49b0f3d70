"""Drive a keel server with KServe's own ``InferenceRESTClient`` (run in its own virtualenv).

Usage: python kserve_client_check.py BASE_URL MODEL < rows.json ; rows.json is
``{"columns": [...], "data": [[...], ...]}``. Prints one JSON object of results.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput
from kserve.protocol.rest.v2_datamodels import ModelMetadataResponse, ServerMetadataResponse


def column_inputs(columns: list[str], rows: np.ndarray, binary: bool) -> list[InferInput]:
    """One FP64 tensor of shape [n] per column, as a KServe user sends named features."""
    out = []
    for j, name in enumerate(columns):
        tensor = InferInput(name, [rows.shape[0]], "FP64")
        tensor.set_data_from_numpy(np.ascontiguousarray(rows[:, j]), binary_data=binary)
        out.append(tensor)
    return out


def one_tensor(rows: np.ndarray) -> list[InferInput]:
    """A single [n, k] FP64 tensor (binary: the client's default)."""
    tensor = InferInput("x", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)
    return [tensor]


def outputs(response: Any) -> dict[str, Any]:
    return {o.name: o.as_numpy().tolist() for o in response.outputs}


async def refused(call: Any) -> dict[str, Any]:
    """The status and the client's own error text for a call that must fail."""
    try:
        await call
    except httpx.HTTPStatusError as exc:
        return {"status": exc.response.status_code, "message": str(exc)}
    return {"status": 200, "message": "no error"}


async def check(base: str, model: str, columns: list[str], rows: np.ndarray) -> dict[str, Any]:
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
    try:
        got: dict[str, Any] = {
            "live": await client.is_server_live(base),
            "ready": await client.is_server_ready(base),
            "model_ready": await client.is_model_ready(base, model),
            "missing_ready": await client.is_model_ready(base, "no-such-model"),
        }
        # The REST client has no metadata calls: read them with its own HTTP client and
        # validate them with KServe's own response models.
        server = ServerMetadataResponse.model_validate_json(
            (await client._client.get(f"{base}/v2")).content
        )
        meta = ModelMetadataResponse.model_validate_json(
            (await client._client.get(f"{base}/v2/models/{model}")).content
        )
        got["extensions"] = server.extensions
        got["inputs"] = [(t.name, t.datatype, t.shape) for t in meta.inputs]
        got["outputs"] = [(t.name, t.datatype, t.shape) for t in meta.outputs]

        as_json = await client.infer(
            base, InferRequest(model, column_inputs(columns, rows, False)), model
        )
        got["json"] = outputs(as_json)
        binary = await client.infer(
            base,
            InferRequest(model, column_inputs(columns, rows, True), request_id="req-1"),
            model,
        )
        got["binary"] = outputs(binary)
        got["binary_id"] = binary.id
        got["binary_tensor"] = outputs(
            await client.infer(base, InferRequest(model, one_tensor(rows)), model)
        )
        wanted = [
            RequestedOutput("predictions", {"binary_data": True}),
            RequestedOutput("probabilities", {"binary_data": True}),
        ]
        headers: dict[str, str] = {}
        both = await client.infer(
            base,
            InferRequest(model, one_tensor(rows), request_outputs=wanted),
            model,
            response_headers=headers,
        )
        got["binary_out"] = outputs(both)
        got["binary_out_content_type"] = headers.get("content-type")
        got["binary_out_shapes"] = [o.shape for o in both.outputs]

        short = [*column_inputs(columns, rows, False)]
        short[0] = InferInput(columns[0], [rows.shape[0]], "FP64", data=[0.5])  # too few values
        words = InferInput(columns[0], [rows.shape[0]], "BYTES")
        words.set_data_from_numpy(np.array([b"high"] * rows.shape[0], dtype=object))
        text = [words, *column_inputs(columns[1:], rows[:, 1:], True)]
        unknown = [RequestedOutput("prediction")]
        nobody = "no-such-model"
        got["errors"] = {
            "short": await refused(client.infer(base, InferRequest(model, short), model)),
            "text": await refused(client.infer(base, InferRequest(model, text), model)),
            "missing_column": await refused(
                client.infer(
                    base, InferRequest(model, column_inputs(columns[1:], rows[:, 1:], True)), model
                ),
            ),
            "unknown_output": await refused(
                client.infer(
                    base, InferRequest(model, one_tensor(rows), request_outputs=unknown), model
                ),
            ),
            "unknown_model": await refused(
                client.infer(base, InferRequest(nobody, one_tensor(rows)), nobody),
            ),
        }
        return got
    finally:
        await client.close()


def main() -> None:
    base, model = sys.argv[1], sys.argv[2]
    given = json.load(sys.stdin)
    rows = np.asarray(given["data"], dtype="<f8")
    print(json.dumps(asyncio.run(check(base, model, given["columns"], rows))))


if __name__ == "__main__":
    main()
