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
    UntrustedModelError,
)
from keel.models import Registry, UntrustedModelWarning, save
from keel.store import NewVersion, Store, open_store


def _server_side(store: Store, request: pytest.FixtureRequest) -> Store:
    """The store behind the server (deployments are not served over HTTP yet)."""
    remote = store.db.dialect == "remote"
    return request.getfixturevalue("server_store") if remote else store


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
    receipts = {up["sha"]: up["receipt"]}
    made = c.post(f"{models}/versions", json={**body, "receipts": receipts}, headers=walt)
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
    guessed = {**body, "blob_sha": secret.sha, "manifest_sha": secret.sha}
    forged = {**guessed, "receipts": {secret.sha: up["receipt"]}}
    assert c.post(f"{models}/versions", json=forged, headers=walt).status_code == 403
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
