"""``keel server`` commands, remote mode for the CLI, and a two-worker server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from server_helpers import keel_cli, server_process  # type: ignore[import-not-found]

from keel.config import Settings
from keel.store import Store, open_store
from keel.tracking import TrackingClient

_keel = keel_cli


def test_users_tokens_and_roles_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = _keel("server", "users", "create", "alice", "--admin", home=home)
    assert made.returncode == 0, made.stderr
    secret = next(w for w in made.stdout.split() if w.startswith("keel_"))
    token = _keel("server", "tokens", "create", "alice", "--name", "ci", home=home)
    assert token.returncode == 0 and token.stdout.strip().startswith("keel_")
    assert _keel("server", "roles", "set", "churn", "alice", "writer", home=home).returncode == 0
    roles = json.loads(_keel("server", "roles", "list", "churn", "--json", home=home).stdout)
    assert [(m["user_name"], m["role"]) for m in roles] == [("alice", "writer")]
    listed = json.loads(_keel("server", "tokens", "list", "alice", "--json", home=home).stdout)
    assert [t["name"] for t in listed] == ["first token", "ci"]
    assert all(secret not in json.dumps(t) for t in listed)  # never shown again
    bad = _keel("server", "roles", "set", "fresh", "alice", "owner", home=home)
    assert bad.returncode == 2 and "reader, writer, admin" in bad.stdout + bad.stderr
    store = open_store(Settings.for_home(home))
    assert "fresh" not in [p.name for p in store.projects.list()]  # refused before it is made
    assert store.credentials.authenticate_token(secret) is not None
    store.close()


def test_cli_and_sdk_work_unchanged_against_a_server(tmp_path: Path) -> None:
    with server_process(tmp_path / "server-home") as url:
        remote = TrackingClient(open_store(Settings.for_home(tmp_path / "c", server_url=url)))
        run = remote.create_run("remote-exp", name="over-http")
        remote.log_metric(run.id, "auc", 0.9)
        out = _keel("runs", "list", "--json", home=tmp_path / "client", KEEL_SERVER_URL=url)
        assert out.returncode == 0, out.stderr
        runs = json.loads(out.stdout)["runs"]
        assert [(r["info"]["name"], r["metrics"]) for r in runs] == [("over-http", {"auc": 0.9})]
        assert not (tmp_path / "client" / "keel.db").exists()  # nothing written locally


def test_two_workers_share_state_through_the_database(tmp_path: Path) -> None:
    with server_process(tmp_path / "home", "--workers", "2") as url:
        exp = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": "w"}).json()
        run = httpx.post(
            f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": exp["experiment_id"]}
        ).json()["run"]["info"]["run_id"]
        for i in range(40):  # a new connection each time: both workers answer
            body = {"run_id": run, "key": "m", "value": i, "timestamp": i, "step": i}
            assert httpx.post(f"{url}/api/2.0/mlflow/runs/log-metric", json=body).status_code == 200
        seen = {
            len(
                httpx.get(
                    f"{url}/api/2.0/mlflow/metrics/get-history",
                    params={"run_id": run, "metric_key": "m"},
                ).json()["metrics"]
            )
            for _ in range(10)
        }
        assert seen == {40}


def test_two_hosts_with_two_workers_share_one_postgres_and_artifact_store(
    pg_store: Store, tmp_path: Path
) -> None:
    """Four uvicorn workers in two server processes (as on two hosts behind a balancer), one
    PostgreSQL database and one artifact folder: whichever process answers, it sees the rest."""
    shared = {
        "KEEL_DB_URI": pg_store.settings.db_uri,
        "KEEL_ARTIFACTS_URI": str(tmp_path / "shared-artifacts"),
    }
    with (
        server_process(tmp_path / "host-a", "--workers", "2", env=shared) as a,
        server_process(tmp_path / "host-b", "--workers", "2", env=shared) as b,
    ):
        api = "/api/2.0/mlflow"
        exp = httpx.post(f"{a}{api}/experiments/create", json={"name": "hosts"}).json()
        run = httpx.post(
            f"{b}{api}/runs/create", json={"experiment_id": exp["experiment_id"]}
        ).json()["run"]["info"]["run_id"]
        for i in range(40):  # new connections, alternating hosts: every worker takes some
            body = {"run_id": run, "key": "m", "value": i, "timestamp": i, "step": i}
            host = a if i % 2 else b
            assert httpx.post(f"{host}{api}/runs/log-metric", json=body).status_code == 200
        path = f"/api/2.0/mlflow-artifacts/artifacts/{exp['experiment_id']}/{run}/artifacts/n.txt"
        assert httpx.put(f"{a}{path}", content=b"written on host a").status_code == 200
        for host in (a, b, a, b):
            got = httpx.get(
                f"{host}{api}/metrics/get-history", params={"run_id": run, "metric_key": "m"}
            ).json()["metrics"]
            assert sorted(m["step"] for m in got) == list(range(40))
            assert httpx.get(f"{host}{path}").content == b"written on host a"
    stored = pg_store.runs.metric_history(run, "m")
    assert [m.value for m in stored] == [float(i) for i in range(40)]
