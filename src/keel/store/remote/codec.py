"""Entities to JSON and back: the wire format of ``/api/v1``, shared by server and client.

Both ends import this module, so they cannot drift apart. Floats that JSON cannot hold
(NaN, infinities) travel as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from keel.store.entities import (
    ArtifactInfo,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Experiment,
    Lifecycle,
    Metric,
    Project,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
)
from keel.store.registry import ModelVersion, NewVersion, RegisteredModel


def fnum(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def pnum(value: Any) -> float:
    return float(value)


def jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    """A free-form mapping (lineage, a model card) as JSON, values JSON cannot hold as
    strings, the way the SQL store keeps them."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(value), default=str))
    return loaded


def project(p: Project) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "description": p.description, "created_at": p.created_at}


def to_project(d: dict[str, Any]) -> Project:
    return Project(int(d["id"]), d["name"], d["description"], int(d["created_at"]))


def experiment(e: Experiment) -> dict[str, Any]:
    return {
        "id": e.id,
        "project_id": e.project_id,
        "name": e.name,
        "description": e.description,
        "lifecycle": e.lifecycle.value,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "tags": e.tags,
    }


def to_experiment(d: dict[str, Any]) -> Experiment:
    return Experiment(
        id=int(d["id"]),
        project_id=int(d["project_id"]),
        name=d["name"],
        description=d["description"],
        lifecycle=Lifecycle(d["lifecycle"]),
        created_at=int(d["created_at"]),
        updated_at=int(d["updated_at"]),
        tags=dict(d.get("tags") or {}),
    )


def run_info(i: RunInfo) -> dict[str, Any]:
    return {
        "id": i.id,
        "experiment_id": i.experiment_id,
        "name": i.name,
        "status": i.status.value,
        "start_time": i.start_time,
        "end_time": i.end_time,
        "lifecycle": i.lifecycle.value,
        "user": i.user,
        "parent_id": i.parent_id,
        "note": i.note,
    }


def to_run_info(d: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=d["id"],
        experiment_id=int(d["experiment_id"]),
        name=d["name"],
        status=RunStatus(d["status"]),
        start_time=int(d["start_time"]),
        end_time=None if d.get("end_time") is None else int(d["end_time"]),
        lifecycle=Lifecycle(d["lifecycle"]),
        user=d.get("user") or "",
        parent_id=d.get("parent_id"),
        note=d.get("note") or "",
    )


def run(r: Run) -> dict[str, Any]:
    return {
        "info": run_info(r.info),
        "params": r.params,
        "metrics": {k: fnum(v) for k, v in r.metrics.items()},
        "tags": r.tags,
        "metric_steps": {k: list(v) for k, v in r.metric_steps.items()},
    }


def to_run(d: dict[str, Any]) -> Run:
    return Run(
        to_run_info(d["info"]),
        dict(d.get("params") or {}),
        {k: pnum(v) for k, v in (d.get("metrics") or {}).items()},
        dict(d.get("tags") or {}),
        {k: (int(v[0]), int(v[1])) for k, v in (d.get("metric_steps") or {}).items()},
    )


def run_page(p: RunPage) -> dict[str, Any]:
    return {"runs": [run(r) for r in p.runs], "next_page_token": p.next_page_token}


def to_run_page(d: dict[str, Any]) -> RunPage:
    return RunPage([to_run(r) for r in d["runs"]], d.get("next_page_token"))


