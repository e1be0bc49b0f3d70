"""Users, tokens and project roles; every route has an authorization decision."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from fastapi import FastAPI

from keel.server._auth import ACCESS_ATTR, project_scope
from keel.store import Store
from keel.store.users import check_password

PUBLIC_FRAMEWORK_ROUTES = {"/api/v1/openapi.json", "/api/v1/docs", "/docs/oauth2-redirect"}


def _routes(app: FastAPI) -> list[Any]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: routes are flat already
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def _access(dependant: Any) -> list[str]:
    found = []
    for dep in dependant.dependencies:
        kind = getattr(dep.call, ACCESS_ATTR, None)
        if kind is not None:
            found.append(kind)
        found.extend(_access(dep))
    return found


def test_every_route_declares_exactly_one_access_decision(app: FastAPI) -> None:
    checked = 0
    for route in _routes(app):
        if route.path in PUBLIC_FRAMEWORK_ROUTES:
            continue
        decisions = _access(route.dependant)
        assert len(decisions) == 1, f"{route.methods} {route.path}: {decisions or 'no decision'}"
        checked += 1
    assert checked > 60  # the v1 API, the MLflow API twice (root and per project), blobs


def test_every_route_naming_a_project_declares_the_project_scope(app: FastAPI) -> None:
    """A route taking ``project_id`` (path or query) is checked by the router's
    ``project_scope`` dependency, not by a line each handler must remember."""
    scoped = 0
    for route in _routes(app):
        dependant = getattr(route, "dependant", None)
        params = [] if dependant is None else dependant.path_params + dependant.query_params
        if "project_id" not in {p.name for p in params}:
            continue
        calls = [dep.call for dep in dependant.dependencies]
        assert project_scope in calls, f"{route.methods} {route.path} has no project scope"
        scoped += 1
    assert scoped > 60


def test_project_scope_refuses_outsiders_and_low_roles_on_every_scoped_route(
    auth_world: Any,
) -> None:
    c, pid = auth_world.client, auth_world.project_id
    for route in _routes(c.app):
        if "{project_id}" not in route.path:
            continue
        path = re.sub(r"\{[^}:]+(:path)?\}", "1", route.path).replace(
            "/projects/1/", f"/projects/{pid}/"
        )
        method = sorted(route.methods - {"HEAD"})[0]
        body = {} if method in ("POST", "PATCH", "PUT") else None
        outsider = c.request(method, path, json=body, headers=auth_world.as_("out"))
        assert outsider.status_code == 404, f"{method} {path} -> {outsider.status_code}"
        if _access(route.dependant) != ["project:reader"]:
            reader = c.request(method, path, json=body, headers=auth_world.as_("rita"))
            assert reader.status_code == 403, f"{method} {path} -> {reader.status_code}"


def test_every_non_public_route_refuses_anonymous_callers(auth_world: Any) -> None:
    app = auth_world.client.app
    for route in _routes(app):
        if route.path in PUBLIC_FRAMEWORK_ROUTES:
            continue
        kind = _access(route.dependant)[0]
        path = re.sub(r"\{[^}:]+(:path)?\}", "1", route.path)
        for method in sorted(route.methods - {"HEAD"}) or ["HEAD"]:
            resp = auth_world.client.request(
                method, path, json={} if method in ("POST", "PATCH") else None
            )
            if kind == "public":  # may refuse a bad request, never for lack of credentials
                assert resp.status_code not in (401, 403), f"{method} {path}"
                assert resp.status_code < 500, f"{method} {path}"
            else:
                assert resp.status_code == 401, f"{method} {path} -> {resp.status_code}"
                if method != "HEAD":
                    assert resp.json()["error_code"] == "UNAUTHENTICATED"
                    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_roles_decide_read_write_and_visibility(auth_world: Any) -> None:
    c, pid = auth_world.client, auth_world.project_id
    body = {"project_id": pid, "name": "exp"}
    assert (
        c.post("/api/v1/experiments", json=body, headers=auth_world.as_("rita")).status_code == 403
    )
    created = c.post("/api/v1/experiments", json=body, headers=auth_world.as_("walt"))
    assert created.status_code == 200
    exp_id = created.json()["id"]
    assert c.get(f"/api/v1/experiments/{exp_id}", headers=auth_world.as_("rita")).status_code == 200
    hidden = c.get(f"/api/v1/experiments/{exp_id}", headers=auth_world.as_("out"))
    assert hidden.status_code == 404  # another project's object does not exist for you
    assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    run = c.post(
        "/api/v1/runs", json={"experiment_id": exp_id}, headers=auth_world.as_("walt")
    ).json()
    assert run["user"] == "walt"
    batch = {"metrics": [{"key": "m", "value": 1.0}]}
    assert (
        c.post(
            f"/api/v1/runs/{run['id']}/batch", json=batch, headers=auth_world.as_("rita")
        ).status_code
        == 403
    )
    assert (
        c.post(
            f"/api/v1/runs/{run['id']}/batch", json=batch, headers=auth_world.as_("out")
        ).status_code
        == 404
    )
    assert c.get("/api/v1/projects", headers=auth_world.as_("out")).json()["projects"] == []
    names = [
        p["name"]
        for p in c.get("/api/v1/projects", headers=auth_world.as_("rita")).json()["projects"]
    ]
    assert names == ["team"]


def test_only_project_admins_grant_roles(auth_world: Any) -> None:
    c, pid = auth_world.client, auth_world.project_id
    url = f"/api/v1/projects/{pid}/members/out"
    assert c.put(url, json={"role": "reader"}, headers=auth_world.as_("walt")).status_code == 403
    assert c.put(url, json={"role": "reader"}, headers=auth_world.as_("ada")).status_code == 200
    assert c.get(f"/api/v1/projects/{pid}", headers=auth_world.as_("out")).status_code == 200
    assert c.put(url, json={"role": "owner"}, headers=auth_world.as_("ada")).status_code == 400
    members = c.get(f"/api/v1/projects/{pid}/members", headers=auth_world.as_("rita")).json()
    assert {m["user"]: m["role"] for m in members["members"]}["out"] == "reader"


def test_tokens_are_shown_once_hashed_and_revocable(auth_world: Any) -> None:
    c = auth_world.client
    made = c.post(
        "/api/v1/users/me/tokens", json={"name": "ci"}, headers=auth_world.as_("walt")
    ).json()
    secret = made["secret"]
    assert secret.startswith("keel_") and "secret" not in made["token"]
    listed = c.get("/api/v1/users/me/tokens", headers=auth_world.as_("walt")).json()["tokens"]
    assert all(secret not in str(t) for t in listed)
    with auth_world.store.db.read() as conn:
        from sqlalchemy import text

        stored = [r[0] for r in conn.execute(text("SELECT digest FROM api_tokens"))]
    assert secret not in stored and all(len(d) == 64 for d in stored)
    headers = {"Authorization": f"Bearer {secret}"}
    assert c.get("/api/v1/users/me", headers=headers).json()["user"]["name"] == "walt"
    other = c.delete(
        f"/api/v1/users/me/tokens/{made['token']['id']}", headers=auth_world.as_("rita")
    )
    assert other.status_code == 404
    c.delete(f"/api/v1/users/me/tokens/{made['token']['id']}", headers=auth_world.as_("walt"))
    assert c.get("/api/v1/users/me", headers=headers).status_code == 401


def test_basic_auth_with_password_or_token(auth_world: Any) -> None:
    store, c = auth_world.store, auth_world.client
    store.users.create_user("pat", password="a long enough password")

    def basic(user: str, secret: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}

    assert (
        c.get("/api/v1/users/me", headers=basic("pat", "a long enough password")).status_code == 200
    )
    assert c.get("/api/v1/users/me", headers=basic("pat", "wrong password!!")).status_code == 401
    assert (
        c.get("/api/v1/users/me", headers=basic("walt", auth_world.tokens["walt"])).status_code
        == 200
    )
    assert (
        c.get("/api/v1/users/me", headers=basic("rita", auth_world.tokens["walt"])).status_code
        == 401
    )
    assert c.get("/api/v1/users/me", headers={"Authorization": "Basic !!!"}).status_code == 401
    stored = store.users._db  # the hash, never the password
    with stored.read() as conn:
        from sqlalchemy import text

        (hashed,) = conn.execute(text("SELECT password_hash FROM users WHERE name='pat'")).one()
    assert "a long enough password" not in hashed and check_password(
        "a long enough password", hashed
    )


def test_user_admin_is_for_site_admins(auth_world: Any) -> None:
    c = auth_world.client
    assert (
        c.post("/api/v1/users", json={"name": "new"}, headers=auth_world.as_("ada")).status_code
        == 403
    )
    assert (
        c.post("/api/v1/users", json={"name": "new"}, headers=auth_world.as_("root")).status_code
        == 200
    )
    made = c.post(
        "/api/v1/users/new/tokens", json={"name": "x"}, headers=auth_world.as_("root")
    ).json()
    assert (
        c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {made['secret']}"}).status_code
        == 200
    )
    c.patch("/api/v1/users/new", json={"is_active": False}, headers=auth_world.as_("root"))
    assert (
        c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {made['secret']}"}).status_code
        == 401
    )


def test_no_default_password_and_short_passwords_refused(server_store: Store) -> None:
    assert server_store.users.list_users() == []  # nothing shipped
    with pytest.raises(Exception, match="at least 12"):
        server_store.users.create_user("x", password="short")


def test_mlflow_client_token_and_role_rules(auth_world: Any) -> None:
    c = auth_world.client
    base = "/projects/team/api/2.0/mlflow"
    made = c.post(f"{base}/experiments/create", json={"name": "m"}, headers=auth_world.as_("walt"))
    assert made.status_code == 200
    exp_id = made.json()["experiment_id"]
    denied = c.post(
        f"{base}/runs/create", json={"experiment_id": exp_id}, headers=auth_world.as_("rita")
    )
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    hidden = c.get(
        f"{base}/experiments/get", params={"experiment_id": exp_id}, headers=auth_world.as_("out")
    )
    assert hidden.status_code == 404
    anon = c.get(f"{base}/experiments/get", params={"experiment_id": exp_id})
    assert anon.status_code == 401


def test_blob_upload_receipts_stop_hash_guessing(auth_world: Any) -> None:
    """Knowing a blob's hash is not enough to attach it to your run and read it."""
    c, store = auth_world.client, auth_world.store
    secret_ref = store.blobs.put_bytes(b"another project's secret")
    other = store.projects.get_or_create("other")
    exp = store.experiments.create(other.id, "e")
    store.artifacts.add(store.runs.create(exp.id).id, [("s.txt", secret_ref)])
    exp_id = c.post(
        "/api/v1/experiments",
        json={"project_id": auth_world.project_id, "name": "x"},
        headers=auth_world.as_("walt"),
    ).json()["id"]
    run_id = c.post(
        "/api/v1/runs", json={"experiment_id": exp_id}, headers=auth_world.as_("walt")
    ).json()["id"]
    steal = c.post(
        f"/api/v1/runs/{run_id}/artifacts",
        json={"items": [{"path": "s.txt", "sha": secret_ref.sha}]},
        headers=auth_world.as_("walt"),
    )
    assert steal.status_code == 403
    assert (
        c.get(f"/api/v1/blobs/{secret_ref.sha}", headers=auth_world.as_("walt")).status_code == 404
    )
    up = c.put("/api/v1/blobs", content=b"mine", headers=auth_world.as_("walt")).json()
    ok = c.post(
        f"/api/v1/runs/{run_id}/artifacts",
        json={
            "items": [{"path": "m.txt", "sha": up["sha"]}],
            "receipts": {up["sha"]: up["receipt"]},
        },
        headers=auth_world.as_("walt"),
    )
    assert ok.status_code == 200
    assert c.get(f"/api/v1/blobs/{up['sha']}", headers=auth_world.as_("rita")).content == b"mine"
    forged = c.post(
        f"/api/v1/runs/{run_id}/artifacts",
        json={
            "items": [{"path": "s.txt", "sha": secret_ref.sha}],
            "receipts": {secret_ref.sha: up["receipt"]},
        },
        headers=auth_world.as_("walt"),
    )
    assert forged.status_code == 403
    assert c.put("/api/v1/blobs", content=b"x", headers=auth_world.as_("rita")).status_code == 403


