"""Open Inference Protocol details real clients trip on (issue 21): output names, error
bodies, content types and the count of refused requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
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
    assert [(o["name"], o["datatype"]) for o in meta] == [(o["name"], o["datatype"]) for o in out]


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
    import json

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
