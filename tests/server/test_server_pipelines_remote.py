"""Pipeline runs, the step cache and schedules against SQLite, PostgreSQL and the remote
backend; their routes' roles; and ``keel pipeline run`` from team members' machines against
a real server process: the second answered entirely from the first one's cache, a third
running its steps in worker processes that use the server's blob API."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from server_helpers import keel_cli  # type: ignore[import-not-found]

from keel.store import Store
from keel.store.pipelines import StepStatus

FLOW = """
import keel

@keel.step
def base(n: int) -> list[int]:
    return list(range(n))

@keel.step
def scaled(xs: list[int], lr: float) -> float:
    return sum(xs) * lr

@keel.pipeline
def train(n: int = 4, lr: float = 0.5):
    return scaled(base(n), lr)
"""


def _is_remote(store: Store) -> bool:
    return store.db.dialect == "remote"


def _server_side(store: Store, request: pytest.FixtureRequest) -> Store:
    """The store behind the server (the scheduler's bookkeeping is not served over HTTP)."""
    return request.getfixturevalue("server_store") if _is_remote(store) else store


# -- authorization -------------------------------------------------------------------------
def _add(store: Store, pid: int, name: str, **kw: Any) -> Any:
    return store.schedules.add(
        pid,
        name,
        target="flow.py:train",
        params=kw.get("params", {"lr": 0.1}),
        runner={"runner": "inprocess"},
        cron="0 3 * * *",
        trigger_kind=None,
        trigger_ref=None,
        trigger_baseline="",
        catch_up="latest",
    )


def _team_run(auth_world: Any) -> tuple[int, str]:
    c, pid = auth_world.client, auth_world.project_id
    walt = auth_world.as_("walt")
    exp_id = c.post("/api/v1/experiments", json={"project_id": pid, "name": "flow"}, headers=walt)
    exp_id = exp_id.json()["id"]
    run_id = c.post("/api/v1/runs", json={"experiment_id": exp_id}, headers=walt).json()["id"]
    return exp_id, run_id


def test_pipeline_runs_roles_and_other_projects(auth_world: Any) -> None:
    c, pid, store = auth_world.client, auth_world.project_id, auth_world.store
    rita, walt, out = auth_world.as_("rita"), auth_world.as_("walt"), auth_world.as_("out")
    exp_id, run_id = _team_run(auth_world)
    start = {"run_id": run_id, "pipeline": "flow", "runner": "inprocess", "n_steps": 1}
    runs = f"/api/v1/projects/{pid}/pipeline-runs"
    assert c.post(runs, json=start, headers=rita).status_code == 403
    assert c.post(runs, json=start, headers=walt).status_code == 200
    assert c.post(runs, json=start, headers=walt).status_code == 409  # the id is taken
    assert c.get(f"/api/v1/pipeline-runs/{run_id}", headers=rita).status_code == 200
    assert c.get(runs, headers=rita).json()["runs"][0]["id"] == run_id
    for method, path, body in [
        ("GET", f"/api/v1/pipeline-runs/{run_id}", None),
        ("GET", f"/api/v1/pipeline-runs/{run_id}/steps", None),
        ("POST", f"/api/v1/pipeline-runs/{run_id}/steps", {"steps": []}),
        ("POST", f"/api/v1/pipeline-runs/{run_id}/finish", {"status": "FAILED"}),
        ("GET", runs, None),
    ]:
        answer = c.request(method, path, json=body, headers=out)
        assert answer.status_code == 404, (method, path, answer.text)
    finish = {"status": "FINISHED", "n_ran": 1}
    assert (
        c.post(f"/api/v1/pipeline-runs/{run_id}/finish", json=finish, headers=rita).status_code
        == 403
    )

    other = store.projects.get_or_create("other")
    their_exp = store.experiments.create(other.id, "theirs")
    their_run = store.runs.create(their_exp.id).id
    store.pipeline_runs.start(
        their_run, project_id=other.id, pipeline="p", target="", runner="", params={}, n_steps=0
    )
    assert c.get(f"/api/v1/pipeline-runs/{their_run}", headers=walt).status_code == 404
    steal = {"steps": [{"node": "x", "step": "x", "status": "ran"}]}
    assert (
        c.post(f"/api/v1/pipeline-runs/{their_run}/steps", json=steal, headers=walt).status_code
        == 404
    )
    child = {
        "id": uuid.uuid4().hex,
        "experiment_id": exp_id,
        "parent_id": run_id,
        "name": "base",
        "status": "FINISHED",
        "start_time": 1,
        "end_time": 1,
    }
    steps = f"/api/v1/pipeline-runs/{run_id}/steps"
    for bad in ({"experiment_id": their_exp.id}, {"parent_id": their_run}):
        answer = c.post(steps, json={"new_runs": [{**child, **bad}]}, headers=walt)
        assert answer.status_code == 404 and "is not in the project" in answer.json()["message"]
    theirs = {"steps": [{"node": "x", "step": "x", "status": "ran", "run_id": their_run}]}
    assert c.post(steps, json=theirs, headers=walt).status_code == 404
    assert c.post(steps, json={"new_runs": [child]}, headers=walt).status_code == 200
    assert store.runs.get(child["id"]).info.parent_id == run_id
    assert store.pipeline_runs.steps(their_run) == []


def test_step_cache_needs_receipts_and_roles(auth_world: Any) -> None:
    c, pid, store = auth_world.client, auth_world.project_id, auth_world.store
    rita, walt, out = auth_world.as_("rita"), auth_world.as_("walt"), auth_world.as_("out")
    root = auth_world.as_("root")
    up = c.put("/api/v1/blobs", content=b"walt's step output", headers=walt).json()
    manifest = {"materializer": "bytes", "blob_sha": up["sha"], "size": up["size"], "version": "v"}
    entry = {"key": "k" * 64, "step": "base", "parts": {"step": "base"}, "manifest": manifest}
    cache = f"/api/v1/projects/{pid}/step-cache"
    assert c.put(cache, json=entry, headers=walt).status_code == 403  # no receipt
    assert (
        c.put(
            cache, json={**entry, "receipts": {up["sha"]: up["receipt"]}}, headers=rita
        ).status_code
        == 403
    )
    made = c.put(cache, json={**entry, "receipts": {up["sha"]: up["receipt"]}}, headers=walt)
    assert made.status_code == 200, made.text
    found = c.get(cache, params={"key": "k" * 64}, headers=rita).json()["entry"]
    assert found["manifest"] == manifest
    # a colleague reads the cached output through the entry; another project cannot
    got = c.get(f"/api/v1/blobs/{up['sha']}", headers=rita)
    assert (got.status_code, got.content) == (200, b"walt's step output")
    assert c.get(f"/api/v1/blobs/{up['sha']}", headers=out).status_code == 404
    assert c.get(cache, params={"key": "k" * 64}, headers=out).status_code == 404
    assert c.post(f"{cache}/clear", json={}, headers=rita).status_code == 403
    assert c.post(f"{cache}/delete", json={"keys": ["x"]}, headers=out).status_code == 404

    secret = store.blobs.put_bytes(b"another project's output")
    guessed = {**manifest, "blob_sha": secret.sha}
    body = {**entry, "manifest": guessed, "receipts": {secret.sha: up["receipt"]}}
    assert c.put(cache, json=body, headers=walt).status_code == 403
    missing = {**entry, "manifest": {**manifest, "blob_sha": "e" * 64}}
    answer = c.put(cache, json=missing, headers=root)
    assert answer.status_code == 404 and "upload it first" in answer.json()["message"]
    other = store.projects.get_or_create("other")
    their_run = store.runs.create(store.experiments.create(other.id, "e").id).id
    body = {**entry, "run_id": their_run, "receipts": {up["sha"]: up["receipt"]}}
    assert c.put(cache, json=body, headers=walt).status_code == 404


def test_schedules_roles_and_other_projects(auth_world: Any) -> None:
    c, pid, store = auth_world.client, auth_world.project_id, auth_world.store
    rita, walt, out = auth_world.as_("rita"), auth_world.as_("walt"), auth_world.as_("out")
    schedules = f"/api/v1/projects/{pid}/schedules"
    body = {"name": "nightly", "target": "flow.py:train", "cron": "0 3 * * *"}
    assert c.post(schedules, json=body, headers=rita).status_code == 403
    made = c.post(schedules, json=body, headers=walt)
    assert made.status_code == 200, made.text
    sid = made.json()["id"]
    assert c.get(f"/api/v1/schedules/{sid}", headers=rita).status_code == 200
    assert c.get(f"/api/v1/schedules/{sid}", headers=out).status_code == 404
    claim = {"occurrence": "o1", "due_at": 1, "claimed_by": "me", "lease_ms": 1000}
    assert c.post(f"/api/v1/schedules/{sid}/claim", json=claim, headers=rita).status_code == 403
    fire = c.post(f"/api/v1/schedules/{sid}/claim", json=claim, headers=walt).json()["fire"]
    assert c.get(f"/api/v1/schedule-fires/{fire['id']}", headers=out).status_code == 404
    patch = {"status": "running"}
    assert (
        c.patch(f"/api/v1/schedule-fires/{fire['id']}", json=patch, headers=rita).status_code == 403
    )

    other = store.projects.get_or_create("other")
    theirs = _add(store, other.id, "theirs")
    their_fire = store.schedules.claim(theirs.id, "o1", due_at=1, claimed_by="s", lease_ms=1)
    assert their_fire is not None
    assert c.get(f"/api/v1/schedules/{theirs.id}", headers=walt).status_code == 404
    assert (
        c.post(
            f"/api/v1/schedules/{theirs.id}/claim", json={**claim, "occurrence": "o2"}, headers=walt
        ).status_code
        == 404
    )
    assert (
        c.patch(f"/api/v1/schedule-fires/{their_fire.id}", json=patch, headers=walt).status_code
        == 404
    )
    visible = c.get("/api/v1/schedules", headers=walt).json()["schedules"]
    assert [s["name"] for s in visible] == ["nightly"]
    assert [s["name"] for s in c.get("/api/v1/schedules", headers=out).json()["schedules"]] == []
    assert store.schedules.get_fire(their_fire.id).status == "claimed"
    assert c.get("/api/v1/schedules").status_code == 401


# -- the real CLI from two machines --------------------------------------------------------
def _keel(*args: str, home: Path, url: str) -> subprocess.CompletedProcess[str]:
    return keel_cli(*args, home=home, KEEL_SERVER_URL=url)


def test_pipeline_run_from_two_machines_shares_the_cache(
    keel_server: str, keel_server_store: Store, tmp_path: Path
) -> None:
    flow = tmp_path / "train.py"
    flow.write_text(FLOW)
    target = f"{flow}:train"
    ann, bob = tmp_path / "ann", tmp_path / "bob"

    first = _keel("pipeline", "run", target, home=ann, url=keel_server)
    assert first.returncode == 0, first.stderr
    assert "Every step came from the cache" not in first.stdout
    second = _keel("pipeline", "run", target, home=bob, url=keel_server)
    assert second.returncode == 0, second.stderr
    assert "Every step came from the cache" in second.stdout, second.stdout

    pid = keel_server_store.projects.get("default").id
    newest, oldest = keel_server_store.pipeline_runs.list(pid)
    assert (oldest.n_ran, oldest.n_cached, oldest.status) == (2, 0, "FINISHED")
    assert (newest.n_ran, newest.n_cached, newest.status) == (0, 2, "FINISHED")
    steps = keel_server_store.pipeline_runs.steps(newest.id)
    assert [(s.node, s.status) for s in steps] == [
        ("base", StepStatus.CACHED),
        ("scaled", StepStatus.CACHED),
    ]
    for step in steps:  # the runs of cached steps are on the server, under the pipeline run
        assert step.run_id is not None
        assert keel_server_store.runs.get(step.run_id).info.parent_id == newest.id
    assert [s for s, _n, _b in keel_server_store.step_cache.stats(pid)] == ["base", "scaled"]
    assert not (ann / "keel.db").exists() and not (bob / "keel.db").exists()
    assert not (ann / "artifacts").exists() and not (bob / "artifacts").exists()

    listed = _keel("pipeline", "runs", "--json", home=ann, url=keel_server)
    assert listed.returncode == 0, listed.stderr
    assert [r["n_cached"] for r in json.loads(listed.stdout)] == [2, 0]
    shown = _keel("pipeline", "inspect", newest.id[:8], home=ann, url=keel_server)
    assert shown.returncode == 0 and "2 cached, 0 ran" in shown.stdout, shown.stdout + shown.stderr

    # A third machine runs its steps in worker processes: they read inputs and write outputs
    # through the server's blob API with the caller's token, so the team shares one cache.
    carol = tmp_path / "carol"
    third = _keel(
        "pipeline", "run", target, "--runner", "processes", "-p", "lr=2.0", home=carol,
        url=keel_server,
    )  # fmt: skip
    assert third.returncode == 0, third.stdout + third.stderr
    newest = keel_server_store.pipeline_runs.list(pid)[0]
    assert (newest.n_ran, newest.n_cached, newest.status) == (1, 1, "FINISHED")
    assert {s.node: s.status for s in keel_server_store.pipeline_runs.steps(newest.id)} == {
        "base": StepStatus.CACHED,  # its output came from the server to a worker process
        "scaled": StepStatus.RAN,
    }
    assert not (carol / "keel.db").exists() and not (carol / "artifacts").exists()
    fourth = _keel("pipeline", "run", target, "-p", "lr=2.0", home=ann, url=keel_server)
    assert fourth.returncode == 0, fourth.stderr
    assert "Every step came from the cache" in fourth.stdout, fourth.stdout  # carol's output


def test_a_dask_cluster_runs_a_team_pipeline_through_the_server(
    keel_server: str, keel_server_store: Store, tmp_path: Path
) -> None:
    """``keel pipeline run --runner dask --address ...`` against a keel server: the workers
    (other processes) take inputs from and put outputs in the server's blob store."""
    distributed = pytest.importorskip("distributed")
    flow = tmp_path / "train.py"
    flow.write_text(FLOW)
    target = f"{flow}:train"
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        ran = _keel(
            "pipeline", "run", target, "--runner", "dask", "--address", cluster.scheduler_address,
            "-p", "n=5", home=tmp_path / "dave", url=keel_server,
        )  # fmt: skip
    finally:
        cluster.close()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    pid = keel_server_store.projects.get("default").id
    newest = keel_server_store.pipeline_runs.list(pid)[0]
    assert (newest.runner, newest.n_ran, newest.status) == ("dask", 2, "FINISHED")
    again = _keel("pipeline", "run", target, "-p", "n=5", home=tmp_path / "erin", url=keel_server)
    assert again.returncode == 0, again.stderr
    assert "Every step came from the cache" in again.stdout, again.stdout  # the workers' outputs