def test_dataset_version_files_need_upload_receipts(auth_world: Any) -> None:
    """A dataset version may name only blobs its writer uploaded (quoted in ``receipts``)."""
    c, store, walt = auth_world.client, auth_world.store, auth_world.as_("walt")
    secret = store.blobs.put_bytes(b"another project's table")
    body = {"project_id": auth_world.project_id, "name": "d"}
    dataset_id = c.post("/api/v1/datasets", json=body, headers=walt).json()["id"]
    up = c.put("/api/v1/blobs", content=b"a,b\n1,2\n", headers=walt).json()
    versions = f"/api/v1/datasets/{dataset_id}/versions"

    def add(sha: str, receipts: dict[str, str]) -> Any:
        files = [{"path": "t.csv", "blob_sha": sha, "size": 0}]
        version = {"content_hash": sha, "kind": "files", "files": files, "receipts": receipts}
        return c.post(versions, json=version, headers=walt)

    assert add(secret.sha, {}).status_code == 403  # knowing the hash is not enough
    assert add(secret.sha, {secret.sha: up["receipt"]}).status_code == 403  # forged
    assert add(up["sha"], {}).status_code == 403  # no receipt
    made = add(up["sha"], {up["sha"]: up["receipt"]})
    assert made.status_code == 200, made.text
    version_id = made.json()["version"]["id"]
    files = c.get(f"/api/v1/dataset-versions/{version_id}/files", headers=walt).json()["files"]
    assert files == [{"path": "t.csv", "blob_sha": up["sha"], "size": 8}]  # the blob's size