def metric(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": fnum(m.value), "step": m.step, "timestamp": m.timestamp}


def to_metric(d: dict[str, Any]) -> Metric:
    return Metric(d["key"], pnum(d["value"]), int(d.get("step") or 0), int(d.get("timestamp") or 0))


def artifact(a: ArtifactInfo) -> dict[str, Any]:
    return {"path": a.path, "size": a.size, "blob_sha": a.blob_sha, "created_at": a.created_at}


def to_artifact(d: dict[str, Any]) -> ArtifactInfo:
    return ArtifactInfo(d["path"], int(d["size"]), d["blob_sha"], int(d["created_at"]))


def dataset(d: Dataset) -> dict[str, Any]:
    return {
        "id": d.id,
        "project_id": d.project_id,
        "name": d.name,
        "description": d.description,
        "created_at": d.created_at,
    }


def to_dataset(d: dict[str, Any]) -> Dataset:
    return Dataset(
        int(d["id"]), int(d["project_id"]), d["name"], d["description"], int(d["created_at"])
    )


def dataset_file(f: DatasetFile) -> dict[str, Any]:
    return {"path": f.path, "blob_sha": f.blob_sha, "size": f.size}


def to_dataset_file(d: dict[str, Any]) -> DatasetFile:
    return DatasetFile(d["path"], d["blob_sha"], int(d["size"]))


def dataset_version(v: DatasetVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "dataset_id": v.dataset_id,
        "dataset_name": v.dataset_name,
        "version": v.version,
        "content_hash": v.content_hash,
        "kind": v.kind,
        "source": v.source,
        "schema": v.schema,
        "profile": v.profile,
        "num_rows": v.num_rows,
        "num_files": v.num_files,
        "size_bytes": v.size_bytes,
        "created_at": v.created_at,
        "run_id": v.run_id,
    }


def to_dataset_version(d: dict[str, Any]) -> DatasetVersion:
    return DatasetVersion(
        id=int(d["id"]),
        dataset_id=int(d["dataset_id"]),
        dataset_name=d["dataset_name"],
        version=int(d["version"]),
        content_hash=d["content_hash"],
        kind=d["kind"],
        source=d["source"],
        schema=d["schema"],
        profile=d["profile"],
        num_rows=d.get("num_rows"),
        num_files=int(d["num_files"]),
        size_bytes=int(d["size_bytes"]),
        created_at=int(d["created_at"]),
        run_id=d.get("run_id"),
    )


def registered_model(m: RegisteredModel) -> dict[str, Any]:
    return {
        "id": m.id,
        "project_id": m.project_id,
        "name": m.name,
        "description": m.description,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "tags": m.tags,
        "aliases": m.aliases,
        "latest_version": m.latest_version,
    }


def to_registered_model(d: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        id=int(d["id"]),
        project_id=int(d["project_id"]),
        name=d["name"],
        description=d["description"],
        created_at=int(d["created_at"]),
        updated_at=int(d["updated_at"]),
        tags=dict(d.get("tags") or {}),
        aliases={k: int(v) for k, v in (d.get("aliases") or {}).items()},
        latest_version=None if d.get("latest_version") is None else int(d["latest_version"]),
    )


def model_version(v: ModelVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "model_id": v.model_id,
        "name": v.name,
        "version": v.version,
        "semver": v.semver,
        "blob_sha": v.blob_sha,
        "size": v.size,
        "manifest_sha": v.manifest_sha,
        "run_id": v.run_id,
        "flavor": v.flavor,
        "serve_flavor": v.serve_flavor,
        "task": v.task,
        "source": v.source,
        "signer": v.signer,
        "description": v.description,
        "frameworks": v.frameworks,
        "signature": v.signature,
        "lineage": v.lineage,
        "card": v.card,
        "created_at": v.created_at,
        "metrics": {k: fnum(x) for k, x in v.metrics.items()},
        "tags": v.tags,
        "datasets": v.datasets,
        "aliases": v.aliases,
    }


def to_model_version(d: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        id=int(d["id"]),
        model_id=int(d["model_id"]),
        name=d["name"],
        version=int(d["version"]),
        semver=d.get("semver"),
        blob_sha=d["blob_sha"],
        size=int(d["size"]),
        manifest_sha=d["manifest_sha"],
        run_id=d.get("run_id"),
        flavor=d["flavor"],
        serve_flavor=d["serve_flavor"],
        task=d["task"],
        source=d["source"],
        signer=d.get("signer"),
        description=d["description"],
        frameworks=dict(d.get("frameworks") or {}),
        signature=dict(d.get("signature") or {}),
        lineage=dict(d.get("lineage") or {}),
        card=dict(d.get("card") or {}),
        created_at=int(d["created_at"]),
        metrics={k: pnum(x) for k, x in (d.get("metrics") or {}).items()},
        tags=dict(d.get("tags") or {}),
        datasets=list(d.get("datasets") or []),
        aliases=list(d.get("aliases") or []),
    )


def new_version(n: NewVersion) -> dict[str, Any]:
    return {
        "blob_sha": n.blob_sha,
        "size": n.size,
        "manifest_sha": n.manifest_sha,
        "flavor": n.flavor,
        "serve_flavor": n.serve_flavor,
        "task": n.task,
        "source": n.source,
        "run_id": n.run_id,
        "semver": n.semver,
        "signer": n.signer,
        "description": n.description,
        "frameworks": dict(n.frameworks),
        "signature": dict(n.signature),
        "lineage": jsonable(n.lineage),
        "card": jsonable(n.card),
        "metrics": {k: fnum(float(x)) for k, x in n.metrics.items()},
        "tags": {k: str(x) for k, x in n.tags.items()},
        "datasets": [[d, int(v)] for d, v in n.datasets],
    }


def to_new_version(d: dict[str, Any]) -> NewVersion:
    return NewVersion(
        blob_sha=d["blob_sha"],
        size=int(d["size"]),
        manifest_sha=d["manifest_sha"],
        flavor=d["flavor"],
        serve_flavor=d["serve_flavor"],
        task=d["task"],
        source=d.get("source") or "logged",
        run_id=d.get("run_id"),
        semver=d.get("semver"),
        signer=d.get("signer"),
        description=d.get("description") or "",
        frameworks=dict(d.get("frameworks") or {}),
        signature=dict(d.get("signature") or {}),
        lineage=dict(d.get("lineage") or {}),
        card=dict(d.get("card") or {}),
        metrics={k: pnum(x) for k, x in (d.get("metrics") or {}).items()},
        tags=dict(d.get("tags") or {}),
        datasets=[(str(ds), int(v)) for ds, v in (d.get("datasets") or [])],
    )


__all__ = [
    "artifact",
    "dataset",
    "dataset_file",
    "dataset_version",
    "experiment",
    "fnum",
    "jsonable",
    "metric",
    "model_version",
    "new_version",
    "pnum",
    "project",
    "registered_model",
    "run",
    "run_info",
    "run_page",
    "to_artifact",
    "to_dataset",
    "to_dataset_file",
    "to_dataset_version",
    "to_experiment",
    "to_metric",
    "to_model_version",
    "to_new_version",
    "to_project",
    "to_registered_model",
    "to_run",
    "to_run_info",
    "to_run_page",
]
