"""The official mlflow client against a real ``keel server`` process.

Each test drives ``mlflow`` exactly as a team would (``MLFLOW_TRACKING_URI`` pointing at
keel) and then checks the result through keel's own SDK: runs logged by mlflow are
ordinary keel runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.config import Settings
from keel.store import open_store
from keel.tracking import TrackingClient

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # a 5xx must fail the test, not retry


@pytest.fixture
def client(keel_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", keel_server)
    mlflow.set_tracking_uri(keel_server)
    yield MlflowClient(keel_server)
    if mlflow.active_run() is not None:
        mlflow.end_run()


def _keel(keel_server: str, project: str = "default") -> TrackingClient:
    """keel's own SDK, remote, on the same server."""
    return TrackingClient(
        open_store(Settings.for_home("/tmp/unused", server_url=keel_server)), project
    )


def test_experiments_lifecycle_and_tags(client: Any) -> None:
    exp_id = client.create_experiment("mlf-exp", tags={"team": "risk"})
    assert client.get_experiment(exp_id).tags == {"team": "risk"}
    assert client.get_experiment_by_name("mlf-exp").experiment_id == exp_id
    assert client.get_experiment_by_name("never-made") is None
    client.set_experiment_tag(exp_id, "stage", "dev")
    client.delete_experiment_tag(exp_id, "team")
    client.rename_experiment(exp_id, "mlf-exp-2")
    exp = client.get_experiment(exp_id)
    assert (exp.name, exp.tags) == ("mlf-exp-2", {"stage": "dev"})
    found = client.search_experiments(filter_string="name LIKE 'mlf-exp%'")
    assert [e.experiment_id for e in found] == [exp_id]
    untagged = client.search_experiments(filter_string="tags.team IS NULL and creation_time > 0")
    assert exp_id in [e.experiment_id for e in untagged]
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    deleted = client.search_experiments(view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert exp_id in [e.experiment_id for e in deleted]
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    with pytest.raises(MlflowException, match=r"RESOURCE_ALREADY_EXISTS|already exists"):
        client.create_experiment("mlf-exp-2")


def test_fluent_run_is_an_ordinary_keel_run(client: Any, keel_server: str) -> None:
    mlflow.set_experiment("fluent")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"model": "rf", "depth": 3})
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metrics({"loss": 0.25, "acc": 0.9}, step=2)
        mlflow.set_tags({"team": "x", "drop": "me"})
        mlflow.delete_tag("drop")
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "first"
    assert got.data.params == {"lr": "0.1", "model": "rf", "depth": "3"}
    assert got.data.metrics == {"loss": 0.25, "acc": 0.9}
    assert "drop" not in got.data.tags and got.data.tags["team"] == "x"
    keel_run = _keel(keel_server).get_run(run.info.run_id)
    assert keel_run.name == "first" and keel_run.params["model"] == "rf"
    assert keel_run.metrics["acc"] == 0.9 and keel_run.status.value == "FINISHED"


def test_default_experiment_zero_is_the_projects_default(client: Any, keel_server: str) -> None:
    run = client.create_run("0", run_name="in-default")
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == "Default" and client.get_experiment("0").experiment_id == exp.experiment_id
    assert run.info.run_id in [r.info.run_id for r in client.search_runs(["0"])]
    assert _keel(keel_server).get_run(run.info.run_id).name == "in-default"


def test_runs_update_delete_restore_and_nesting(client: Any) -> None:
    exp_id = client.create_experiment("nesting")
    parent = client.create_run(exp_id, run_name="parent")
    child = client.create_run(exp_id, tags={"mlflow.parentRunId": parent.info.run_id})
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    client.update_run(parent.info.run_id, status="KILLED", name="renamed")
    info = client.get_run(parent.info.run_id).info
    assert (info.status, info.run_name) == ("KILLED", "renamed")
    assert info.end_time is not None
    client.delete_run(child.info.run_id)
    assert client.get_run(child.info.run_id).info.lifecycle_stage == "deleted"
    active = client.search_runs([exp_id])
    assert [r.info.run_id for r in active] == [parent.info.run_id]
    client.restore_run(child.info.run_id)
    assert len(client.search_runs([exp_id])) == 2