def test_auth_off_server_is_single_user_admin(client: Any) -> None:
    me = client.get("/api/v1/users/me").json()
    assert me == {"user": None, "is_admin": True, "auth": False}
    assert client.post("/api/v1/users/me/tokens", json={"name": "x"}).status_code == 404


def test_comments_logged_models_and_user_lookups_follow_roles(auth_world: Any) -> None:
    """Readers comment, only the author or a project admin deletes; another project's
    logged model does not exist for you; account lookups are for site admins."""
    c, pid, as_ = auth_world.client, auth_world.project_id, auth_world.as_
    url = f"/api/v1/projects/{pid}/comments"
    body = {"subject_kind": "run", "subject_id": "r1", "body": "lgtm", "author": "forged"}
    made = c.post(url, json=body, headers=as_("rita"))
    assert made.status_code == 200 and made.json()["author"] == "rita"
    cid = made.json()["id"]
    assert c.post(url, json=body, headers=as_("out")).status_code == 404
    assert c.delete(f"{url}/{cid}", headers=as_("walt")).status_code == 403
    assert c.delete(f"{url}/{cid}", headers=as_("ada")).status_code == 200
    exp = auth_world.store.experiments.create(pid, "lm")
    model = {"experiment_id": exp.id, "name": "clf"}
    assert c.post("/api/v1/logged-models", json=model, headers=as_("rita")).status_code == 403
    made = c.post("/api/v1/logged-models", json=model, headers=as_("walt"))
    assert made.status_code == 200
    mid = made.json()["id"]
    assert c.get(f"/api/v1/logged-models/{mid}", headers=as_("rita")).status_code == 200
    hidden = c.get(f"/api/v1/logged-models/{mid}", headers=as_("out"))
    assert hidden.status_code == 404 and mid in hidden.json()["message"]
    assert c.get("/api/v1/users/walt", headers=as_("walt")).status_code == 403
    assert (
        c.get("/api/v1/users/walt/tokens", headers=as_("root")).json()["tokens"][0]["name"] == "t"
    )
    walt = c.get("/api/v1/users/walt", headers=as_("root")).json()
    assert c.get(f"/api/v1/users/by-id/{walt['id']}", headers=as_("out")).json()["name"] == "walt"
    assert c.delete("/api/v1/users/tokens/1", headers=as_("ada")).status_code == 403


