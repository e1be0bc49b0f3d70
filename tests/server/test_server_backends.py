"""Artifacts, blobs, datasets and the tracking SDK on every backend (SQLite, PG, remote)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from keel.exceptions import ConfigError, NotFoundError, UnsafePathError
from keel.store import DatasetFile, Metric, RunStatus, Store
from keel.tracking import TrackingClient


@pytest.fixture
def run_id(store: Store) -> str:
    project = store.projects.get_or_create("default")
    exp = store.experiments.get_or_create(project.id, "arts")
    return store.runs.create(exp.id).id


def test_blobs_round_trip_and_verify(store: Store, tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # > 1 MiB: several chunks each way
    ref = store.blobs.put_bytes(data)
    assert ref.size == len(data)
    assert store.blobs.put_bytes(data).sha == ref.sha  # same content, same blob
    src = tmp_path / "f.bin"
    src.write_bytes(b"file body")
    fref = store.blobs.put_file(src)
    assert store.blobs.read_bytes(fref.sha) == b"file body"
    assert store.blobs.download(ref.sha, tmp_path / "out" / "x.bin").read_bytes() == data


def test_artifacts_add_list_get_delete(store: Store, run_id: str) -> None:
    a = store.blobs.put_bytes(b"alpha")
    b = store.blobs.put_bytes(b"beta")
    store.artifacts.add(run_id, [("model/a.txt", a), ("model/b.txt", b), ("top.txt", a)])
    assert [x.path for x in store.artifacts.list(run_id)] == [
        "model/a.txt",
        "model/b.txt",
        "top.txt",
    ]
    assert [x.path for x in store.artifacts.list(run_id, "model")] == ["model/a.txt", "model/b.txt"]
    info = store.artifacts.get(run_id, "model/b.txt")
    assert (info.size, info.blob_sha) == (4, b.sha)
    assert store.blobs.read_bytes(info.blob_sha) == b"beta"
    assert store.artifacts.delete(run_id, "model") == 2
    with pytest.raises(NotFoundError, match=r"model/a\.txt"):
        store.artifacts.get(run_id, "model/a.txt")
    with pytest.raises(UnsafePathError, match=r"\.\."):
        store.artifacts.add(run_id, [("../escape.txt", a)])


def test_datasets_versions_files_and_lineage(store: Store, run_id: str) -> None:
    project = store.projects.get_or_create("default")
    ds = store.datasets.get_or_create(project.id, "customers")
    blob = store.blobs.put_bytes(b"a,b\n1,2\n")
    common = {
        "kind": "files",
        "source": {"uri": "x"},
        "schema": [{"name": "a"}],
        "profile": {"rows": 1},
        "num_rows": 1,
    }
    files = [DatasetFile("data.csv", blob.sha, blob.size)]
    v1, created = store.datasets.add_version(ds, content_hash="h1", files=files, **common)
    again, created_again = store.datasets.add_version(ds, content_hash="h1", files=files, **common)
    assert created and not created_again and again.id == v1.id
    v2, _ = store.datasets.add_version(ds, content_hash="h2", files=[], run_id=run_id, **common)
    assert [v.version for v in store.datasets.versions(project.id, "customers")] == [1, 2]
    assert store.datasets.get_version(project.id, "customers").id == v2.id
    assert store.datasets.get_version_by_id(v1.id).ref == "customers@1"
    assert store.datasets.files(v1.id) == files
    store.runs.link_dataset(run_id, v1.id, "input")
    assert store.runs.dataset_links(run_id) == [(v1.id, "input")]
    assert (run_id, "input") in store.datasets.runs_of(v1.id)
    latest = dict((d.name, v) for d, v in store.datasets.list_with_latest(project.id))
    assert latest["customers"] is not None and latest["customers"].version == 2


def test_tracking_client_end_to_end(store: Store, tmp_path: Path) -> None:
    client = TrackingClient(store, project="sdk")
    info = client.create_run("baseline", name="r1")
    client.log_params(info.id, {"model": "rf", "depth": 3})
    client.log_metrics(info.id, {"auc": 0.91, "loss": math.nan}, step=1)
    client.log_metric(info.id, "auc", 0.93, step=2)
    art = tmp_path / "report.md"
    art.write_text("# report")
    client.log_artifact(info.id, art, "reports/report.md")
    client.end_run(info.id)
    run = client.get_run(info.id)
    assert run.params == {"model": "rf", "depth": "3"}
    assert run.metrics["auc"] == 0.93 and math.isnan(run.metrics["loss"])
    assert [m.value for m in client.metric_history(info.id, "auc")] == [0.91, 0.93]
    assert client.read_artifact(info.id, "reports/report.md") == b"# report"
    found = client.search_runs("metrics.auc > 0.92 and params.model = 'rf'")
    assert [r.id for r in found.runs] == [info.id]
    assert (
        client.compare_runs([info.id, client.create_run("baseline").id]).params["model"][0] == "rf"
    )


def test_remote_store_refuses_server_side_work(remote_store: Store) -> None:
    with pytest.raises(ConfigError, match="server"):
        list(remote_store.blobs.iter_all())
    with pytest.raises(ConfigError, match="KEEL_SERVER_URL"), remote_store.db.read():
        pass


def test_remote_metric_batch_of_nan_inf(remote_store: Store) -> None:
    project = remote_store.projects.get_or_create("p")
    run = remote_store.runs.create(remote_store.experiments.get_or_create(project.id, "e").id)
    remote_store.runs.log_batch(run.id, metrics=[Metric("a", math.inf), Metric("b", -math.inf)])
    assert remote_store.runs.get(run.id).metrics == {"a": math.inf, "b": -math.inf}


def test_search_is_null_and_is_not_null(store: Store) -> None:
    project = store.projects.get_or_create("default")
    exp_id = store.experiments.get_or_create(project.id, "nulls").id
    a = store.runs.create(exp_id, name="a", tags={"team": "x"})
    b = store.runs.create(exp_id, name="b")
    store.runs.log_batch(a.id, metrics=[Metric("auc", 0.5)], params={"lr": "0.1"})
    store.runs.update(b.id, status=RunStatus.FINISHED)

    def names(flt: str) -> list[str]:
        return [r.name for r in store.runs.search([exp_id], flt, order_by="name").runs]

    assert names("tags.team IS NULL") == ["b"]
    assert names("tags.team is not null") == ["a"]
    assert names("params.lr IS NULL") == ["b"]
    assert names("metrics.auc IS NOT NULL") == ["a"]
    assert names("attributes.end_time IS NULL") == ["a"]
    assert names("metrics.auc IS NOT NULL and metrics.auc > 0.1") == ["a"]
    ordered = store.runs.search([exp_id], "metrics.auc IS NULL", order_by="metrics.auc DESC")
    assert [r.name for r in ordered.runs] == ["b"]
