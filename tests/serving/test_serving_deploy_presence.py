"""One picture of what is deployed: every serving process records its deployment (ad hoc
or applied), its address and when it was last seen; listings, the UI and monitoring agree."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml
from serving_helpers import keel_env, wait_for

from keel.config import Settings
from keel.serving import build_app, spec_for_refs, start_in_thread
from keel.store import open_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        env={**env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _listed(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    out = _keel(env, "deploy", "list", "--json")
    assert out.returncode == 0, out.stderr
    return {d["name"]: d for d in json.loads(out.stdout)}


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _serve(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "keel.cli", "serve", *args, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _ready(url) or proc.poll() is not None, timeout_s=90, every_s=0.2)
    assert proc.poll() is None, proc.communicate()[0]
    return proc, url


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=60)[0] or ""


def test_adhoc_keel_serve_is_listed_live_then_stopped(
    settings: Settings, registered: str, tmp_path: Path
) -> None:
    env = keel_env(settings)
    proc, url = _serve(env, registered)
    try:
        live = _listed(env)["default"]
        assert live["kind"] == "ad hoc" and live["status"] == "adhoc"
        assert live["address"] == url and live["liveness"] == "live"
        assert [t["model_ref"] for t in live["targets"]] == ["churn@champion"]
        table = _keel(env, "deploy", "list")
        assert "ad hoc" in table.stdout and url in table.stdout, table.stdout
        history = _keel(env, "deploy", "history", "default")
        assert "ad hoc: keel serve churn@champion --port" in history.stdout, history.stdout
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert f"keel serve default (churn) on {url}\n" in out  # said once it served
    gone = _listed(env)["default"]
    assert gone["status"] == "stopped" and gone["liveness"] == "stopped"


def test_an_applied_deployment_is_seen_and_not_overwritten_by_an_adhoc_server(
    settings: Settings, registered: str, tmp_path: Path
) -> None:
    env = keel_env(settings)
    spec = spec_for_refs([registered], name="churn-api").to_dict()
    spec["endpoints"][0]["resources"] = {"concurrency": 8}
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert _keel(env, "deploy", "apply", str(path)).returncode == 0
    assert _listed(env)["churn-api"]["liveness"] == "not seen"
    clash = _keel(env, "serve", registered, "--name", "churn-api", "--port", str(_free_port()))
    assert clash.returncode != 0 and "Traceback" not in clash.stderr
    assert "'churn-api' is applied (revision 1) with another spec" in clash.stderr
    proc, _url = _serve(env, "--deployment", "churn-api")
    try:
        seen = _listed(env)["churn-api"]
        assert seen["kind"] == "applied" and seen["revision"] == 1
        assert seen["liveness"] == "live" and seen["last_seen"] > seen["applied_at"]
        same_file = _serve(env, "-f", str(path))[0]  # the applied spec from its file: seen
        assert _listed(env)["churn-api"]["status"] == "active"
        _stop(same_file)
    finally:
        _stop(proc)
    assert _listed(env)["churn-api"]["status"] == "active"  # applied stays applied


def _ui(settings: Settings) -> Any:
    from starlette.testclient import TestClient

    from keel.server import ServerOptions, create_app

    options = ServerOptions(allowed_hosts=("testserver",))
    return TestClient(create_app(settings, options))


def test_in_process_server_the_ui_and_monitoring_links_agree(
    settings: Settings, registered: str
) -> None:
    store = open_store(settings)
    spec = spec_for_refs([registered], name="quickstart")
    handle = start_in_thread(build_app(spec, settings, store=store))
    pid = store.projects.get_or_create("default").id
    try:
        dep = store.deployments.get(pid, "quickstart")
        assert dep.adhoc and dep.address == handle.url
        store.monitors.upsert(pid, "quickstart")
        store.monitors.upsert(pid, "ghost")  # a monitor of a deployment never recorded
        with _ui(settings) as ui:
            page = ui.get("/ui/p/default/deployments")
            assert page.status_code == 200
            assert "quickstart" in page.text and "ad hoc" in page.text and "live" in page.text
            monitor = ui.get("/ui/p/default/monitoring/quickstart")
            assert monitor.status_code == 200
            assert 'href="/ui/p/default/deployments/quickstart"' in monitor.text
            linked = ui.get("/ui/p/default/deployments/quickstart")
            assert linked.status_code == 200 and handle.url in linked.text
            ghost = ui.get("/ui/p/default/monitoring/ghost")
            assert ghost.status_code == 200 and 'id="no-deployment"' in ghost.text
            assert "/deployments/ghost" not in ghost.text
    finally:
        handle.stop()
    assert store.deployments.get(pid, "quickstart").status == "stopped"
    store.close()


def test_serving_a_stopped_adhoc_deployment_by_name_makes_it_adhoc_again(
    settings: Settings, registered: str
) -> None:
    from keel.serving._deploy import get_spec

    store = open_store(settings)
    pid = store.projects.get_or_create("default").id
    first = spec_for_refs([registered], name="again")
    start_in_thread(build_app(first, settings, store=store)).stop()
    assert store.deployments.get(pid, "again").status == "stopped"
    spec = get_spec(store, "default", "again")
    handle = start_in_thread(build_app(spec, settings, store=store, follow_store=True))
    try:
        again = store.deployments.get(pid, "again")
        assert again.status == "adhoc" and again.address == handle.url
    finally:
        handle.stop()
    assert store.deployments.get(pid, "again").status == "stopped"
    store.close()