def test_log_batch_limits_and_param_immutability(client: Any) -> None:
    from mlflow.entities import Metric, Param, RunTag

    exp_id = client.create_experiment("batch")
    run_id = client.create_run(exp_id).info.run_id
    metrics = [Metric("m", float(i), 1000 + i, i) for i in range(1000)]
    client.log_batch(run_id, metrics=metrics, params=[Param("p", "1")], tags=[RunTag("t", "v")])
    hist = client.get_metric_history(run_id, "m")
    assert len(hist) == 1000 and hist[-1].value == 999.0
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        client.log_param(run_id, "p", "2")
    with httpx.Client(base_url=client.tracking_uri) as raw:
        too_many = [{"key": "m", "value": 1, "timestamp": 1, "step": 0}] * 1001
        resp = raw.post(
            "/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": too_many}
        )
        assert resp.status_code == 400
        assert resp.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_metric_history_pages_at_the_clients_page_size(client: Any, keel_server: str) -> None:
    exp_id = client.create_experiment("history")
    run_id = client.create_run(exp_id).info.run_id
    from mlflow.entities import Metric

    for start in range(0, 26_000, 1000):
        client.log_batch(
            run_id, metrics=[Metric("h", float(i), i, i) for i in range(start, start + 1000)]
        )
    client.log_metric(run_id, "nan", math.nan)
    hist = client.get_metric_history(run_id, "h")  # the client pages at 25,000
    assert len(hist) == 26_000 and [m.step for m in hist[:3]] == [0, 1, 2]
    with httpx.Client(base_url=keel_server) as raw:
        page = raw.get(
            "/api/2.0/mlflow/metrics/get-history",
            params={"run_id": run_id, "metric_key": "h", "max_results": 25_000},
        ).json()
    assert len(page["metrics"]) == 25_000 and page["next_page_token"]
    assert math.isnan(client.get_run(run_id).data.metrics["nan"])


def test_search_runs_filters_and_order(client: Any) -> None:
    exp_id = client.create_experiment("search")
    for name, auc, model in [("a", 0.7, "rf"), ("b", 0.9, "rf"), ("c", 0.8, "gbm")]:
        run = client.create_run(exp_id, run_name=name)
        client.log_metric(run.info.run_id, "auc", auc)
        client.log_param(run.info.run_id, "model", model)
        client.set_terminated(run.info.run_id)

    def names(flt: str, order: list[str] | None = None) -> list[str]:
        return [r.info.run_name for r in client.search_runs([exp_id], flt, order_by=order)]

    assert names("metrics.auc > 0.75", ["metrics.auc DESC"]) == ["b", "c"]
    assert names(
        "params.model = 'rf' and attributes.status = 'FINISHED'", ["attributes.run_name"]
    ) == ["a", "b"]
    assert names("tags.`mlflow.runName` = 'c'") == ["c"]
    assert names("attributes.run_name LIKE 'b%'") == ["b"]
    assert names("params.model IS NOT NULL and tags.missing IS NULL", ["attributes.run_name"]) == [
        "a",
        "b",
        "c",
    ]
    df = mlflow.search_runs([exp_id], order_by=["metrics.auc ASC"])
    assert list(df["tags.mlflow.runName"]) == ["a", "c", "b"]
    page = client.search_runs([exp_id], max_results=2, order_by=["attributes.run_name"])
    rest = client.search_runs(
        [exp_id], max_results=2, order_by=["attributes.run_name"], page_token=page.token
    )
    assert [r.info.run_name for r in [*page, *rest]] == ["a", "b", "c"]
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        client.search_runs([exp_id], "metrics.auc >>> 1")


def test_artifacts_upload_list_download_delete(
    client: Any, keel_server: str, tmp_path: Path
) -> None:
    exp_id = client.create_experiment("arts")
    run_id = client.create_run(exp_id).info.run_id
    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.bin").write_bytes(os.urandom(3 << 20))
    client.log_artifacts(run_id, str(folder), artifact_path="bundle")
    client.log_text(run_id, "note", "notes/n.txt")
    top = [f.path for f in client.list_artifacts(run_id)]
    assert top == ["bundle", "notes"]
    inner = {f.path: f for f in client.list_artifacts(run_id, "bundle")}
    assert inner["bundle/sub"].is_dir and inner["bundle/a.txt"].file_size == 5
    assert client.list_artifacts(run_id, "bundle/a.txt") == []  # a file lists as nothing
    dest = client.download_artifacts(run_id, "bundle", str(tmp_path / "dl"))
    assert (Path(dest) / "sub" / "b.bin").read_bytes() == (folder / "sub" / "b.bin").read_bytes()
    with httpx.Client(base_url=keel_server) as raw:
        url = f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/notes/n.txt"
        assert raw.delete(url).status_code == 200
        assert raw.get(url).status_code == 404
        listing = raw.get(
            "/api/2.0/mlflow-artifacts/artifacts",
            params={"path": f"{exp_id}/{run_id}/artifacts/bundle/a.txt"},
        )
        assert listing.json() == {}
    keel_arts = [a.path for a in _keel(keel_server).list_artifacts(run_id)]
    assert keel_arts == ["bundle/a.txt", "bundle/sub/b.bin"]


