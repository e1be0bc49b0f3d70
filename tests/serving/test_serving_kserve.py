"""KServe's own ``InferenceRESTClient`` (kserve 0.21, v2 protocol) against a running
``keel serve`` of a registered model (issue 21): health, readiness, metadata, JSON and binary
tensor data in and out, and the errors it raises for bad inputs.

kserve lives in its own virtualenv (a peer client, not a keel dependency);
KEEL_TEST_KSERVE_PYTHON names its python (``.ci/run`` creates it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_helpers import FEATURES, keel_env, wait_for

from keel.config import Settings

MODEL = "churn"


@pytest.fixture
def kserve_python() -> str:
    python = os.environ.get("KEEL_TEST_KSERVE_PYTHON")
    if not python:
        if os.environ.get("KEEL_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("KEEL_TEST_REQUIRE_SERVICES=1 but KEEL_TEST_KSERVE_PYTHON is not set")
        pytest.skip("needs KEEL_TEST_KSERVE_PYTHON: a python with kserve==0.21.0")
    return python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def keel_serve(settings: Settings, registered: str) -> Iterator[str]:
    """``keel serve churn@champion`` as a process; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "keel.cli", "serve", registered, "--port", str(port)],
        env=keel_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url) or proc.poll() is not None, timeout_s=90, every_s=0.2)
        assert proc.poll() is None, proc.communicate()[0]
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def _keel_predictions(settings: Settings, rows: pd.DataFrame) -> tuple[list[Any], np.ndarray]:
    """What keel's own loader predicts for the served version: labels and probabilities."""
    import keel.models
    from keel.store import open_store

    store = open_store(settings)
    try:
        model = keel.models.load(f"models:/{MODEL}@champion", store=store, project="default")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(model.predict(rows)).tolist(), np.asarray(model.predict_proba(rows))
    finally:
        store.close()


def test_real_kserve_inference_rest_client(
    kserve_python: str, keel_serve: str, settings: Settings, fitted: Any
) -> None:
    rows = pd.DataFrame(np.linspace(-2, 2, 100).reshape(5, 20), columns=FEATURES)
    script = Path(__file__).with_name("kserve_client_check.py")
    proc = subprocess.run(
        [kserve_python, str(script), keel_serve, MODEL],
        input=json.dumps({"columns": FEATURES, "data": rows.to_numpy().tolist()}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    labels, proba = _keel_predictions(settings, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert labels == fitted.predict(rows).tolist()  # the twin agrees with the original
        np.testing.assert_allclose(proba, fitted.predict_proba(rows), atol=1e-5)
    assert len(set(labels)) == 2  # the rows reach both classes: a constant answer would fail

    assert (got["live"], got["ready"], got["model_ready"]) == (True, True, True)
    assert got["missing_ready"] is False
    assert "binary_tensor_data" in got["extensions"]
    assert [name for name, _, _ in got["inputs"]] == FEATURES
    assert [(n, d) for n, d, _ in got["outputs"]] == [
        ("predictions", "INT64"),
        ("probabilities", "FP64"),
    ]

    # JSON tensors, binary tensors (one per column and one [n, 20]) all answer keel's labels
    assert got["json"] == {"predictions": labels}
    assert got["binary"] == {"predictions": labels}
    assert got["binary_id"] == "req-1"
    assert got["binary_tensor"] == {"predictions": labels}
    # binary outputs, decoded by the client from the Inference-Header-Content-Length split
    assert got["binary_out_content_type"] == "application/octet-stream"
    assert got["binary_out_shapes"] == [[5], [5, 2]]
    assert got["binary_out"]["predictions"] == labels
    np.testing.assert_allclose(got["binary_out"]["probabilities"], proba, rtol=1e-6)

    errors = got["errors"]
    assert errors["short"]["status"] == 400
    assert "has shape [5] (5 values) but 1 data values" in errors["short"]["message"]
    assert errors["text"]["status"] == 400
    assert "column 'f0' expects a number" in errors["text"]["message"], errors["text"]
    assert errors["missing_column"]["status"] == 400
    assert "missing column(s) 'f0'" in errors["missing_column"]["message"]
    assert errors["unknown_output"]["status"] == 400
    assert "the model has no output 'prediction'" in errors["unknown_output"]["message"]
    assert errors["unknown_model"]["status"] == 404
    assert "no model 'no-such-model'" in errors["unknown_model"]["message"]
