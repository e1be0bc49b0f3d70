"""What MLflow's own REST tests showed keel's MLflow API lacked (issue 21), with the
official client against keel's app served by uvicorn. Each test gets a fresh store and a
fresh project in it, which the MLflow API shows as a fresh store. benchmarks/compat/ runs
MLflow's own tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from keel.store import Store

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import LoggedModelInput, LoggedModelOutput, Metric  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"


@pytest.fixture
def keel_server(remote_store: Store) -> str:
    """The base URL of keel's app served by uvicorn over ``server_store`` (conftest)."""
    assert remote_store.settings.server_url is not None
    return remote_store.settings.server_url


@pytest.fixture
def url(keel_server: str) -> str:
    return f"{keel_server}/projects/compat"


@pytest.fixture
def client(url: str) -> Iterator[Any]:
    yield MlflowClient(url)


def test_version_health_and_otlp_answers(keel_server: str) -> None:
    with httpx.Client(base_url=keel_server) as raw:
        for prefix in ("", "/projects/p1"):
            version = raw.get(f"{prefix}/version")
            assert version.status_code == 200 and version.text == "3.12.0"
            assert raw.get(f"{prefix}/health").text == "OK"
        spans = raw.post(
            "/v1/traces",
            content=b"\x00",
            headers={"Content-Type": "application/x-protobuf", "X-MLflow-Experiment-Id": "0"},
        )  # no traces in keel: MLflow's answer for a store without span logging
        assert spans.status_code == 501 and "error_code" in spans.json()


def test_a_fresh_project_has_the_default_experiment_0(client: Any) -> None:
    """A read of a project URL nobody wrote to is MLflow's "does not exist" naming the
    project (a typo creates nothing; get-by-name answers None, so mlflow.set_experiment
    goes on to create); the first write makes the project with its Default experiment."""
    with pytest.raises(MlflowException, match="project 'compat' does not exist") as missing:
        client.search_experiments()
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name("Default") is None
    run = client.create_run("0")
    exps = client.search_experiments()
    assert [(e.experiment_id, e.name) for e in exps] == [("0", "Default")]
    assert client.get_experiment("0").name == "Default"
    assert client.get_experiment_by_name("Default").experiment_id == "0"
    assert run.info.experiment_id == "0"
    assert run.info.artifact_uri == f"mlflow-artifacts:/0/{run.info.run_id}/artifacts"
    found = client.search_runs(["0"])
    assert [r.info.experiment_id for r in found] == ["0"]


def test_artifact_location_is_kept_as_metadata(client: Any, tmp_path: Any) -> None:
    where = str(tmp_path / "never-written")
    exp_id = client.create_experiment("located", artifact_location=where, tags={"k": "v"})
    exp = client.get_experiment(exp_id)
    assert (exp.artifact_location, exp.tags) == (where, {"k": "v"})
    run = client.create_run(exp_id)
    client.log_text(run.info.run_id, "hello", "a.txt")
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["a.txt"]
    assert not os.path.exists(where)


def test_parent_run_keel_does_not_know_is_a_tag(
    client: Any, keel_server: str, server_store: Store
) -> None:
    other = MlflowClient(f"{keel_server}/projects/compat-other")
    foreign = other.create_run("0").info.run_id
    for parent in ("0" * 32, foreign):
        child = client.create_run("0", tags={"mlflow.parentRunId": parent})
        assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent
        assert server_store.runs.get_info(child.info.run_id).parent_id is None
    assert other.get_run(foreign).data.tags.get("mlflow.parentRunId") is None


def test_model_version_with_unknown_run_and_reference_sources(client: Any) -> None:
    client.create_registered_model("refs")
    empty = client.create_model_version("refs", source="", run_id="a" * 32)
    assert (empty.source, empty.run_id) == ("", "a" * 32)
    remote = client.create_model_version("refs", source="s3://bucket/path/model")
    assert client.get_model_version_download_uri("refs", remote.version) == (
        "s3://bucket/path/model"
    )
    found = client.search_model_versions(f"run_id = '{'a' * 32}'")
    assert [v.version for v in found] == [empty.version]
    with pytest.raises(MlflowException, match="To use a local path as a model version"):
        client.create_model_version("refs", source="/etc")
    for bad in ("s3://b/x/../../y", "models:/%2e%2e/x", "models:/refs/..%2f1"):
        with pytest.raises(MlflowException, match="without relative path references"):
            client.create_model_version("refs", source=bad)


