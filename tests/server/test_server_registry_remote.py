"""The model registry against SQLite, PostgreSQL and the remote backend; its routes' roles;
and ``keel models`` in remote mode against a real server process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from server_helpers import keel_cli  # type: ignore[import-not-found]
from sklearn.linear_model import LogisticRegression

from keel.config import Settings
from keel.exceptions import (
    AlreadyExistsError,
    ConflictError,
    FilterSyntaxError,
    InvalidArgumentError,
    NotFoundError,
    UntrustedModelError,
)
from keel.models import Registry, UntrustedModelWarning, save
from keel.store import NewVersion, Store, open_store
from keel.store.deployments import DeploymentTarget


def _new(store: Store, content: bytes, **kw: Any) -> NewVersion:
    blob = store.blobs.put_bytes(content)
    return NewVersion(blob.sha, blob.size, blob.sha, "sklearn", "sklearn", "classification", **kw)


def _server_side(store: Store, request: pytest.FixtureRequest) -> Store:
    """The store behind the server (deployments are not served over HTTP yet)."""
    remote = store.db.dialect == "remote"
    return request.getfixturevalue("server_store") if remote else store


def test_models_and_versions(store: Store) -> None:
    reg = store.registry
    pid = store.projects.get_or_create("default").id
    made = reg.create_model(pid, "churn", description="who leaves", tags={"team": "risk"})
    assert (made.name, made.description, made.tags, made.latest_version) == (
        "churn",
        "who leaves",
        {"team": "risk"},
        None,
    )
    with pytest.raises(AlreadyExistsError, match="'churn' exists already"):
        reg.create_model(pid, "churn")
    with pytest.raises(InvalidArgumentError, match="must start with a letter or digit"):
        reg.create_model(pid, "../evil")
    assert reg.get_or_create_model(pid, "churn").id == made.id
    assert reg.get_or_create_model(pid, "fresh").latest_version is None

    v1 = reg.create_version(
        pid,
        "churn",
        _new(
            store,
            b"package one",
            semver="1.0.0",
            description="first",
            frameworks={"sklearn": "1.5"},
            signature={"inputs": [{"name": "x", "type": "double"}]},
            lineage={"git": {"commit": "abc"}},
            card={"intended_use": "demo"},
            metrics={"auc": 0.9},
            tags={"stage": "dev"},
            datasets=[("customers", 1)],
        ),
    )
    assert (v1.ref, v1.semver, v1.metrics, v1.tags, v1.datasets) == (
        "churn@1",
        "1.0.0",
        {"auc": 0.9},
        {"stage": "dev"},
        ["customers@1"],
    )
    assert (v1.frameworks, v1.lineage, v1.card) == (
        {"sklearn": "1.5"},
        {"git": {"commit": "abc"}},
        {"intended_use": "demo"},
    )
    with pytest.raises(AlreadyExistsError, match=r"already has a version '1\.0\.0'"):
        reg.create_version(pid, "churn", _new(store, b"package dup", semver="1.0.0"))
    with pytest.raises(InvalidArgumentError, match=r"is not MAJOR\.MINOR\.PATCH"):
        reg.create_version(pid, "churn", _new(store, b"package bad", semver="one"))
    v2 = reg.create_version(pid, "churn", _new(store, b"package two", metrics={"auc": 0.95}))
    assert v2.version == 2 and v2.blob_sha != v1.blob_sha

    assert reg.get_version(pid, "churn", 1) == v1
    assert reg.get_version_by_id(v2.id) == v2
    assert reg.latest_version(pid, "churn") == v2
    assert [v.ref for v in reg.versions(pid, "churn")] == ["churn@1", "churn@2"]
    assert [(m.name, m.latest_version) for m in reg.list_models(pid)] == [
        ("churn", 2),
        ("fresh", None),
    ]
    with pytest.raises(NotFoundError, match="has no version 9; it has versions 1-2"):
        reg.get_version(pid, "churn", 9)
    with pytest.raises(NotFoundError, match="'fresh' has no versions yet"):
        reg.latest_version(pid, "fresh")
    with pytest.raises(NotFoundError, match="does not exist"):
        reg.get_version_by_id(v2.id + 1000)
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        reg.versions(pid, "nope")

    found = reg.search_versions(pid, "metrics.auc > 0.92")
    assert [v.ref for v in found] == ["churn@2"]
    assert [v.ref for v in reg.search_versions(pid, None, max_results=1)] == ["churn@2"]
    with pytest.raises(FilterSyntaxError):
        reg.search_versions(pid, "metrics.auc >>> 1")
    with pytest.raises(InvalidArgumentError, match="max_results must be between"):
        reg.search_versions(pid, max_results=0)

    changed = reg.update_version(v1.id, description="the first", card={"owner": "risk"})
    assert (changed.description, changed.card) == ("the first", {"owner": "risk"})
    assert reg.update_model(pid, "churn", description="new words").description == "new words"
    reg.delete_version(v2.id)
    with pytest.raises(NotFoundError):
        reg.get_version_by_id(v2.id)
    with pytest.raises(NotFoundError):
        reg.delete_version(v2.id)
    assert reg.latest_version(pid, "churn").version == 1


def test_aliases_and_tags(store: Store) -> None:
    reg = store.registry
    pid = store.projects.get_or_create("default").id
    v1 = reg.create_version(pid, "churn", _new(store, b"churn one"))
    other = reg.create_version(pid, "fraud", _new(store, b"fraud one"))

    promoted = reg.set_alias(pid, "churn", "champion", v1.id)
    assert promoted.aliases == ["champion"]
    assert reg.get_by_alias(pid, "churn", "champion") == promoted
    assert reg.get_model(pid, "churn").aliases == {"champion": 1}
    with pytest.raises(ConflictError, match="is a version of 'fraud'"):
        reg.set_alias(pid, "churn", "champion", other.id)
    with pytest.raises(InvalidArgumentError, match="alias 'latest' is not valid"):
        reg.set_alias(pid, "churn", "latest", v1.id)
    reg.delete_alias(pid, "churn", "champion")
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        reg.get_by_alias(pid, "churn", "champion")
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        reg.delete_alias(pid, "churn", "champion")

    reg.set_model_tags(pid, "churn", {"team": "risk", "tier": "1"})
    reg.delete_model_tag(pid, "churn", "tier")
    assert reg.get_model(pid, "churn").tags == {"team": "risk"}
    with pytest.raises(NotFoundError, match="has no tag 'tier'"):
        reg.delete_model_tag(pid, "churn", "tier")
    reg.set_version_tags(v1.id, {"reviewed": "yes", "gone": "soon"})
    reg.delete_version_tag(v1.id, "gone")
    assert reg.get_version_by_id(v1.id).tags == {"reviewed": "yes"}
    with pytest.raises(NotFoundError, match="has no tag 'gone'"):
        reg.delete_version_tag(v1.id, "gone")


def test_rename_and_delete_refused_while_deployed(
    store: Store, request: pytest.FixtureRequest
) -> None:
    reg = store.registry
    pid = store.projects.get_or_create("default").id
    reg.create_model(pid, "fraud", tags={"keep": "yes"})
    vid = reg.create_version(pid, "fraud", _new(store, b"fraud package")).id
    reg.set_alias(pid, "fraud", "champion", vid)
    reg.create_model(pid, "taken")
    with pytest.raises(AlreadyExistsError, match="'taken' exists already"):
        reg.rename_model(pid, "fraud", "taken")
    with pytest.raises(NotFoundError):
        reg.rename_model(pid, "nope", "other")

    deployments = _server_side(store, request).deployments
    deployments.apply(
        pid, "live", {"models": ["fraud"]}, [DeploymentTarget("p", "fraud@1", "fraud", 1.0)]
    )
    with pytest.raises(ConflictError, match="served by deployment 'live'"):
        reg.delete_model(pid, "fraud")
    with pytest.raises(ConflictError, match="served by deployment 'live'"):
        reg.rename_model(pid, "fraud", "fraud-2")
    assert reg.get_version_by_id(vid).name == "fraud"
    deployments.delete(pid, "live")

    renamed = reg.rename_model(pid, "fraud", "fraud-2")
    assert (renamed.name, renamed.tags, renamed.aliases) == (
        "fraud-2",
        {"keep": "yes"},
        {"champion": 1},
    )
    reg.delete_model(pid, "fraud-2")
    with pytest.raises(NotFoundError):
        reg.get_model(pid, "fraud-2")
    with pytest.raises(NotFoundError):
        reg.get_version_by_id(vid)
    with pytest.raises(NotFoundError):
        reg.delete_model(pid, "fraud-2")


# -- authorization -------------------------------------------------------------------------
def test_registry_roles_and_other_projects(auth_world: Any) -> None:
    c, pid, store = auth_world.client, auth_world.project_id, auth_world.store
    models = f"/api/v1/projects/{pid}/models"
    rita, walt, out = auth_world.as_("rita"), auth_world.as_("walt"), auth_world.as_("out")
    assert c.post(models, json={"name": "churn"}, headers=rita).status_code == 403
    assert c.post(models, json={"name": "churn"}, headers=walt).status_code == 200
    assert c.get(f"{models}/lookup", params={"name": "churn"}, headers=rita).status_code == 200
    hidden = c.get(f"{models}/lookup", params={"name": "churn"}, headers=out)
    assert hidden.status_code == 404 and hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    up = c.put("/api/v1/blobs", content=b"walt's package", headers=walt).json()
    body = {
        "name": "churn",
        "blob_sha": up["sha"],
        "size": up["size"],
        "manifest_sha": up["sha"],
        "flavor": "sklearn",
        "serve_flavor": "sklearn",
        "task": "classification",
    }
    assert c.post(f"{models}/versions", json=body, headers=walt).status_code == 403  # no receipt
    made = c.post(f"{models}/versions", json={**body, "receipt": up["receipt"]}, headers=walt)
    assert made.status_code == 200, made.text
    vid = made.json()["id"]
    assert c.get(f"/api/v1/blobs/{up['sha']}", headers=rita).content == b"walt's package"
    assert c.get(f"/api/v1/model-versions/{vid}", headers=rita).status_code == 200
    alias = {"name": "churn", "alias": "champion", "version_id": vid}
    assert c.put(f"{models}/alias", json=alias, headers=rita).status_code == 403
    assert (
        c.post(
            f"/api/v1/model-versions/{vid}/tags", json={"tags": {"a": "b"}}, headers=rita
        ).status_code
        == 403
    )
    for method, path in [
        ("GET", f"/api/v1/model-versions/{vid}"),
        ("PATCH", f"/api/v1/model-versions/{vid}"),
        ("DELETE", f"/api/v1/model-versions/{vid}"),
    ]:
        answer = c.request(method, path, json={} if method == "PATCH" else None, headers=out)
        assert answer.status_code == 404, (method, path)
    assert c.get(f"/api/v1/blobs/{up['sha']}", headers=out).status_code == 404

    other = store.projects.get_or_create("other")
    secret = store.blobs.put_bytes(b"other project's package")
    new = NewVersion(secret.sha, secret.size, secret.sha, "sklearn", "sklearn", "classification")
    theirs = store.registry.create_version(other.id, "secret-model", new).id
    assert c.get(f"/api/v1/model-versions/{theirs}", headers=walt).status_code == 404
    steal = {"name": "churn", "alias": "champion", "version_id": theirs}
    assert c.put(f"{models}/alias", json=steal, headers=walt).status_code == 404
    guessed = {**body, "blob_sha": secret.sha, "manifest_sha": secret.sha, "receipt": up["receipt"]}
    assert c.post(f"{models}/versions", json=guessed, headers=walt).status_code == 403
    assert c.get(f"/api/v1/projects/{other.id}/models", headers=walt).status_code == 404
    assert store.registry.get_version_by_id(theirs).aliases == []


# -- the real CLI in remote mode -----------------------------------------------------------
def _keel(*args: str, home: Path, url: str) -> subprocess.CompletedProcess[str]:
    return keel_cli(*args, home=home, KEEL_SERVER_URL=url)


def test_models_cli_against_a_server(keel_server: str, tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    save(model, tmp_path / "package", input_example=X.head(2))
    remote = open_store(Settings.for_home(tmp_path / "sdk", server_url=keel_server))
    try:
        version = Registry(remote).register(tmp_path / "package", "churn", tags={"team": "risk"})
    finally:
        remote.close()
    assert version.ref == "churn@1"

    client_home = tmp_path / "cli"
    listed = _keel("models", "list", "--json", home=client_home, url=keel_server)
    assert listed.returncode == 0, listed.stderr
    models = json.loads(listed.stdout)
    assert [(m["name"], m["latest_version"], m["aliases"]) for m in models] == [("churn", 1, {})]
    promoted = _keel("models", "promote", "churn@1", "champion", home=client_home, url=keel_server)
    assert promoted.returncode == 0, promoted.stderr
    assert "champion" in promoted.stdout and "version 1" in promoted.stdout
    shown = _keel("models", "list", "--json", home=client_home, url=keel_server)
    assert json.loads(shown.stdout)[0]["aliases"] == {"champion": 1}
    missing = _keel("models", "promote", "churn@7", "champion", home=client_home, url=keel_server)
    assert missing.returncode != 0
    assert "has no version 7" in missing.stdout + missing.stderr
    assert not (client_home / "keel.db").exists()  # nothing written locally

    loaded = Registry(open_store(Settings.for_home(tmp_path / "sdk2", server_url=keel_server)))
    try:
        # strict by default: an unsigned package is refused; a colleague may accept the risk
        with pytest.raises(UntrustedModelError, match="is not signed"):
            loaded.load("churn@champion")
        with pytest.warns(UntrustedModelWarning, match="is not signed"):
            served = loaded.load("churn@champion", trust="warn")  # the blob, over HTTP
        np.testing.assert_array_equal(served.predict(X), model.predict(X))
    finally:
        loaded.store.close()
