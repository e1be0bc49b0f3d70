"""A version number, once given, is never given again (MLflow's rule; migration 0014)."""

from __future__ import annotations

from pathlib import Path

from keel.config import Settings
from keel.store import HEAD_REVISIONS, Store, current_revisions, open_store, upgrade
from keel.store.registry import NewVersion


def _new(store: Store, text: str) -> NewVersion:
    blob = store.blobs.put_bytes(text.encode())
    return NewVersion(blob.sha, blob.size, blob.sha, "sklearn", "sklearn", "classification")


def test_deleting_the_newest_version_does_not_free_its_number(store: Store) -> None:
    pid = store.projects.get_or_create("default").id
    reg = store.registry
    first = [reg.create_version(pid, "churn", _new(store, f"v{i}")).version for i in range(3)]
    assert first == [1, 2, 3]
    reg.delete_version(reg.get_version(pid, "churn", 3).id)
    reg.delete_version(reg.get_version(pid, "churn", 2).id)
    assert reg.create_version(pid, "churn", _new(store, "v4")).version == 4
    assert [v.version for v in reg.versions(pid, "churn")] == [1, 4]
    assert reg.get_model(pid, "churn").latest_version == 4
    # every version gone: still no reuse; a model deleted and created again starts afresh
    for v in reg.versions(pid, "churn"):
        reg.delete_version(v.id)
    assert reg.create_version(pid, "churn", _new(store, "v5")).version == 5
    reg.delete_model(pid, "churn")
    assert reg.create_version(pid, "churn", _new(store, "v1 again")).version == 1


def test_upgrade_backfills_the_mark_from_existing_versions(tmp_path: Path) -> None:
    settings = Settings.for_home(tmp_path / "home")
    old = open_store(settings, migrate=False)
    upgrade(old.db, "0003")  # the registry as it was before migration 0014
    with old.db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO projects (id, name, description, created_at) VALUES (7, 'p', '', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO registered_models (id, project_id, name, description, created_at,"
            " updated_at) VALUES (1, 7, 'churn', '', 0, 0), (2, 7, 'empty', '', 0, 0)"
        )
        for version in (1, 2, 5):
            conn.exec_driver_sql(
                "INSERT INTO model_versions (model_id, version, blob_sha, size, manifest_sha,"
                " flavor, serve_flavor, task, source, description, frameworks_json,"
                " signature_json, lineage_json, card_json, created_at) VALUES"
                f" (1, {version}, 'x', 1, 'x', 'sklearn', 'sklearn', 'c', 'logged', '',"
                " '{}', '{}', '{}', '{}', 0)"
            )
    old.close()

    store = open_store(settings)
    assert current_revisions(store.db) == HEAD_REVISIONS
    with store.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, top_version FROM registered_models").all()
    assert dict(rows) == {"churn": 5, "empty": 0}
    assert store.registry.create_version(7, "churn", _new(store, "next")).version == 6
    assert store.registry.create_version(7, "empty", _new(store, "first")).version == 1
    store.close()
