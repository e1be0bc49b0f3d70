"""The server's public surface is deliberate: these lists change only on purpose."""

from __future__ import annotations

import math
from typing import Any

import keel.server
import keel.store.remote
from keel.server import OPENAPI_URL, ServerOptions, is_loopback
from keel.store import Run, wire


def test_server_surface_is_pinned() -> None:
    assert set(keel.server.__all__) == {
        "DOCS_URL", "OPENAPI_URL", "ServerOptions", "check_bind", "create_app", "is_loopback",
        "serve",
    }  # fmt: skip
    assert set(keel.store.remote.__all__) == {
        "RemoteBlobStore", "RemoteDatabase", "open_remote_store",
    }  # fmt: skip


def test_defaults_are_the_safe_ones() -> None:
    options = ServerOptions()
    assert options.auth is False  # with auth off, only loopback binds are allowed
    assert set(options.allowed_hosts) == {"localhost", "127.0.0.1", "::1"}
    assert options.max_results == 50_000 and options.max_body_bytes == 32 << 20
    assert is_loopback("127.0.0.2") and not is_loopback("")


def test_openapi_describes_every_api_v1_answer(client: Any) -> None:
    """Each /api/v1 operation documents its 200 answer: an entity schema, or bytes."""
    doc = client.get(OPENAPI_URL).json()
    vague = []
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in operations.items():
            content = op["responses"]["200"].get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            if "application/octet-stream" not in content and not (
                "$ref" in schema or "properties" in schema or "anyOf" in schema
            ):
                vague.append(f"{method.upper()} {path}: {schema}")
    assert vague == []
    shapes = doc["components"]["schemas"]
    assert set(shapes["Run"]["properties"]) == {
        "info", "params", "metrics", "tags", "metric_steps",
    }  # fmt: skip
    assert "RunsOfRunInfoList" in shapes and "EntryOfOptionalCacheEntry" in shapes


def test_api_v1_answers_are_escaped_and_keep_non_finite_floats(client: Any) -> None:
    pid = client.post("/api/v1/projects", json={"name": "p"}).json()["id"]
    exp = client.post("/api/v1/experiments", json={"project_id": pid, "name": "<b>&"}).json()
    run = client.post("/api/v1/runs", json={"experiment_id": exp["id"]}).json()
    nan = {"metrics": [{"key": "m", "value": "NaN"}, {"key": "i", "value": "-Infinity"}]}
    assert client.post(f"/api/v1/runs/{run['id']}/batch", json=nan).status_code == 200
    answer = client.get(f"/api/v1/experiments/{exp['id']}")
    assert "<b>" not in answer.text and "\\u003cb\\u003e\\u0026" in answer.text
    assert answer.json()["name"] == "<b>&"
    got = wire.load(Run, client.get(f"/api/v1/runs/{run['id']}").json())
    assert math.isnan(got.metrics["m"]) and got.metrics["i"] == -math.inf