def test_remote_store_quotes_the_receipts_of_the_blobs_it_records(auth_world: Any) -> None:
    """The HTTP repositories send their upload receipts with every call that records blobs
    (a dataset version, a reference profile, a step-cache entry, run artifacts, a logged
    model's files, a model version); a blob this client did not upload is refused."""
    from functools import partial

    from server_helpers import AUTH_OPTIONS, running  # type: ignore[import-not-found]

    from keel.exceptions import PermissionDeniedError
    from keel.server import create_app
    from keel.store import DatasetFile, NewVersion
    from keel.store.remote import RemoteBlobStore, _repositories
    from keel.store.remote._http import Http

    store, pid = auth_world.store, auth_world.project_id
    secret = store.blobs.put_bytes(b"another project's bytes")
    app = create_app(store.settings, AUTH_OPTIONS, store=store)
    with running(app) as url:
        http = Http(url, auth_world.tokens["walt"])
        repos: Any = _repositories(http)
        mine = RemoteBlobStore(http).put_bytes(b"walt's bytes")
        dataset = repos["datasets"].get_or_create(pid, "d", "")
        exp_id = repos["experiments"].create(pid, "receipts").id
        run_id = repos["runs"].create(exp_id).id
        model_id = repos["logged_models"].create(exp_id, "m").id
        version: dict[str, Any] = {"kind": "files", "source": {}, "schema": [], "profile": {}}
        version |= {"num_rows": None}
        for ref, allowed in [(secret, False), (mine, True)]:
            files = [DatasetFile("t.bin", ref.sha, ref.size)]
            entry = {"key": ref.sha, "step": "s", "parts": {}, "size_bytes": ref.size}
            calls = [
                partial(repos["datasets"].add_version, dataset, content_hash=ref.sha, files=files),
                partial(repos["monitors"].put_reference, pid, "model:m/1", blob_sha=ref.sha),
                partial(repos["step_cache"].put, pid, manifest={"blob_sha": ref.sha}, **entry),
                partial(repos["artifacts"].add, run_id),
                partial(repos["logged_models"].add_files, model_id),
                partial(repos["registry"].create_version, pid, "churn"),
            ]
            package = NewVersion(ref.sha, ref.size, ref.sha, "sklearn", "sklearn", "binary")
            args = [version, {"num_rows": 1, "num_columns": 1}, {"run_id": None}]
            args += [{"items": [("a.bin", ref)]}, {"items": [("f.bin", ref)]}, {"new": package}]
            for call, kwargs in zip(calls, args, strict=True):
                if allowed:
                    call(**kwargs)
                else:
                    with pytest.raises(PermissionDeniedError, match="not uploaded by you"):
                        call(**kwargs)
        http.close()
    assert store.datasets.files(store.datasets.get_version(pid, "d").id) == [
        DatasetFile("t.bin", mine.sha, mine.size)
    ]
    assert store.monitors.get_reference(pid, "model:m/1").blob_sha == mine.sha
    assert store.step_cache.get(pid, mine.sha)
    assert [a.blob_sha for a in store.artifacts.list(run_id)] == [mine.sha]
    assert [f.blob_sha for f in store.logged_models.list_files(model_id)] == [mine.sha]
    assert [v.blob_sha for v in store.registry.versions(pid, "churn")] == [mine.sha]
