"""Odd inputs through the one prediction path: nulls, booleans, deep nesting (issue 21)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_helpers import FEATURES, spec

from keel.config import Settings
from keel.exceptions import ModelInputError
from keel.serving import InMemorySource, ServerHandle


@pytest.fixture
def server(serve: Callable[..., ServerHandle], source: InMemorySource) -> httpx.Client:
    handle = serve(spec({"model": "churn@champion"}), source)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client


@pytest.fixture
def onnx_server(
    serve: Callable[..., ServerHandle], registered: str, settings: Settings
) -> httpx.Client:
    """churn/1 from the registry: scikit-learn saved with its verified ONNX twin."""
    handle = serve(spec({"model": registered}), None)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client


def null_row() -> dict[str, Any]:
    return {"dataframe_split": {"columns": FEATURES, "data": [[None, *[0.0] * 19]]}}


def test_onnx_twin_refuses_a_null_the_model_would_refuse(onnx_server: httpx.Client) -> None:
    served = onnx_server.get("/models").json()["models"][0]
    assert served["runtime"] == "onnx"
    r = onnx_server.post("/invocations", json=null_row())
    assert r.status_code == 400, r.text
    assert "column 'f0' does not take nulls but row 0 is null" in r.json()["message"]
    v2 = {
        "inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [None]} for c in FEATURES]
    }
    r = onnx_server.post("/v2/models/churn/infer", json=v2)
    assert r.status_code == 400 and "does not take nulls" in r.json()["error"], r.text
    ok = {"dataframe_split": {"columns": FEATURES, "data": [[0.0] * 20]}}
    assert onnx_server.post("/invocations", json=ok).status_code == 200


def test_signature_with_nulls_in_its_example_allows_them() -> None:
    from keel.models._signature import infer_signature
    from keel.serving import InputSchema

    example = pd.DataFrame({"a": [1.0, np.nan], "b": [1.0, 2.0]})
    schema = InputSchema.coerce(infer_signature(example))
    assert schema is not None
    assert [c.nullable for c in schema.columns] == [True, False]
    rows = schema.rows_from_columns({"a": [None], "b": [1.0]})
    assert np.isnan(rows.matrix[0, 0])  # type: ignore[index]
    with pytest.raises(ModelInputError, match="column 'b' does not take nulls"):
        schema.rows_from_columns({"a": [1.0], "b": [None]})


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": FEATURES, "data": [[True, *[0.0] * 19]]}},
        {"dataframe_records": [{**dict.fromkeys(FEATURES, 0.5), "f3": False}]},
        {"inputs": {c: [True] if c == "f2" else [0.5] for c in FEATURES}},
    ],
    ids=["split", "records", "columns"],
)
def test_true_in_a_float_column_is_refused(server: httpx.Client, body: dict[str, Any]) -> None:
    r = server.post("/invocations", json=body)
    assert r.status_code == 400, r.text
    assert "expects a number" in r.json()["message"] and "(bool)" in r.json()["message"]


def test_true_in_a_v2_float_tensor_is_refused(server: httpx.Client) -> None:
    tensor = {"name": "x", "shape": [1, 20], "datatype": "FP64", "data": [[True, *[0.5] * 19]]}
    r = server.post("/v2/models/churn/infer", json={"inputs": [tensor]})
    assert r.status_code == 400 and "(bool)" in r.json()["error"], r.text


JSON = {"content-type": "application/json"}


def nested(depth: int) -> Any:
    value: Any = 1.0
    for _ in range(depth):
        value = [value]
    return value


def test_deep_nesting_is_a_json_400(server: httpx.Client) -> None:
    cell = {"dataframe_split": {"columns": FEATURES, "data": [[nested(65), *[0.0] * 19]]}}
    r = server.post("/invocations", json=cell)
    assert r.status_code == 400, r.text
    assert "column 'f0' expects a number" in r.json()["message"]
    deep = "[" * 1000 + "1.0" + "]" * 1000  # json.dumps itself cannot write this deep
    body = '{"inputs": [{"name": "f0", "shape": [1], "datatype": "FP64", "data": ' + deep + "}]}"
    r = server.post("/v2/models/churn/infer", content=body, headers=JSON)
    assert r.status_code == 400, r.text
    assert "nested more than 32 levels" in r.json()["error"]
    cells = ", ".join(f'"{c}": 0.0' for c in FEATURES[1:])
    deep = "[" * 900 + "1.0" + "]" * 900
    body = '{"dataframe_records": [{"f0": ' + deep + ", " + cells + "}]}"
    r = server.post("/invocations", content=body, headers=JSON)
    assert r.status_code == 400 and r.headers["content-type"] == "application/json", r.text
    assert "column 'f0' expects a number" in r.json()["message"]


def test_batch_refuses_nulls_and_booleans_like_serving(
    registered: str, settings: Settings, tmp_path: Path
) -> None:
    from keel.serving._batch import open_input, predict_batch
    from keel.serving._deploy import load_model
    from keel.store import open_store

    store = open_store(settings)
    try:
        loaded = load_model(store, settings.project, registered)
    finally:
        store.close()
    assert loaded.runtime == "onnx"
    frame = pd.DataFrame(np.zeros((4, 20)), columns=FEATURES)
    frame.loc[2, "f5"] = np.nan
    frame.to_parquet(tmp_path / "in.parquet")
    with pytest.raises(ModelInputError, match="column 'f5' does not take nulls but row 2"):
        predict_batch(loaded, open_input(str(tmp_path / "in.parquet")), tmp_path / "out.parquet")
    frame = pd.DataFrame(np.zeros((4, 20)), columns=FEATURES).astype({"f1": bool})
    frame.to_parquet(tmp_path / "bools.parquet")
    with pytest.raises(ModelInputError, match="column 'f1' expects a number but holds booleans"):
        predict_batch(loaded, open_input(str(tmp_path / "bools.parquet")), tmp_path / "o.parquet")