def test_logged_models_round_trip(client: Any) -> None:
    run = client.create_run("0")
    first = client.create_logged_model("0")
    second = client.create_logged_model("0", source_run_id="b" * 32)
    assert first.name != second.name and "model" not in (first.name, second.name)
    assert second.source_run_id == "b" * 32
    client.log_metric(
        run.info.run_id,
        "auc",
        0.5,
        timestamp=123,
        step=1,
        dataset_name="d",
        dataset_digest="x",
        model_id=first.model_id,
    )
    got = client.get_logged_model(first.model_id)
    assert got.metrics == [
        Metric(
            "auc",
            0.5,
            123,
            1,
            model_id=first.model_id,
            dataset_name="d",
            dataset_digest="x",
            run_id=run.info.run_id,
        )
    ]
    assert got.tags == {}
    client.log_outputs(run.info.run_id, [LoggedModelOutput(first.model_id, 1)])
    client.log_inputs(run.info.run_id, models=[LoggedModelInput(second.model_id)])
    fetched = client.get_run(run.info.run_id)
    assert fetched.outputs.model_outputs == [LoggedModelOutput(first.model_id, 1)]
    assert [m.model_id for m in fetched.inputs.model_inputs] == [second.model_id]
    assert not any(k.startswith("mlflow.keel.") for k in fetched.data.tags)
    by_data = client.search_logged_models(["0"], datasets=[{"dataset_name": "d"}])
    assert [m.model_id for m in by_data] == [first.model_id]
    oldest = client.search_logged_models(
        ["0"], order_by=[{"field_name": "creation_timestamp", "ascending": True}]
    )
    assert [m.model_id for m in oldest] == [first.model_id, second.model_id]


def test_validation_errors_use_mlflow_wording(url: str) -> None:
    with httpx.Client(base_url=url) as raw:
        missing = raw.post("/api/2.0/mlflow/experiments/create", json={})
        assert missing.status_code == 400
        assert "Missing value for required parameter 'name'." in missing.json()["message"]
        wrong = raw.post("/api/2.0/mlflow/experiments/create", json={"name": 123})
        assert "Invalid value 123 for parameter 'name'" in wrong.json()["message"]
        run_id = raw.post("/api/2.0/mlflow/runs/create", json={}).json()["run"]["info"]["run_id"]
        batch = {"run_id": run_id, "metrics": [{"key": "mae", "value": 2.5}]}
        no_time = raw.post("/api/2.0/mlflow/runs/log-batch", json=batch)
        assert no_time.status_code == 400
        assert (
            "Missing value for required parameter 'metrics[0].timestamp'"
            in (no_time.json()["message"])
        )


def test_registered_model_names_may_hold_spaces(client: Any) -> None:
    client.create_registered_model("My Model")
    client.rename_registered_model("My Model", "My Model 2")
    assert client.get_registered_model("My Model 2").name == "My Model 2"
    with pytest.raises(MlflowException, match="must start with a letter or digit"):
        client.create_registered_model(" padded ")


