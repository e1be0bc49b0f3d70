"""Bad input is refused with 4xx and a JSON error, never read or written, never a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keel.exceptions import ConfigError
from keel.server import ServerOptions, check_bind, create_app, is_loopback
from keel.store import Store

BAD_PATHS = [
    "../../etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..%5c..%5cwindows",
    "a\\..\\b",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "file%00.txt",
    "~/secret",
    "C:/windows/system32",
]


@pytest.fixture
def run(client: Any) -> tuple[str, str]:
    exp = client.post("/api/2.0/mlflow/experiments/create", json={"name": "sec"}).json()
    r = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp["experiment_id"]})
    return exp["experiment_id"], r.json()["run"]["info"]["run_id"]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_artifact_paths_in_any_encoding_are_400(
    client: Any, run: tuple[str, str], bad: str, server_store: Store
) -> None:
    exp_id, run_id = run
    base = f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/"
    up = client.put(base + bad, content=b"x")
    assert up.status_code in (400, 404), up.text  # 404 only when routing itself cannot match
    assert up.json()["error_code"] in (
        "INVALID_PARAMETER_VALUE",
        "ENDPOINT_NOT_FOUND",
        "BAD_REQUEST",
    )
    assert client.get(base + bad).status_code in (400, 404)
    listing = client.get(
        "/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{exp_id}/{run_id}/artifacts/{bad}"}
    )
    assert listing.status_code == 400
    v1 = client.put(f"/api/v1/runs/{run_id}/artifacts/{bad}", content=b"x")
    assert v1.status_code in (400, 404)
    assert server_store.artifacts.list(run_id) == []  # nothing was written anywhere


@pytest.mark.parametrize(
    "location",
    [
        "file:///etc",
        "//evil.example/share",
        "s3://other-bucket/x",
        "http://169.254.169.254/",
        "mlflow-artifacts:/../../etc",
        "/abs/path",
    ],
)
def test_experiment_artifact_location_is_metadata_never_a_path(
    client: Any, location: str, server_store: Store
) -> None:
    """MLflow accepts any artifact_location; keel shows it back and never writes there."""
    resp = client.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": f"loc-{abs(hash(location))}", "artifact_location": location},
    )
    assert resp.status_code == 200, resp.text
    exp_id = resp.json()["experiment_id"]
    got = client.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id}).json()
    assert got["experiment"]["artifact_location"] == location
    assert got["experiment"]["tags"] == []
    run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id}).json()
    info = run["run"]["info"]
    assert info["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/{info['run_id']}/artifacts"
    up = client.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{info['run_id']}/artifacts/a.txt",
        content=b"x",
    )
    assert up.status_code == 200
    assert [a.path for a in server_store.artifacts.list(info["run_id"])] == ["a.txt"]


def test_text_plain_post_is_415(client: Any) -> None:
    resp = client.post(
        "/api/2.0/mlflow/experiments/create",
        content='{"name": "csrf"}',
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status_code == 415
    assert resp.headers["content-type"].startswith("application/json")
    form = client.post("/api/v1/projects", data={"name": "csrf"})
    assert form.status_code == 415
    assert (
        client.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "csrf"}
        ).status_code
        == 404
    )


def test_host_header_allowlist(client: Any) -> None:
    assert client.get("/api/v1/health", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/v1/health", headers={"Host": "localhost:5000"}).status_code == 200
    assert client.get("/api/v1/health", headers={"Host": "[::1]:5000"}).status_code == 200


def test_body_and_page_size_caps(server_store: Store) -> None:
    from starlette.testclient import TestClient

    small = ServerOptions(
        allowed_hosts=("testserver",), max_body_bytes=1000, max_upload_bytes=2000, max_results=100
    )
    with TestClient(create_app(server_store.settings, small, store=server_store)) as c:
        big = c.post("/api/2.0/mlflow/experiments/create", json={"name": "x" * 2000})
        assert big.status_code == 413 and big.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"

        def chunks() -> Any:
            yield b"x" * 1500
            yield b"x" * 1500

        streamed = c.put("/api/v1/blobs", content=chunks())  # no Content-Length: counted
        assert streamed.status_code == 413
        too_many = c.post(
            "/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"], "max_results": 101}
        )
        assert too_many.status_code == 400 and "cap of 100" in too_many.json()["message"]
        hist = c.get(
            "/api/2.0/mlflow/metrics/get-history",
            params={"run_id": "x", "metric_key": "m", "max_results": 10**9},
        )
        assert hist.status_code in (400, 404)


def test_errors_are_json_and_escaped(client: Any) -> None:
    evil = "<script>alert(1)</script>"
    resp = client.get("/api/2.0/mlflow/runs/get", params={"run_id": evil})
    assert resp.status_code == 404
    assert "<script>" not in resp.text and "\\u003cscript" in resp.text
    assert resp.json()["message"].count("<script>") == 1  # intact once decoded
    assert resp.headers["x-content-type-options"] == "nosniff"
    unknown = client.get("/api/2.0/mlflow/no-such-endpoint")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    not_json = client.post(
        "/api/2.0/mlflow/runs/create",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and "error_code" in not_json.json()


@pytest.mark.parametrize(
    "body",
    [
        {"run_id": "x", "key": "m", "value": 1, "timestamp": 2**70, "step": 0},
        {"run_id": "x", "key": "m", "value": 1, "timestamp": 1, "step": -(2**64)},
        {"run_id": ["x"], "key": "m", "value": 1},
        {"run_id": "x", "key": "", "value": 1},
        {"run_id": "x" * 10_000, "key": "m", "value": 1},
    ],
)
def test_client_mistakes_are_4xx_not_5xx(client: Any, body: dict[str, Any]) -> None:
    resp = client.post("/api/2.0/mlflow/runs/log-metric", json=body)
    assert 400 <= resp.status_code < 500, resp.text


def test_model_source_and_run_ids_from_other_projects_are_not_readable(
    client: Any, run: tuple[str, str]
) -> None:
    _exp_id, run_id = run
    other = "/projects/other/api/2.0/mlflow"
    assert client.get(f"{other}/runs/get", params={"run_id": run_id}).status_code == 404
    # another project's run is a reference keel does not know there, exactly like an unknown
    # id (MLflow accepts both): nothing links to it and nothing of it is shown
    for source in (run_id, "f" * 32):
        logged = client.post(
            f"{other}/logged-models", json={"experiment_id": "0", "source_run_id": source}
        )
        assert logged.status_code == 200, logged.text
        assert logged.json()["model"]["info"]["source_run_id"] == source
    outputs = client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    assert "outputs" not in outputs


def test_non_loopback_bind_without_auth_is_refused() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    with pytest.raises(ConfigError, match="--insecure"):
        check_bind("0.0.0.0", ServerOptions(), insecure=False)
    check_bind("0.0.0.0", ServerOptions(auth=True), insecure=False)
    check_bind("0.0.0.0", ServerOptions(), insecure=True)


def test_cli_refuses_public_bind_without_auth(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "keel.cli", "server", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KEEL_HOME": str(tmp_path / "h"), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode != 0 and "--insecure" in out.stdout + out.stderr


def test_real_server_sets_tcp_nodelay(keel_server: str) -> None:
    import httpx

    # A keep-alive exchange of small responses must not stall on Nagle + delayed ACK.
    with httpx.Client(base_url=keel_server) as c:
        c.get("/api/v1/health")
        import statistics
        import time

        calls = []
        for _ in range(50):
            start = time.perf_counter()
            c.get("/api/v1/health")
            calls.append(time.perf_counter() - start)
    # Nagle + delayed ACK stalls *every* call by ~40 ms; the median ignores a loaded moment.
    median = statistics.median(calls)
    assert median < 0.03, f"{median * 1000:.1f} ms median per keep-alive call"


def test_accepted_connections_get_tcp_nodelay() -> None:
    import asyncio
    import socket

    import uvicorn
    from uvicorn.server import ServerState

    from keel.server._nodelay import NoDelayProtocol

    config = uvicorn.Config(lambda scope, receive, send: None)
    config.load()
    loop = asyncio.new_event_loop()
    protocol = NoDelayProtocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        with socket.create_connection(srv.getsockname()), srv.accept()[0] as conn:
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0

            class Transport:
                def get_extra_info(self, name: str, default: Any = None) -> Any:
                    info = {
                        "socket": conn,
                        "peername": conn.getpeername(),
                        "sockname": conn.getsockname(),
                    }
                    return info.get(name, default)

                def is_closing(self) -> bool:
                    return False

            protocol.connection_made(Transport())
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    loop.close()
