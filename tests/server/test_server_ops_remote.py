"""Deployments, monitors and alerts against SQLite, PostgreSQL and the remote backend; their
routes' roles and secrets; and ``keel deploy`` in remote mode against a real server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from server_helpers import keel_cli  # type: ignore[import-not-found]
from sklearn.linear_model import LogisticRegression

from keel.config import Settings
from keel.models import Registry, save
from keel.store import Store, open_store
from keel.store.alerts import AlertState, NewAlert

SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cr3t-token"


# -- authorization -------------------------------------------------------------------------
def _alert(key: str = "drift:x", severity: str = "warning", **kw: Any) -> NewAlert:
    return NewAlert(
        kind="drift",
        severity=severity,
        dedup_key=key,
        title=f"{key} moved",
        deployment="churn",
        evidence={"p": 0.001, "column": "x"},
        **kw,
    )


def _other_project_objects(store: Store) -> dict[str, int]:
    other = store.projects.get_or_create("other").id
    monitor = store.monitors.upsert(other, "theirs")
    alert, _ = store.alerts.record(other, _alert(monitor_id=monitor.id))
    notifier = store.alerts.add_notifier(other, "their-hook", "webhook", {"url": SECRET_URL})
    store.deployments.apply(other, "their-api", {"x": 1}, [])
    return {"project": other, "monitor": monitor.id, "alert": alert.id, "notifier": notifier.id}


def test_ops_roles_and_other_projects(auth_world: Any) -> None:
    c, pid = auth_world.client, auth_world.project_id
    rita, walt, out = auth_world.as_("rita"), auth_world.as_("walt"), auth_world.as_("out")
    base = f"/api/v1/projects/{pid}"
    dep = {
        "name": "api",
        "spec": {"a": 1},
        "targets": [{"endpoint": "e", "model_ref": "m@1", "model_name": "m", "weight": 100}],
    }
    assert c.post(f"{base}/deployments", json=dep, headers=rita).status_code == 403
    made = c.post(f"{base}/deployments", json=dep, headers=walt)
    assert made.status_code == 200 and made.json()["changed"] is True
    assert (
        c.get(f"{base}/deployments/revisions", params={"name": "api"}, headers=rita).status_code
        == 200
    )
    assert (
        c.post(
            f"{base}/deployments/rollback", json={"name": "api", "revision": 1}, headers=rita
        ).status_code
        == 403
    )
    assert c.delete(f"{base}/deployments", params={"name": "api"}, headers=rita).status_code == 403
    hidden = c.get(f"{base}/deployments/lookup", params={"name": "api"}, headers=out)
    assert hidden.status_code == 404 and hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    assert c.put(f"{base}/monitors", json={"deployment": "api"}, headers=rita).status_code == 403
    monitor = c.put(f"{base}/monitors", json={"deployment": "api"}, headers=walt).json()
    assert c.get(f"/api/v1/monitors/{monitor['id']}", headers=rita).status_code == 200
    assert c.get(f"/api/v1/monitors/{monitor['id']}", headers=out).status_code == 404
    mark = f"/api/v1/monitors/{monitor['id']}/mark-run"
    assert c.post(mark, json={"window_end": 5}, headers=rita).status_code == 403

    up = c.put("/api/v1/blobs", content=b"walt's profile", headers=walt).json()
    ref = {"subject": "model:m/1", "blob_sha": up["sha"], "num_rows": 1, "num_columns": 1}
    assert c.put(f"{base}/references", json=ref, headers=walt).status_code == 403  # no receipt
    made_ref = c.put(
        f"{base}/references", json={**ref, "receipts": {up["sha"]: up["receipt"]}}, headers=walt
    )
    assert made_ref.status_code == 200, made_ref.text
    got = c.get(f"/api/v1/blobs/{up['sha']}", headers=rita)  # a colleague reads the profile
    assert (got.status_code, got.content) == (200, b"walt's profile")
    assert c.get(f"/api/v1/blobs/{up['sha']}", headers=out).status_code == 404

    new = {
        "kind": "drift",
        "severity": "warning",
        "dedup_key": "k",
        "title": "t",
        "monitor_id": monitor["id"],
    }
    assert c.post(f"{base}/alerts", json=new, headers=rita).status_code == 403
    alert = c.post(f"{base}/alerts", json=new, headers=walt).json()["alert"]
    ack = f"{base}/alerts/{alert['id']}/acknowledge"
    assert c.post(ack, json={}, headers=rita).status_code == 403
    acked = c.post(ack, json={"by": "someone-else"}, headers=walt)
    assert acked.json()["acknowledged_by"] == "walt"  # with auth on, the caller; not a claim
    assert c.get(f"{base}/alerts", headers=rita).json()["alerts"][0]["id"] == alert["id"]
    assert c.get(f"{base}/alerts", headers=out).status_code == 404
    assert c.get(f"/api/v1/alerts/{alert['id']}/deliveries", headers=out).status_code == 404

    theirs = _other_project_objects(auth_world.store)
    for method, path, body in [
        ("GET", f"/api/v1/monitors/{theirs['monitor']}", None),
        ("POST", f"/api/v1/monitors/{theirs['monitor']}/mark-run", {"window_end": 9}),
        ("GET", f"{base}/alerts/{theirs['alert']}", None),
        ("POST", f"{base}/alerts/{theirs['alert']}/acknowledge", {}),
        ("POST", f"{base}/alerts/{theirs['alert']}/resolve", {}),
        ("POST", f"{base}/alerts/{theirs['alert']}/enqueue", {"event": "opened"}),
        ("GET", f"/api/v1/alerts/{theirs['alert']}/deliveries", None),
        ("POST", f"{base}/alerts", {**new, "dedup_key": "k2", "monitor_id": theirs["monitor"]}),
        (
            "POST",
            f"{base}/alerts/resolve-absent",
            {"monitor_id": theirs["monitor"], "kinds": ["drift"], "by": "x"},
        ),
        ("GET", f"/api/v1/projects/{theirs['project']}/deployments", None),
        ("GET", f"/api/v1/notifiers/{theirs['notifier']}", None),
    ]:
        for who in ("walt", "ada"):
            answer = c.request(method, path, json=body, headers=auth_world.as_(who))
            assert answer.status_code == 404, (who, method, path, answer.text)
    other = theirs["project"]
    assert auth_world.store.monitors.get_by_id(theirs["monitor"]).last_window_end is None
    assert auth_world.store.alerts.get(other, theirs["alert"]).state is AlertState.OPEN
    assert auth_world.store.alerts.deliveries(theirs["alert"]) == []


def test_notifier_secrets_are_for_project_admins(auth_world: Any) -> None:
    c, pid = auth_world.client, auth_world.project_id
    notifiers = f"/api/v1/projects/{pid}/notifiers"
    body = {"name": "slack", "kind": "webhook", "config": {"url": SECRET_URL}}
    for who in ("rita", "walt"):
        refused = c.post(notifiers, json=body, headers=auth_world.as_(who))
        assert refused.status_code == 403, who
    made = c.post(notifiers, json=body, headers=auth_world.as_("ada"))
    assert made.status_code == 200 and made.json()["config"]["url"] == SECRET_URL
    nid = made.json()["id"]
    for who in ("rita", "walt"):
        for method, path, params in [
            ("GET", notifiers, None),
            ("GET", f"{notifiers}/lookup", {"name": "slack"}),
            ("GET", f"/api/v1/notifiers/{nid}", None),
            ("DELETE", notifiers, {"name": "slack"}),
        ]:
            answer = c.request(method, path, params=params, headers=auth_world.as_(who))
            assert answer.status_code == 403, (who, method, path)
            assert "s3cr3t" not in answer.text
    assert c.get(f"/api/v1/notifiers/{nid}", headers=auth_world.as_("out")).status_code == 404
    listed = c.get(notifiers, headers=auth_world.as_("ada")).json()["notifiers"]
    assert [n["config"]["url"] for n in listed] == [SECRET_URL]

    base = f"/api/v1/projects/{pid}"
    new = {"kind": "drift", "severity": "critical", "dedup_key": "k", "title": "t"}
    walt = auth_world.as_("walt")
    alert = c.post(f"{base}/alerts", json=new, headers=walt).json()["alert"]
    queued = c.post(f"{base}/alerts/{alert['id']}/enqueue", json={"event": "opened"}, headers=walt)
    assert queued.status_code == 200 and len(queued.json()["deliveries"]) == 1
    rita = auth_world.as_("rita")
    for path in [f"/api/v1/alerts/{alert['id']}/deliveries", f"{base}/alerts", f"{base}/monitors"]:
        seen = c.get(path, headers=rita)
        assert seen.status_code == 200 and "s3cr3t" not in seen.text
    assert (
        c.delete(notifiers, params={"name": "slack"}, headers=auth_world.as_("ada")).status_code
        == 200
    )


def test_writes_to_a_missing_project_are_404(client: Any) -> None:
    """With auth off every caller is an admin; a missing project is still 404, never a 500."""
    base = "/api/v1/projects/999999"
    sha = client.put("/api/v1/blobs", content=b"profile").json()["sha"]
    for method, path, body in [
        ("POST", f"{base}/deployments", {"name": "api", "spec": {}}),
        ("PUT", f"{base}/monitors", {"deployment": "api"}),
        (
            "PUT",
            f"{base}/references",
            {"subject": "s", "blob_sha": sha, "num_rows": 1, "num_columns": 1},
        ),
        (
            "POST",
            f"{base}/alerts",
            {"kind": "drift", "severity": "info", "dedup_key": "k", "title": "t"},
        ),
        ("POST", f"{base}/notifiers", {"name": "n", "kind": "log"}),
    ]:
        answer = client.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert "project id 999999 does not exist" in answer.json()["message"]
    twice = {
        "name": "api",
        "spec": {},
        "targets": [{"endpoint": "e", "model_ref": "m@1", "model_name": "m"}] * 2,
    }
    answer = client.post("/api/v1/projects/1/deployments", json=twice)
    assert answer.status_code == 400 and "lists model 'm@1' twice" in answer.json()["message"]


# -- the real CLI in remote mode -----------------------------------------------------------
def _keel(*args: str, home: Path, url: str) -> subprocess.CompletedProcess[str]:
    return keel_cli(*args, home=home, KEEL_SERVER_URL=url)


def test_deploy_cli_against_a_server(
    keel_server: str, keel_server_store: Store, tmp_path: Path
) -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    save(LogisticRegression().fit(X, [0, 0, 1, 1]), tmp_path / "package", input_example=X)
    remote = open_store(Settings.for_home(tmp_path / "sdk", server_url=keel_server))
    try:
        assert Registry(remote).register(tmp_path / "package", "churn").ref == "churn@1"
    finally:
        remote.close()

    spec: dict[str, Any] = {
        "name": "churn-api",
        "endpoints": [{"name": "churn", "versions": [{"model": "churn/1"}]}],
    }
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(spec))
    home = tmp_path / "cli"
    first = _keel("deploy", "apply", str(path), home=home, url=keel_server)
    assert first.returncode == 0, first.stderr
    assert "churn-api" in first.stdout and "applied as revision 1" in first.stdout
    same = _keel("deploy", "apply", str(path), home=home, url=keel_server)
    assert "unchanged at revision 1" in same.stdout, same.stderr
    spec["endpoints"][0]["versions"].append({"model": "churn@1", "shadow": True})
    path.write_text(yaml.safe_dump(spec))
    second = _keel("deploy", "apply", str(path), "--note", "shadow it", home=home, url=keel_server)
    assert "applied as revision 2" in second.stdout, second.stderr

    shown = _keel("deploy", "history", "churn-api", home=home, url=keel_server)
    assert shown.returncode == 0, shown.stderr
    assert "churn-api: 2 revisions" in shown.stdout and "shadow it" in shown.stdout
    assert "churn@1 (shadow)" in shown.stdout
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: x\nendpoints:\n  - name: a\n    versions: [{model: nosuch/1}]\n")
    refused = _keel("deploy", "apply", str(typo), home=home, url=keel_server)
    assert refused.returncode != 0 and "nosuch" in refused.stdout + refused.stderr
    missing = _keel("deploy", "history", "nope", home=home, url=keel_server)
    assert missing.returncode != 0 and "'nope' does not exist" in missing.stdout + missing.stderr

    pid = keel_server_store.projects.get("default").id
    assert keel_server_store.deployments.current_revision(pid, "churn-api") == 2
    assert not (home / "keel.db").exists()  # nothing written locally
