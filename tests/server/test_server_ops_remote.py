"""Deployments, monitors and alerts against SQLite, PostgreSQL and the remote backend; their
routes' roles and secrets; and ``keel deploy`` in remote mode against a real server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from server_helpers import keel_cli  # type: ignore[import-not-found]
from sklearn.linear_model import LogisticRegression

from keel.config import Settings
from keel.exceptions import (
    AlreadyExistsError,
    ConfigError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
)
from keel.models import Registry, save
from keel.store import Store, open_store
from keel.store.alerts import AlertState, NewAlert
from keel.store.deployments import DeploymentTarget

SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cr3t-token"


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


# -- the repository contract on every backend ----------------------------------------------
def test_deployments_apply_rollback_and_delete(store: Store) -> None:
    repo = store.deployments
    pid = store.projects.get_or_create("default").id
    t1 = [DeploymentTarget("churn", "churn@champion", "churn", 100.0)]
    dep, changed = repo.apply(pid, "api", {"a": 1, "nested": {"b": [1, 2]}}, t1)
    assert changed and (dep.name, dep.revision, dep.status, dep.targets) == (
        "api",
        1,
        "active",
        t1,
    )
    assert dep.spec == {"a": 1, "nested": {"b": [1, 2]}}
    assert repo.apply(pid, "api", {"nested": {"b": [1, 2]}, "a": 1}, t1) == (dep, False)
    t2 = [*t1, DeploymentTarget("churn", "churn/3", "churn", 0.0, shadow=True)]
    dep2, changed = repo.apply(pid, "api", {"a": 2}, t2, note="shadow v3")
    assert changed and dep2.revision == 2 and repo.current_revision(pid, "api") == 2
    assert repo.get(pid, "api") == dep2 and repo.find(pid, "api") == dep2
    assert repo.revision(pid, "api", 2).targets == sorted(t2, key=lambda t: t.shadow)
    back = repo.rollback(pid, "api", 1)
    assert (back.revision, back.spec, back.targets) == (3, dep.spec, t1)
    history = repo.revisions(pid, "api")
    assert [(r.revision, r.note) for r in history] == [
        (1, ""),
        (2, "shadow v3"),
        (3, "rollback to revision 1"),
    ]
    assert history[0].spec_hash == history[2].spec_hash != history[1].spec_hash
    assert [d.name for d in repo.list(pid)] == ["api"]
    assert [(d, r, t.model_ref) for d, r, t in repo.all_targets(pid)] == [
        ("api", 1, "churn@champion"),
        ("api", 2, "churn/3"),
        ("api", 2, "churn@champion"),
        ("api", 3, "churn@champion"),
    ]
    with pytest.raises(InvalidArgumentError, match="already at revision 3"):
        repo.rollback(pid, "api", 3)
    with pytest.raises(NotFoundError, match=r"has no revision 9; it has 1\.\.3"):
        repo.revision(pid, "api", 9)
    with pytest.raises(InvalidArgumentError, match="deployment name"):
        repo.apply(pid, "", {}, [])

    repo.delete(pid, "api")
    assert repo.current_revision(pid, "api") is None and repo.list(pid) == []
    found = repo.find(pid, "api")
    assert found is not None and found.status == "deleted"
    with pytest.raises(NotFoundError, match="keel deploy apply"):
        repo.get(pid, "api")
    with pytest.raises(NotFoundError, match="'api' does not exist"):
        repo.delete(pid, "api")
    assert repo.find(pid, "never") is None and repo.current_revision(pid, "never") is None
    revived, changed = repo.apply(pid, "api", {"a": 1}, t1)
    assert changed and revived.revision == 4


def test_monitors_and_reference_profiles(store: Store) -> None:
    mons = store.monitors
    pid = store.projects.get_or_create("default").id
    created = mons.upsert(pid, "churn", reference="model:churn/1", config={"drift": {"p": 0.01}})
    assert (created.window, created.enabled, created.config) == ("1d", True, {"drift": {"p": 0.01}})
    changed = mons.upsert(pid, "churn", window="6h", enabled=False)
    assert (changed.id, changed.reference, changed.window, changed.enabled) == (
        created.id,
        "model:churn/1",
        "6h",
        False,
    )
    mons.upsert(pid, "fraud")
    assert [m.deployment for m in mons.list(pid)] == ["churn", "fraud"]
    assert [m.deployment for m in mons.list(pid, enabled_only=True)] == ["fraud"]
    mons.mark_run(created.id, 2000)
    mons.mark_run(created.id, 1000)  # never moves backwards
    ran = mons.get_by_id(created.id)
    assert ran.last_window_end == 2000 and ran.last_run_at is not None
    assert mons.get(pid, "churn") == ran == mons.find(pid, "churn")
    assert mons.find(pid, "nope") is None
    with pytest.raises(NotFoundError, match="monitor id 999999"):
        mons.get_by_id(999_999)
    with pytest.raises(NotFoundError, match="monitor id 999999"):
        mons.mark_run(999_999, 1)
    with pytest.raises(ValueError):  # NaN has no JSON form
        mons.upsert(pid, "churn", config={"p": float("nan")})
    mons.delete(pid, "churn")
    with pytest.raises(NotFoundError, match="keel monitor set churn"):
        mons.get(pid, "churn")
    with pytest.raises(NotFoundError, match="no monitor to delete"):
        mons.delete(pid, "churn")

    first = store.blobs.put_bytes(b'{"profile": 1}')
    second = store.blobs.put_bytes(b'{"profile": 2}')
    mons.put_reference(pid, "model:churn/1", blob_sha=first.sha, num_rows=10, num_columns=3)
    again = mons.put_reference(
        pid, "model:churn/1", blob_sha=second.sha, num_rows=20, num_columns=3, source="ds@2"
    )
    assert (again.blob_sha, again.num_rows, again.source) == (second.sha, 20, "ds@2")
    assert mons.list_references(pid) == [again] == [mons.get_reference(pid, "model:churn/1")]
    assert mons.find_reference(pid, "model:nope/1") is None
    with pytest.raises(NotFoundError, match="keel monitor reference"):
        mons.get_reference(pid, "model:nope/1")
    with pytest.raises(InvalidArgumentError, match="must be 1-512 characters"):
        mons.put_reference(pid, "", blob_sha=first.sha, num_rows=1, num_columns=1)


def test_alerts_dedupe_acknowledge_resolve(store: Store) -> None:
    alerts = store.alerts
    pid = store.projects.get_or_create("default").id
    monitor = store.monitors.upsert(pid, "churn")
    first, event = alerts.record(pid, _alert(monitor_id=monitor.id, window_start=1, window_end=2))
    assert event == "opened" and first.state is AlertState.OPEN and first.occurrences == 1
    assert (first.monitor_id, first.evidence, first.window_end) == (
        monitor.id,
        {"p": 0.001, "column": "x"},
        2,
    )
    again, event = alerts.record(pid, _alert(monitor_id=monitor.id))
    assert (event, again.id, again.occurrences) == ("repeated", first.id, 2)
    louder, event = alerts.record(pid, _alert(severity="critical", monitor_id=monitor.id))
    assert (event, louder.severity) == ("escalated", "critical")
    acked = alerts.acknowledge(pid, first.id, by="ana", note="looking")
    assert (acked.state, acked.acknowledged_by, acked.note) == (
        AlertState.ACKNOWLEDGED,
        "ana",
        "looking",
    )
    assert alerts.get(pid, first.id) == acked
    resolved = alerts.resolve(pid, first.id, by="ana")
    assert resolved.state is AlertState.RESOLVED and resolved.resolved_at is not None
    with pytest.raises(ConflictError, match="already resolved"):
        alerts.resolve(pid, first.id)
    reopened, event = alerts.record(pid, _alert())
    assert event == "opened" and reopened.id != first.id

    for key in ("drift:y", "drift:z"):
        alerts.record(pid, _alert(key, monitor_id=monitor.id))
    closed = alerts.resolve_absent(pid, monitor.id, ["drift"], {"drift:y"}, by="monitor")
    assert [(a.dedup_key, a.resolved_by) for a in closed] == [("drift:z", "monitor")]
    live = alerts.list(pid, state="live")
    assert sorted(a.dedup_key for a in live) == ["drift:x", "drift:y"]
    assert [a.id for a in alerts.list(pid, state="resolved")] == [closed[0].id, first.id]
    assert len(alerts.list(pid, deployment="churn", kind="drift", since=0, limit=2)) == 2
    assert alerts.list(pid, deployment="fraud") == []
    assert alerts.latest_id(pid) == max(a.id for a in alerts.list(pid))
    assert alerts.latest_id(pid, kind="schema") is None

    with pytest.raises(NotFoundError, match="alert 999999 does not exist"):
        alerts.acknowledge(pid, 999_999)
    with pytest.raises(NotFoundError, match="alert 999999 does not exist"):
        alerts.get(pid, 999_999)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        alerts.record(pid, NewAlert("drift", "info", "k", "t", evidence={"p": float("nan")}))
    with pytest.raises(ValueError):
        alerts.list(pid, state="sleeping")


def test_notifiers_and_deliveries(store: Store) -> None:
    alerts = store.alerts
    pid = store.projects.get_or_create("default").id
    ops = alerts.add_notifier(pid, "ops", "webhook", {"url": SECRET_URL, "format": "json"})
    assert (ops.name, ops.kind, ops.config, ops.min_severity, ops.enabled) == (
        "ops",
        "webhook",
        {"url": SECRET_URL, "format": "json"},
        "warning",
        True,
    )
    alerts.add_notifier(pid, "pager", "log", {}, min_severity="critical")
    alerts.add_notifier(pid, "fraud-only", "log", {}, deployment="fraud")
    with pytest.raises(AlreadyExistsError, match="notifier 'ops' exists"):
        alerts.add_notifier(pid, "ops", "log", {})
    with pytest.raises(InvalidArgumentError, match="'sms' is not one of"):
        alerts.add_notifier(pid, "x", "sms", {})
    with pytest.raises(InvalidArgumentError, match="min_severity 'loud'"):
        alerts.add_notifier(pid, "x", "log", {}, min_severity="loud")
    assert [n.name for n in alerts.list_notifiers(pid)] == ["fraud-only", "ops", "pager"]
    assert alerts.get_notifier(pid, "ops") == ops == alerts.get_notifier_by_id(ops.id)
    with pytest.raises(NotFoundError, match="notifier id 999999"):
        alerts.get_notifier_by_id(999_999)

    alert, _ = alerts.record(pid, _alert())
    queued = alerts.enqueue(alert, "opened")
    assert [(d.notifier_id, d.event, d.status, d.attempts) for d in queued] == [
        (ops.id, "opened", "pending", 0)
    ]
    assert alerts.deliveries(alert.id) == queued

    alerts.remove_notifier(pid, "ops")
    with pytest.raises(NotFoundError, match="notifier 'ops' does not exist"):
        alerts.get_notifier(pid, "ops")
    with pytest.raises(NotFoundError, match="notifier 'ops' does not exist"):
        alerts.remove_notifier(pid, "ops")
    assert alerts.enqueue(alert, "opened") == []


def test_delivery_leases_stay_on_the_server(remote_store: Store, server_store: Store) -> None:
    pid = remote_store.projects.get_or_create("default").id
    remote_store.alerts.add_notifier(pid, "ops", "log", {})
    alert, _ = remote_store.alerts.record(pid, _alert())
    (queued,) = remote_store.alerts.enqueue(alert, "opened")
    with pytest.raises(ConfigError, match="keel alerts deliver"):
        remote_store.alerts.claim_due(pid, now=queued.next_attempt_at, lease_ms=1000)
    with pytest.raises(ConfigError, match="without KEEL_SERVER_URL"):
        remote_store.alerts.finish_delivery(queued.id, ok=True)
    with pytest.raises(NotFoundError, match="alert id 999999 does not exist"):
        remote_store.alerts.deliveries(999_999)  # SQL answers []; an id not yours is 404
    claimed = server_store.alerts.claim_due(pid, now=queued.next_attempt_at, lease_ms=1000)
    assert [d.id for d in claimed] == [queued.id]  # the server's own process can


# -- authorization -------------------------------------------------------------------------
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
    made_ref = c.put(f"{base}/references", json={**ref, "receipt": up["receipt"]}, headers=walt)
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
