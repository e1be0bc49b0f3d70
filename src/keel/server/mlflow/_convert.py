"""keel entities in MLflow's JSON shapes (protobuf JSON with proto field names)."""

from __future__ import annotations

from typing import Any

from keel.server._json import num
from keel.server.mlflow import _model_links as links
from keel.store import DatasetVersion, Experiment, Metric, Run, RunInfo
from keel.store.logged_models import LoggedModel

RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"
#: Where the client asked an experiment's artifacts to go: kept and shown, never used
#: (keel stores artifacts itself). Hidden from the experiment's MLflow tags.
ARTIFACT_LOCATION_TAG = "mlflow.keel.artifactLocation"


def kv(items: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


def from_kv(items: list[Any] | None) -> dict[str, str]:
    return {i.key: i.value for i in items or []}


def experiment(e: Experiment, eid: str) -> dict[str, Any]:
    """``eid``: the id the MLflow API shows ("0" for the project's Default experiment)."""
    tags = {k: v for k, v in e.tags.items() if k != ARTIFACT_LOCATION_TAG}
    return {
        "experiment_id": eid,
        "name": e.name,
        "artifact_location": e.tags.get(ARTIFACT_LOCATION_TAG) or f"mlflow-artifacts:/{eid}",
        "lifecycle_stage": e.lifecycle.value,
        "last_update_time": e.updated_at,
        "creation_time": e.created_at,
        "tags": kv(tags),
    }


def run_info(i: RunInfo, eid: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": i.id,
        "run_uuid": i.id,
        "run_name": i.name,
        "experiment_id": eid,
        "user_id": i.user,
        "status": i.status.value,
        "start_time": i.start_time,
        "artifact_uri": f"mlflow-artifacts:/{eid}/{i.id}/artifacts",
        "lifecycle_stage": i.lifecycle.value,
    }
    if i.end_time is not None:
        out["end_time"] = i.end_time
    return out


def run(
    r: Run,
    eid: str,
    *,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``outputs``: the run's logged models as ``{"model_id", "step"}``."""
    tags = links.visible(r.tags)
    tags.setdefault(RUN_NAME_TAG, r.info.name)
    if r.info.parent_id:
        tags.setdefault(PARENT_TAG, r.info.parent_id)
    ts = r.info.start_time
    out: dict[str, Any] = {
        "info": run_info(r.info, eid),
        "data": {
            "metrics": [
                {"key": k, "value": num(v), "timestamp": t, "step": step}
                for k, v in r.metrics.items()
                for step, t in (r.metric_steps.get(k, (0, ts)),)
            ],
            "params": kv(r.params),
            "tags": kv(tags),
        },
    }
    model_inputs = links.run_models(r.tags, links.MODEL_INPUTS_TAG)
    if inputs or model_inputs:
        out["inputs"] = {
            "dataset_inputs": inputs or [],
            "model_inputs": [{"model_id": m["model_id"]} for m in model_inputs],
        }
    if outputs:
        out["outputs"] = {"model_outputs": outputs}
    return out


def metric(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": num(m.value), "timestamp": m.timestamp, "step": m.step}


def dataset_input(v: DatasetVersion) -> dict[str, Any]:
    src = v.source
    tags = src.get("mlflow_tags") or {}
    return {
        "dataset": {
            "name": v.dataset_name,
            "digest": src.get("mlflow_digest") or v.content_hash[:36],
            "source_type": src.get("type", v.kind),
            "source": src.get("uri", ""),
            "schema": src.get("mlflow_schema", ""),
            "profile": src.get("mlflow_profile", ""),
        },
        "tags": kv(tags),
    }


def logged_model(m: LoggedModel, eid: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": m.id,
        "experiment_id": eid,
        "name": m.name,
        "artifact_uri": f"mlflow-artifacts:/{eid}/models/{m.id}/artifacts",
        "creation_timestamp_ms": m.created_at,
        "last_updated_timestamp_ms": m.updated_at,
        "status": m.status,
        "status_message": m.status_message,
        "model_type": m.model_type,
        "tags": kv(links.visible(m.tags)),
    }
    source = links.source_run_id(m)
    if source:
        info["source_run_id"] = source
    metrics = [{**x, "value": num(float(x.get("value", 0.0)))} for x in links.model_metrics(m)]
    return {"info": info, "data": {"params": kv(m.params), "metrics": metrics}}


__all__ = [
    "dataset_input",
    "experiment",
    "from_kv",
    "kv",
    "logged_model",
    "metric",
    "run",
    "run_info",
]