def test_not_found_and_state_errors_use_mlflow_wording(client: Any, url: str) -> None:
    run = client.create_run("0")
    with pytest.raises(MlflowException, match=r"Run with id=nope not found"):
        client.delete_tag("nope", "t")
    with pytest.raises(MlflowException, match="No tag with name: t in run"):
        client.delete_tag(run.info.run_id, "t")
    client.delete_run(run.info.run_id)
    with pytest.raises(MlflowException, match=f"The run {run.info.run_id} must be in"):
        client.delete_tag(run.info.run_id, "t")
    with pytest.raises(MlflowException, match="Registered Model with name=nope not found"):
        client.get_registered_model("nope")
    client.create_registered_model("m")
    with pytest.raises(MlflowException, match=r"Registered Model \(name=m\) already exists"):
        client.create_registered_model("m")
    with pytest.raises(MlflowException, match=r"Model Version \(name=m, version=3\) not found"):
        client.get_model_version("m", "3")
    with pytest.raises(MlflowException, match="Parameter 'version' must be an integer"):
        client.get_model_version("m", "x")
    model = client.create_logged_model("0")
    with pytest.raises(MlflowException, match="No tag with key 'k'"):
        client.delete_logged_model_tag(model.model_id, "k")
    with pytest.raises(MlflowException, match="Logged model with ID 'm-0' not found"):
        client.get_logged_model("m-0")
    with pytest.raises(MlflowException, match="Invalid value 123456789 for parameter"):
        client.search_runs(["0"], max_results=123456789)
    with httpx.Client(base_url=url) as raw:
        listed = raw.get(
            "/api/2.0/mlflow/artifacts/list", params={"run_id": run.info.run_id, "path": "../x"}
        )
        assert (listed.status_code, listed.json()["message"]) == (400, "Invalid path")
        no_run = raw.post("/api/2.0/mlflow/runs/log-inputs", json={"datasets": []})
        assert "Missing value for required parameter 'run_id'" in no_run.json()["message"]


def test_search_semantics_follow_mlflow(client: Any, url: str) -> None:
    client.create_experiment("tagged", tags={"key": "value"})
    client.create_experiment("other", tags={"key": "vaLue"})
    found = client.search_experiments(filter_string="tag.key != 'value'")
    assert [e.name for e in found] == ["other"]  # no tag, no match (MLflow's SQL)
    for name in ("b", "a"):
        client.create_registered_model(name)
    made = []
    for n in ("a", "b", "a"):
        time.sleep(0.002)  # distinct creation milliseconds, so "newest first" is one order
        made.append(client.create_model_version(n, "s3://x/m"))
    newest_first = client.search_model_versions()
    assert [(v.name, v.version) for v in newest_first] == [("a", "2"), ("b", "1"), ("a", "1")]
    by_number = client.search_model_versions(order_by=["version_number DESC"])
    assert [(v.name, v.version) for v in by_number] == [("a", "2"), ("a", "1"), ("b", "1")]
    before = made[0].last_updated_timestamp
    updated = client.update_model_version("a", "1", description="new")
    assert updated.last_updated_timestamp >= before and updated.tags == {}
    model_a = client.get_registered_model("a")
    assert model_a.last_updated_timestamp >= made[2].creation_timestamp
    assert model_a.tags == {}
    with httpx.Client(base_url=url) as raw:
        run_id = client.create_run("0").info.run_id
        body = {"run_id": run_id, "key": None, "value": 1, "timestamp": 1}
        resp = raw.post("/api/2.0/mlflow/runs/log-metric", json=body)
        assert "Missing value for required parameter 'key'" in resp.json()["message"]


def test_a_logged_models_versions_are_listed_in_its_tag(client: Any) -> None:
    model = client.create_logged_model("0")
    client.create_registered_model("reg")
    for _ in range(2):
        client.create_model_version("reg", source=model.artifact_location, model_id=model.model_id)
    tag = client.get_logged_model(model.model_id).tags["mlflow.modelVersions"]
    assert tag == '[{"name": "reg", "version": 1}, {"name": "reg", "version": 2}]'
    found = client.search_model_versions(f"source_path = '{model.artifact_location}'")
    assert sorted(v.version for v in found) == ["1", "2"]


def test_copy_model_version_reuses_the_package(client: Any) -> None:
    run = client.create_run("0")
    client.log_text(run.info.run_id, "w", "model/w.txt")
    client.create_registered_model("src")
    client.create_model_version("src", f"runs:/{run.info.run_id}/model", run.info.run_id)
    copy = client.copy_model_version("models:/src/1", "dst")
    assert (copy.name, copy.version, copy.source) == ("dst", "1", "models:/src/1")
    assert client.get_model_version_download_uri("dst", "1") == (
        client.get_model_version_download_uri("src", "1")
    )
