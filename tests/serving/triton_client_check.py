"""Drive a keel server with the real tritonclient (run in its own virtualenv).

Usage: python triton_client_check.py HOST:PORT MODEL ; prints one JSON line of results.
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
import tritonclient.http as httpclient
import tritonclient.http.aio as aioclient


def inputs(rows: np.ndarray, mod: object) -> list[object]:
    tensor = mod.InferInput("x", list(rows.shape), "FP64")  # type: ignore[attr-defined]
    tensor.set_data_from_numpy(rows)  # binary_data=True: the clients' default
    return [tensor]


def sync_check(url: str, model: str, rows: np.ndarray) -> dict[str, object]:
    client = httpclient.InferenceServerClient(url)
    meta = client.get_model_metadata(model)
    name = meta["outputs"][0]["name"]
    wanted = [httpclient.InferRequestedOutput(name)]  # binary_data=True by default
    result = client.infer(model, inputs(rows, httpclient), outputs=wanted)
    json_out = client.infer(
        model, inputs(rows, httpclient), outputs=[httpclient.InferRequestedOutput(name, False)]
    )
    try:
        client.get_model_metadata("no-such-model")
        missing = "no error"
    except Exception as exc:  # tritonclient raises InferenceServerException
        missing = str(exc)
    return {
        "live": client.is_server_live(),
        "extensions": client.get_server_metadata()["extensions"],
        "output": name,
        "binary": result.as_numpy(name).tolist(),
        "json": json_out.as_numpy(name).tolist(),
        "missing": missing,
    }


async def aio_check(url: str, model: str, rows: np.ndarray) -> list[float]:
    client = aioclient.InferenceServerClient(url)
    try:
        result = await client.infer(model, inputs(rows, aioclient))
        return result.as_numpy(result.get_response()["outputs"][0]["name"]).tolist()
    finally:
        await client.close()


def main() -> None:
    url, model = sys.argv[1], sys.argv[2]
    rows = np.linspace(-1, 1, 60).reshape(3, 20)
    out = sync_check(url, model, rows)
    out["aio"] = asyncio.run(aio_check(url, model, rows))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
