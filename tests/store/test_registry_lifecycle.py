"""Renaming and deleting registered models, on every metadata backend."""

from __future__ import annotations

import pytest

from keel.exceptions import AlreadyExistsError, ConflictError, NotFoundError
from keel.store import Store
from keel.store.deployments import DeploymentTarget
from keel.store.registry import NewVersion


def _version(store: Store, pid: int, name: str) -> int:
    blob = store.blobs.put_bytes(f"package of {name}".encode())
    new = NewVersion(blob.sha, blob.size, blob.sha, "sklearn", "sklearn", "classification")
    return store.registry.create_version(pid, name, new).id


def test_rename_keeps_versions_tags_and_aliases(store: Store) -> None:
    pid = store.projects.get_or_create("default").id
    store.registry.create_model(pid, "churn", tags={"team": "risk", "keep": "yes"})
    vid = _version(store, pid, "churn")
    store.registry.set_alias(pid, "churn", "champion", vid)
    store.registry.create_model(pid, "taken")

    with pytest.raises(AlreadyExistsError, match="'taken' exists already"):
        store.registry.rename_model(pid, "churn", "taken")
    with pytest.raises(Exception, match="must start with a letter or digit"):
        store.registry.rename_model(pid, "churn", "../evil")
    with pytest.raises(NotFoundError):
        store.registry.rename_model(pid, "nope", "other")

    model = store.registry.rename_model(pid, "churn", "churn-v2")
    assert (model.name, model.tags, model.aliases) == (
        "churn-v2",
        {"team": "risk", "keep": "yes"},
        {"champion": 1},
    )
    assert store.registry.get_by_alias(pid, "churn-v2", "champion").id == vid
    with pytest.raises(NotFoundError):
        store.registry.get_model(pid, "churn")

    store.registry.delete_model_tag(pid, "churn-v2", "team")
    assert store.registry.get_model(pid, "churn-v2").tags == {"keep": "yes"}
    with pytest.raises(NotFoundError, match="has no tag 'team'"):
        store.registry.delete_model_tag(pid, "churn-v2", "team")


def test_delete_takes_versions_along_but_not_while_deployed(store: Store) -> None:
    pid = store.projects.get_or_create("default").id
    store.registry.create_model(pid, "fraud")
    vid = _version(store, pid, "fraud")
    target = DeploymentTarget("predict", "fraud@1", "fraud", 1.0)
    store.deployments.apply(pid, "live", {"models": ["fraud"]}, [target])
    for refused in (
        lambda: store.registry.delete_model(pid, "fraud"),
        lambda: store.registry.rename_model(pid, "fraud", "fraud-2"),
    ):
        with pytest.raises(ConflictError, match="served by deployment 'live'"):
            refused()
    assert store.registry.get_version_by_id(vid).name == "fraud"  # nothing changed

    store.deployments.delete(pid, "live")
    store.registry.delete_model(pid, "fraud")
    with pytest.raises(NotFoundError):
        store.registry.get_model(pid, "fraud")
    with pytest.raises(NotFoundError):
        store.registry.get_version_by_id(vid)
    store.registry.create_model(pid, "fraud")  # the name is free again
    assert store.registry.get_model(pid, "fraud").latest_version is None


def test_unknown_ids_are_not_found_not_database_errors(store: Store) -> None:
    pid = store.projects.get_or_create("default").id
    with pytest.raises(NotFoundError, match="model version id 4242 does not exist"):
        store.registry.set_version_tags(4242, {"a": "b"})
    blob = store.blobs.put_bytes(b"package")
    new = NewVersion(blob.sha, blob.size, blob.sha, "sklearn", "sklearn", "classification",
                     run_id="f" * 32)  # fmt: skip
    with pytest.raises(NotFoundError, match=r"run id 'f+' does not exist"):
        store.registry.create_version(pid, "ghost", new)