def test_log_model_load_model_and_inputs(client: Any, keel_server: str) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        mlflow.log_input(mlflow.data.from_numpy(X, targets=y, name="iris"), context="training")
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=X[:2], pip_requirements=["scikit-learn"]
        )
    expected = model.predict(X[:5])
    assert list(mlflow.pyfunc.load_model(info.model_uri).predict(X[:5])) == list(expected)
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert list(loaded.predict(X[:5])) == list(expected)
    logged = client.get_logged_model(info.model_id)
    assert logged.status.to_int() == mlflow.entities.LoggedModelStatus.READY.to_int()
    assert logged.source_run_id == run.info.run_id
    client.set_logged_model_tags(info.model_id, {"stage": "candidate"})
    assert client.get_logged_model(info.model_id).tags["stage"] == "candidate"
    found = client.search_logged_models([run.info.experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [info.model_id]
    got = client.get_run(run.info.run_id)
    assert got.inputs.dataset_inputs[0].dataset.name == "iris"
    assert [o.model_id for o in got.outputs.model_outputs] == [info.model_id]
    keel_client = _keel(keel_server)
    version_id, direction = keel_client.store.runs.dataset_links(run.info.run_id)[0]
    assert direction == "input"
    assert keel_client.store.datasets.get_version_by_id(version_id).dataset_name == "iris"


def test_per_project_base_url_keeps_projects_apart(
    keel_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    churn = MlflowClient(f"{keel_server}/projects/churn")
    fraud = MlflowClient(f"{keel_server}/projects/fraud")
    exp_id = churn.create_experiment("shared-name")
    fraud.create_experiment("shared-name")  # same name, other project: fine
    run_id = churn.create_run(exp_id).info.run_id
    churn.log_metric(run_id, "m", 1.0)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        fraud.get_run(run_id)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        fraud.get_experiment(exp_id)
    assert _keel(keel_server, "churn").get_run(run_id).metrics == {"m": 1.0}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{keel_server}/projects/churn")
    mlflow.set_tracking_uri(f"{keel_server}/projects/churn")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_text("hi", "t.txt")
    assert churn.list_artifacts(run.info.run_id)[0].path == "t.txt"


def test_server_info_and_errors_are_mlflow_shaped(keel_server: str) -> None:
    with httpx.Client(base_url=keel_server) as raw:
        info = raw.get("/api/3.0/mlflow/server-info").json()
        assert info["store_type"] == "SqlStore"
        missing = raw.get("/api/2.0/mlflow/runs/get", params={"run_id": "nope"})
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        bad = raw.post("/api/2.0/mlflow/runs/log-metric", json={"run_id": 5})
        assert bad.status_code == 400 and set(bad.json()) >= {"error_code", "message"}


@pytest.mark.filterwarnings("ignore::FutureWarning")  # stages are deprecated in mlflow 3
def test_registry_round_trip_with_the_real_client(
    client: Any, keel_server: str, keel_server_store: Any
) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    mlflow.set_experiment("registry")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="m", registered_model_name="iris-tree", pip_requirements=["scikit-learn"]
        )
    got_run = run.info.run_id
    assert str(info.registered_model_version) == "1"
    expected = list(model.predict(X[:4]))
    assert list(mlflow.pyfunc.load_model("models:/iris-tree/1").predict(X[:4])) == expected
    client.set_registered_model_alias("iris-tree", "champion", "1")
    assert list(mlflow.pyfunc.load_model("models:/iris-tree@champion").predict(X[:4])) == expected
    assert client.get_model_version_by_alias("iris-tree", "champion").version == "1"
    client.update_registered_model("iris-tree", description="a small tree")
    client.set_registered_model_tag("iris-tree", "team", "risk")
    got = client.get_registered_model("iris-tree")
    assert (got.description, got.tags["team"]) == ("a small tree", "risk")
    assert [m.name for m in client.search_registered_models("name LIKE 'iris%'")] == ["iris-tree"]
    client.set_model_version_tag("iris-tree", "1", "validated", "yes")
    client.update_model_version("iris-tree", "1", description="first")
    client.transition_model_version_stage("iris-tree", "1", "Production")
    latest = client.get_latest_versions("iris-tree", stages=["Production"])
    assert [v.version for v in latest] == ["1"] and latest[0].tags["validated"] == "yes"
    versions = client.search_model_versions("name = 'iris-tree'")
    assert [(v.version, v.description) for v in versions] == [("1", "first")]
    assert client.get_model_version_download_uri("iris-tree", "1").startswith("mlflow-artifacts:")
    client.delete_registered_model_alias("iris-tree", "champion")
    # the same version is an ordinary keel registry entry, its files packed in one blob
    project = keel_server_store.projects.get("default")
    version = keel_server_store.registry.get_version(project.id, "iris-tree", 1)
    assert (version.flavor, version.description, version.run_id) == ("mlflow", "first", got_run)
    assert keel_server_store.blobs.exists(version.blob_sha)
    with httpx.Client(base_url=keel_server) as raw:
        bad = raw.post(
            "/api/2.0/mlflow/model-versions/create",
            json={"name": "iris-tree", "source": "file:///etc"},
        )
        assert bad.status_code == 400
        for source in [
            "runs:/../../x/model",
            "runs://evil.example/r/model",
            f"models:/{info.model_id}?x=1",
            "models:/%2e%2e/x",
            "/etc/passwd",
        ]:
            bad = raw.post(
                "/api/2.0/mlflow/model-versions/create",
                json={"name": "iris-tree", "source": source},
            )
            assert bad.status_code == 400, source


def test_registry_rename_delete_tag_and_delete_with_the_real_client(
    client: Any, keel_server: str, keel_server_store: Any
) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from keel.store.deployments import DeploymentTarget

    X, y = load_iris(return_X_y=True)
    mlflow.set_experiment("registry-lifecycle")
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            LogisticRegression(max_iter=300).fit(X, y),
            name="m",
            registered_model_name="old-name",
            pip_requirements=["scikit-learn"],
        )
    client.set_registered_model_tag("old-name", "team", "risk")
    client.set_registered_model_tag("old-name", "keep", "yes")
    client.set_registered_model_alias("old-name", "champion", "1")

    client.rename_registered_model("old-name", "new-name")
    renamed = client.get_registered_model("new-name")
    assert (renamed.tags["team"], renamed.aliases) == ("risk", {"champion": "1"})
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model("old-name")
    assert client.get_model_version_by_alias("new-name", "champion").version == "1"
    assert mlflow.pyfunc.load_model("models:/new-name@champion").predict(X[:2]).shape == (2,)
    client.create_registered_model("taken")
    with pytest.raises(MlflowException, match="already exists") as clash:
        client.rename_registered_model("new-name", "taken")
    assert clash.value.get_http_status_code() == 400

    client.delete_registered_model_tag("new-name", "team")
    assert client.get_registered_model("new-name").tags == {"keep": "yes"}
    with pytest.raises(MlflowException, match="has no tag 'team'"):
        client.delete_registered_model_tag("new-name", "team")

    # a model a deployment serves keeps its name and stays, with a reason that says what to do
    project = keel_server_store.projects.get("default")
    target = DeploymentTarget("predict", "new-name@champion", "new-name", 1.0)
    keel_server_store.deployments.apply(project.id, "live", {"models": ["new-name"]}, [target])
    for action in (
        lambda: client.delete_registered_model("new-name"),
        lambda: client.rename_registered_model("new-name", "other"),
    ):
        with pytest.raises(MlflowException, match="served by deployment 'live'"):
            action()
    with httpx.Client(base_url=keel_server) as raw:  # a 4xx: the client must not retry it
        refused = raw.request(
            "DELETE", "/api/2.0/mlflow/registered-models/delete", json={"name": "new-name"}
        )
        assert refused.status_code == 400, refused.text
    assert client.get_registered_model("new-name").name == "new-name"
    keel_server_store.deployments.delete(project.id, "live")

    version = keel_server_store.registry.get_version(project.id, "new-name", 1)
    client.delete_registered_model("new-name")
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model("new-name")
    assert [m.name for m in client.search_registered_models("name = 'new-name'")] == []
    with pytest.raises(Exception, match="does not exist"):
        keel_server_store.registry.get_version_by_id(version.id)  # versions went with it
    assert keel_server_store.blobs.exists(version.blob_sha)  # the blob waits for `keel gc`


def test_registry_version_from_another_projects_run_is_a_reference_only(
    keel_server: str, keel_server_store: Any
) -> None:
    """MLflow accepts any run id; another project's run is treated exactly like an unknown
    id: nothing of it is packed, linked or shown (issue 21)."""
    other = MlflowClient(f"{keel_server}/projects/other-team")
    exp = other.create_experiment("theirs")
    run_id = other.create_run(exp).info.run_id
    other.log_text(run_id, "weights", "model/w.txt")
    project = keel_server_store.projects.get("default")
    with httpx.Client(base_url=keel_server) as raw:
        for ref in (run_id, "e" * 32):
            for body in (
                {"name": "stolen", "source": f"runs:/{ref}/model"},
                {"name": "stolen", "source": "s3://b/x", "run_id": ref},
            ):
                resp = raw.post("/api/2.0/mlflow/model-versions/create", json=body)
                assert resp.status_code == 200, resp.text
                got = resp.json()["model_version"]
                version = keel_server_store.registry.get_version(
                    project.id, "stolen", int(got["version"])
                )
                assert version.run_id is None
                assert keel_server_store.blobs.read_bytes(version.blob_sha).strip(b"\0") == b""
