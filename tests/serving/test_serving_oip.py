"""Open Inference Protocol details real clients trip on (issue 21): output names, error
bodies, content types and the count of refused requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_helpers import FEATURES, spec

from keel.config import Settings
from keel.serving import InMemorySource, ServerHandle


@pytest.fixture
def server(serve: Callable[..., ServerHandle], source: InMemorySource) -> httpx.Client:
    handle = serve(spec({"model": "churn@champion"}), source)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client


def v2_body(**extra: Any) -> dict[str, Any]:
    tensor = {"name": "x", "shape": [1, 20], "datatype": "FP64", "data": [0.0] * 20}
    return {"inputs": [tensor], **extra}


def test_metadata_and_infer_use_the_same_output_names(server: httpx.Client) -> None:
    advertised = [o["name"] for o in server.get("/v2/models/churn").json()["outputs"]]
    answered = server.post("/v2/models/churn/infer", json=v2_body()).json()["outputs"]
    assert advertised == [o["name"] for o in answered] == ["predictions"]
    asked = server.post(
        "/v2/models/churn/infer", json=v2_body(outputs=[{"name": advertised[0]}])
    ).json()
    assert [o["name"] for o in asked["outputs"]] == advertised


def test_registry_model_metadata_names_what_infer_answers(
    serve: Callable[..., ServerHandle], registered: str, settings: Settings
) -> None:
    handle = serve(spec({"model": registered}), None)
    with httpx.Client(base_url=handle.url, timeout=10) as c:
        meta = c.get("/v2/models/churn").json()["outputs"]
        tensors = [{"name": f, "shape": [1], "datatype": "FP64", "data": [0.1]} for f in FEATURES]
        body = {"inputs": tensors}
        out = c.post("/v2/models/churn/infer", json=body).json()["outputs"]
    answered = [(o["name"], o["datatype"]) for o in out]
    # what /infer answers by default, then what a classifier answers when asked
    assert [(o["name"], o["datatype"]) for o in meta] == [*answered, ("probabilities", "FP64")]


def test_probabilities_are_a_requestable_output(
    serve: Callable[..., ServerHandle], registered: str, frame: pd.DataFrame, fitted: Any
) -> None:
    handle = serve(spec({"model": registered}), None)
    rows = frame.head(3)
    tensors = [
        {"name": f, "shape": [3], "datatype": "FP64", "data": rows[f].tolist()} for f in FEATURES
    ]
    with httpx.Client(base_url=handle.url, timeout=10) as c:
        asked = c.post(
            "/v2/models/churn/infer",
            json={"inputs": tensors, "outputs": [{"name": "probabilities"}]},
        ).json()
        both = c.post(
            "/v2/models/churn/infer",
            json={
                "inputs": tensors,
                "outputs": [{"name": "predictions"}, {"name": "probabilities"}],
            },
        ).json()
        plain = c.post("/v2/models/churn/infer", json={"inputs": tensors}).json()
    [proba] = asked["outputs"]
    assert (proba["name"], proba["shape"], proba["datatype"]) == ("probabilities", [3, 2], "FP64")
    expected = fitted.predict_proba(rows)
    np.testing.assert_allclose(np.reshape(proba["data"], (3, 2)), expected, rtol=1e-5)
    assert [o["name"] for o in both["outputs"]] == ["predictions", "probabilities"]
    assert both["outputs"][0]["data"] == list(expected.argmax(axis=1))
    assert [o["name"] for o in plain["outputs"]] == ["predictions"]  # only when asked


def test_probabilities_of_a_model_without_them_is_a_400(
    serve: Callable[..., ServerHandle], source: InMemorySource
) -> None:
    handle = serve(spec({"model": "churn@challenger"}), source)  # a constant: no predict_proba
    with httpx.Client(base_url=handle.url, timeout=10) as c:
        r = c.post("/v2/models/churn/infer", json=v2_body(outputs=[{"name": "probabilities"}]))
    assert r.status_code == 400
    assert "does not predict class probabilities" in r.json()["error"]


def test_unknown_requested_output_is_a_400(server: httpx.Client) -> None:
    r = server.post("/v2/models/churn/infer", json=v2_body(outputs=[{"name": "prediction"}]))
    assert r.status_code == 400
    assert r.json()["error"].startswith("the model has no output 'prediction'")


def test_v2_errors_are_error_bodies_even_404(server: httpx.Client) -> None:
    for path in ("/v2/models/churn/nothing", "/v2/models/nope/versions/1/ready/x"):
        r = server.get(path)
        assert r.status_code == 404 and "Not Found" in r.json()["error"], r.text
    r = server.get("/v2/models/nope")
    assert r.status_code == 404 and "no model 'nope'" in r.json()["error"]
    r = server.post("/v2/models/nope/infer", json=v2_body())
    assert r.status_code == 404 and "no model 'nope'" in r.json()["error"]
    r = server.put("/v2/models/churn/infer", json=v2_body())
    assert r.status_code in (404, 405) and "error" in r.json()


def test_octet_stream_json_is_read_on_v2_only(server: httpx.Client) -> None:
    raw = json.dumps(v2_body()).encode()
    octet = {"content-type": "application/octet-stream"}
    r = server.post("/v2/models/churn/infer", content=raw, headers=octet)
    assert r.status_code == 200, r.text
    r = server.post("/invocations", content=raw, headers=octet)
    assert r.status_code == 415
    pickle = {"content-type": "application/x-python-pickle"}
    r = server.post("/v2/models/churn/infer", content=b"\x80\x04.", headers=pickle)
    assert r.status_code == 415 and "pickle" in r.json()["error"]
    r = server.post("/v2/models/churn/infer", content=b"\x80\x04.", headers=octet)
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]


def test_refused_requests_are_counted(server: httpx.Client) -> None:
    server.post("/v2/models/churn/infer", content=b"x", headers={"content-type": "text/plain"})
    server.post(
        "/v2/models/churn/infer", content=b"{nope", headers={"content-type": "application/json"}
    )
    server.post("/v2/models/nope/infer", json=v2_body())
    server.post("/v2/models/churn/infer", json=v2_body(outputs=[{"name": "zz"}]))
    text = server.get("/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("keel_requests_total{")]
    assert 'keel_requests_total{code="415",endpoint="",model="",version=""} 1.0' in lines
    assert 'keel_requests_total{code="404",endpoint="",model="",version=""} 1.0' in lines
    assert 'keel_requests_total{code="400",endpoint="churn",model="",version=""} 2.0' in lines
    assert 'reason="unsupported_media_type"' in text


def binary_request(rows: np.ndarray, **params: Any) -> tuple[bytes, dict[str, str]]:
    """What tritonclient sends for ``set_data_from_numpy(binary_data=True)``."""
    raw = rows.astype("<f8").tobytes()
    tensor = {
        "name": "x",
        "shape": list(rows.shape),
        "datatype": "FP64",
        "parameters": {"binary_data_size": len(raw)},
    }
    head = json.dumps({"inputs": [tensor], **params}).encode()
    headers = {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(head)),
    }
    return head + raw, headers


def test_binary_tensor_data_in_and_out(
    server: httpx.Client, frame: pd.DataFrame, fitted: Any
) -> None:
    import warnings

    assert "binary_tensor_data" in server.get("/v2").json()["extensions"]
    rows = frame.head(3).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = fitted.predict_proba(frame.head(3))[:, 1]
    body, headers = binary_request(rows)
    r = server.post("/v2/models/churn/infer", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == pytest.approx(want.tolist())
    body, headers = binary_request(rows, parameters={"binary_data_output": True})
    r = server.post("/v2/models/churn/infer", content=body, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    split = int(r.headers["inference-header-content-length"])
    head = json.loads(r.content[:split])
    out = head["outputs"][0]
    assert out["parameters"]["binary_data_size"] == 3 * 8 and "data" not in out
    assert np.frombuffer(r.content[split:], "<f8") == pytest.approx(want)


def test_bad_binary_bodies_are_400s(server: httpx.Client, frame: pd.DataFrame) -> None:
    body, headers = binary_request(frame.head(2).to_numpy())
    cases = [
        (body[:-4], headers, "binary_data_size 320 but only 316"),
        (body + b"xx", headers, "2 binary bytes no input's binary_data_size claims"),
        (body, {**headers, "inference-header-content-length": "99999"}, "the length of the JSON"),
    ]
    for content, hdrs, message in cases:
        r = server.post("/v2/models/churn/infer", content=content, headers=hdrs)
        assert r.status_code == 400 and message in r.json()["error"], r.text


def test_real_tritonclient_sync_and_aio(
    serve: Callable[..., ServerHandle], source: InMemorySource, fitted: Any
) -> None:
    """tritonclient 2.73 in its own virtualenv (KEEL_TEST_TRITON_PYTHON names its python):
    binary inputs and outputs, JSON outputs, the aio client's octet-stream JSON, 404s."""
    import os
    import subprocess
    import warnings
    from pathlib import Path

    python = os.environ.get("KEEL_TEST_TRITON_PYTHON")
    if not python:
        if os.environ.get("KEEL_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("KEEL_TEST_REQUIRE_SERVICES=1 but KEEL_TEST_TRITON_PYTHON is not set")
        pytest.skip("needs KEEL_TEST_TRITON_PYTHON: a python with tritonclient[http]==2.73")
    handle = serve(spec({"model": "churn@champion"}), source)
    script = Path(__file__).with_name("triton_client_check.py")
    host = handle.url.removeprefix("http://")
    proc = subprocess.run(
        [python, str(script), host, "churn"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    rows = pd.DataFrame(np.linspace(-1, 1, 60).reshape(3, 20), columns=FEATURES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = fitted.predict_proba(rows)[:, 1].tolist()
    assert got["live"] is True and "binary_tensor_data" in got["extensions"]
    assert got["output"] == "predictions"
    assert got["binary"] == pytest.approx(want) and got["json"] == pytest.approx(want)
    assert got["aio"] == pytest.approx(want)
    assert "no model 'no-such-model'" in got["missing"], got["missing"]
