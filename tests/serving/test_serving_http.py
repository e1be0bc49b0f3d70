"""The HTTP protocols, metadata routes and every bad input, against a live server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pytest
from serving_helpers import FEATURES, spec, split_body

from keel.serving import InMemorySource, ServerHandle


@pytest.fixture
def server(serve: Callable[..., ServerHandle], source: InMemorySource) -> httpx.Client:
    handle = serve(spec({"model": "churn@champion"}), source)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client


def expected(fitted: Any, rows: pd.DataFrame) -> list[float]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fitted.predict_proba(rows)[:, 1].tolist()


def test_invocations_formats_agree(server: httpx.Client, frame: pd.DataFrame, fitted: Any) -> None:
    rows = frame.head(3)
    want = expected(fitted, rows)
    bodies = [
        split_body(rows),
        {"dataframe_records": rows.to_dict("records")},
        {"inputs": {c: rows[c].tolist() for c in rows.columns}},
        {"instances": rows.to_dict("records")},
    ]
    for body in bodies:
        r = server.post("/invocations", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == pytest.approx(want)
        assert r.headers["x-keel-model-version"] == "churn/1"
    csv = rows.to_csv(index=False).encode()
    r = server.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == pytest.approx(want)


def test_v2_infer_columns_and_tensor(
    server: httpx.Client, frame: pd.DataFrame, fitted: Any
) -> None:
    rows = frame.head(2)
    want = expected(fitted, rows)
    per_column = {
        "id": "req-1",
        "inputs": [
            {"name": c, "shape": [2], "datatype": "FP64", "data": rows[c].tolist()}
            for c in FEATURES
        ],
    }
    r = server.post("/v2/models/churn/infer", json=per_column)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "req-1" and body["model_name"] == "churn" and body["model_version"] == "1"
    assert body["outputs"][0]["shape"] == [2]
    assert body["outputs"][0]["data"] == pytest.approx(want)
    tensor = {
        "inputs": [
            {
                "name": "x",
                "shape": [2, 20],
                "datatype": "FP64",
                "data": rows.values.ravel().tolist(),
            }
        ]
    }
    r = server.post("/v2/models/churn/versions/1/infer", json=tensor)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == pytest.approx(want)


def test_plain_records_and_column_order(
    server: httpx.Client, frame: pd.DataFrame, fitted: Any
) -> None:
    rows = frame.head(2)
    shuffled = rows[list(reversed(FEATURES))]  # same values, other column order
    r = server.post("/models/churn/predict", json=shuffled.to_dict("records"))
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == pytest.approx(expected(fitted, rows))
    r = server.post("/invocations", json=split_body(shuffled))
    assert r.json()["predictions"] == pytest.approx(expected(fitted, rows))


def test_metadata_health_and_docs(server: httpx.Client) -> None:
    assert server.get("/v2/health/live").json() == {"live": True}
    assert server.get("/v2/health/ready").status_code == 200
    meta = server.get("/v2/models/churn").json()
    assert [i["name"] for i in meta["inputs"]] == FEATURES
    assert meta["inputs"][0]["datatype"] == "FP64"
    assert meta["parameters"]["traffic"] == {"1": 1.0}
    assert server.get("/v2/models/churn/versions/1/ready").json()["ready"] is True
    assert server.get("/v2").json()["name"] == "keel"
    doc = server.get("/openapi.json").json()
    assert "/v2/models/{name}/infer" in doc["paths"] and "/invocations" in doc["paths"]
    assert "V2InferenceRequest" in doc["components"]["schemas"]
    assert server.get("/docs").status_code == 200


def test_metrics_count_requests_per_version(server: httpx.Client, frame: pd.DataFrame) -> None:
    for _ in range(3):
        server.post("/invocations", json=split_body(frame.head(1)))
    server.post("/invocations", json={"dataframe_split": {"columns": ["f0"], "data": [[1.0]]}})
    text = server.get("/metrics").text
    assert 'keel_requests_total{code="200",endpoint="churn",model="churn",version="1"} 3.0' in text
    assert 'reason="invalid_input"' in text
    assert "keel_request_latency_seconds_bucket" in text and "keel_batch_size_bucket" in text
    assert "process_resident_memory_bytes" in text and "keel_queue_depth" in text


BAD_INPUTS: list[tuple[str, Any, str]] = [
    (
        "missing column",
        {"dataframe_split": {"columns": FEATURES[:-1], "data": [[0.0] * 19]}},
        "missing column(s) 'f19'",
    ),
    (
        "extra column",
        {"dataframe_split": {"columns": [*FEATURES, "zz"], "data": [[0.0] * 21]}},
        "unexpected column(s) 'zz'",
    ),
    (
        "wrong type",
        {"dataframe_records": [{**dict.fromkeys(FEATURES, 0.0), "f3": "abc"}]},
        "column 'f3' expects a number",
    ),
    (
        "null the model cannot take",
        {"dataframe_split": {"columns": FEATURES, "data": [[None, *[0.0] * 19]]}},
        "rejected the input: Input X contains NaN",
    ),
    ("empty batch", {"dataframe_split": {"columns": FEATURES, "data": []}}, "empty batch"),
    ("two input keys", {"dataframe_split": {}, "inputs": []}, "exactly one of"),
    (
        "an unknown key beside the input",
        {"dataframe_split": {"columns": FEATURES, "data": [[0.0] * 20]}, "extra": 1},
        "it has ['dataframe_split', 'extra']",
    ),
    ("not an object", [[0.0] * 20], "expected a JSON object with one of dataframe_split"),
    (
        "a column name that is not text",
        {"dataframe_split": {"columns": [*FEATURES[:19], 19], "data": [[0.0] * 20]}},
        "'columns' must be a list of column names",
    ),
    (
        "a record that is not an object",
        {"dataframe_records": [dict.fromkeys(FEATURES, 0.0), [0.0] * 20]},
        "row 1 must be a JSON object, got [0.0",
    ),
    (
        "ragged row",
        {"dataframe_split": {"columns": FEATURES, "data": [[1.0, 2.0]]}},
        "row 0 has 2 values",
    ),
]


@pytest.mark.parametrize(("case", "body", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_400_naming_the_problem(
    server: httpx.Client, frame: pd.DataFrame, case: str, body: Any, message: str
) -> None:
    r = server.post("/invocations", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"], r.json()
    assert server.post("/invocations", json=split_body(frame.head(1))).status_code == 200


def test_bad_v2_and_records_bodies(server: httpx.Client) -> None:
    cases = [
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "f0", "shape": [2], "datatype": "FP64", "data": [1.0]}]},
            "shape [2] (2 values) but 1",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "f0", "shape": [1], "datatype": "FLOAT", "data": [1.0]}]},
            "datatype 'FLOAT'",
        ),
        ("/v2/models/churn/infer", {"inputs": []}, "'inputs' must be a non-empty list"),
        ("/models/churn/predict", [1, 2], "row 0 must be a JSON object"),
        ("/v2/models/nope/infer", {"inputs": []}, "no model 'nope'"),
        (
            "/v2/models/churn/versions/9/infer",
            {"inputs": [{"name": "x", "shape": [1, 20], "datatype": "FP64", "data": [0.0] * 20}]},
            "serves no version '9'",
        ),
    ]
    for path, body, message in cases:
        r = server.post(path, json=body)
        assert 400 <= r.status_code < 500, (path, r.text)
        assert message in r.json()["error"], r.json()


def test_malformed_json_and_huge_body(server: httpx.Client, frame: pd.DataFrame) -> None:
    r = server.post(
        "/invocations",
        content=b'{"dataframe_split": {',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
    big = b'{"dataframe_records": [' + b"0," * (25 * 2**20) + b"0]}"  # 50 MB
    r = server.post("/invocations", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert server.post("/invocations", json=split_body(frame.head(1))).status_code == 200


@pytest.mark.parametrize(
    "ctype",
    [
        "application/python-pickle",
        "application/x-pickle",
        "application/octet-stream",
        "application/x-python-serialize",
        "text/x-python",
        "application/java-serialized-object",
    ],
)
def test_executable_content_types_are_415_everywhere(server: httpx.Client, ctype: str) -> None:
    payload = b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93."
    paths = [
        "/invocations",
        "/v2/models/churn/infer",
        "/v2/models/churn/versions/1/infer",
        "/models/churn/predict",
        "/v2/models/churn",
        "/metrics",
        "/v2/health/ready",
        "/no/such/path",
    ]
    for path in paths:
        for method in ("POST", "GET"):
            r = server.request(method, path, content=payload, headers={"content-type": ctype})
            if ctype == "application/octet-stream" and method == "POST" and path.endswith("/infer"):
                # Triton's clients send JSON as octet-stream: read as JSON, never unpickled
                assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
                continue
            assert r.status_code == 415, (method, path, r.status_code)
            assert ctype in r.json()["error"]
    assert server.get("/v2/health/ready").status_code == 200
