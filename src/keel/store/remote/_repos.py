"""Projects, experiments, runs, artifacts and datasets over HTTP: one request each.

Each class implements its aggregate's protocol (:mod:`keel.store.protocols`) beside the
SQL repository, inheriting nothing from it: a method the server does not serve cannot
fall through to a database that is not there. Answers are decoded by :mod:`keel.store.wire`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keel.exceptions import NotFoundError
from keel.store.blobs import BlobRef
from keel.store.entities import (
    ArtifactInfo,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Experiment,
    Metric,
    Project,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
)
from keel.store.remote._http import Http
from keel.store.wire import load

V1 = "/api/v1"


class RemoteProjectRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def get_or_create(self, name: str, description: str = "") -> Project:
        return load(
            Project, self._http.post(f"{V1}/projects", {"name": name, "description": description})
        )

    def get(self, name: str) -> Project:
        return load(Project, self._http.get(f"{V1}/projects/lookup", name=name))

    def get_by_id(self, project_id: int) -> Project:
        return load(Project, self._http.get(f"{V1}/projects/{int(project_id)}"))

    def list(self) -> list[Project]:
        return load(list[Project], self._http.get(f"{V1}/projects")["projects"])


class RemoteExperimentRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self, project_id: int, name: str, *, description: str = "", tags: Mapping[str, str] = {}
    ) -> Experiment:
        body = {
            "project_id": project_id,
            "name": name,
            "description": description,
            "tags": dict(tags),
        }
        return load(Experiment, self._http.post(f"{V1}/experiments", body))

    def get_or_create(self, project_id: int, name: str) -> Experiment:
        body = {"project_id": project_id, "name": name}
        return load(Experiment, self._http.post(f"{V1}/experiments/get-or-create", body))

    def get(self, experiment_id: int) -> Experiment:
        return load(Experiment, self._http.get(f"{V1}/experiments/{int(experiment_id)}"))

    def find(self, project_id: int, name: str) -> Experiment | None:
        try:
            return self.get_by_name(project_id, name)
        except NotFoundError:
            return None

    def get_by_name(self, project_id: int, name: str) -> Experiment:
        data = self._http.get(f"{V1}/experiments/lookup", project_id=project_id, name=name)
        return load(Experiment, data)

    def list(self, project_id: int, *, include_deleted: bool = False) -> list[Experiment]:
        data = self._http.get(
            f"{V1}/experiments", project_id=project_id, include_deleted=include_deleted
        )
        return load(list[Experiment], data["experiments"])

    def rename(self, experiment_id: int, new_name: str) -> Experiment:
        return load(
            Experiment,
            self._http.patch(f"{V1}/experiments/{int(experiment_id)}", {"name": new_name}),
        )

    def set_description(self, experiment_id: int, description: str) -> Experiment:
        body = {"description": description}
        return load(Experiment, self._http.patch(f"{V1}/experiments/{int(experiment_id)}", body))

    def delete(self, experiment_id: int) -> None:
        self._http.delete(f"{V1}/experiments/{int(experiment_id)}")

    def restore(self, experiment_id: int) -> None:
        self._http.post(f"{V1}/experiments/{int(experiment_id)}/restore", {})

    def set_tag(self, experiment_id: int, key: str, value: str) -> None:
        self._http.post(f"{V1}/experiments/{int(experiment_id)}/tags", {"key": key, "value": value})

    def delete_tag(self, experiment_id: int, key: str) -> None:
        self._http.delete(f"{V1}/experiments/{int(experiment_id)}/tags", key=key)


def _run_path(run_id: str, tail: str = "") -> str:
    from urllib.parse import quote

    return f"{V1}/runs/{quote(str(run_id), safe='')}{tail}"


class RemoteRunRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def create(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        user: str = "",
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
        status: RunStatus = RunStatus.RUNNING,
    ) -> RunInfo:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "parent_id": parent_id,
            "user": user,
            "tags": {k: str(v) for k, v in (tags or {}).items()},
            "start_time": start_time,
            "status": RunStatus(status).value,
        }
        return load(RunInfo, self._http.post(f"{V1}/runs", body))

    def get_info(self, run_id: str) -> RunInfo:
        return load(RunInfo, self._http.get(_run_path(run_id), info_only=True))

    def get(self, run_id: str) -> Run:
        return load(Run, self._http.get(_run_path(run_id)))

    def get_many(self, run_ids: Sequence[str]) -> list[Run]:
        data = self._http.post(f"{V1}/runs/get-many", {"run_ids": list(run_ids)})
        return load(list[Run], data["runs"])

    def update(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        note: str | None = None,
    ) -> RunInfo:
        body = {
            "status": None if status is None else RunStatus(status).value,
            "end_time": end_time,
            "name": name,
            "note": note,
        }
        return load(RunInfo, self._http.patch(_run_path(run_id), body))

    def delete(self, run_id: str) -> None:
        self._http.delete(_run_path(run_id))

    def restore(self, run_id: str) -> None:
        self._http.post(_run_path(run_id, "/restore"), {})

    def children(self, run_id: str) -> list[RunInfo]:
        return load(list[RunInfo], self._http.get(_run_path(run_id, "/children"))["runs"])

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        body = {
            "metrics": list(metrics),
            "params": {k: v if isinstance(v, str) else str(v) for k, v in (params or {}).items()},
            "tags": {k: str(v) for k, v in (tags or {}).items()},
        }
        self._http.post(_run_path(run_id, "/batch"), body)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.log_batch(run_id, tags=tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._http.delete(_run_path(run_id, "/tags"), key=key)

    def metric_history(
        self, run_id: str, key: str, *, offset: int = 0, limit: int | None = None
    ) -> list[Metric]:
        data = self._http.get(
            _run_path(run_id, "/metric-history"), key=key, offset=offset, limit=limit
        )
        return load(list[Metric], data["metrics"])

    def metric_keys(self, run_id: str) -> list[str]:
        return list(self._http.get(_run_path(run_id, "/metric-keys"))["keys"])

    def link_dataset(self, run_id: str, version_id: int, direction: str) -> None:
        self._http.post(
            _run_path(run_id, "/datasets"), {"version_id": version_id, "direction": direction}
        )

    def dataset_links(self, run_id: str) -> list[tuple[int, str]]:
        links = self._http.get(_run_path(run_id, "/datasets"))["links"]
        return [(int(link["version_id"]), link["direction"]) for link in links]

    def search(
        self,
        experiment_ids: Sequence[int],
        filter_string: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        body = {
            "experiment_ids": list(experiment_ids),
            "filter": filter_string,
            "order_by": [order_by] if isinstance(order_by, str) else list(order_by or []),
            "max_results": max_results,
            "page_token": page_token,
            "include_deleted": include_deleted,
        }
        return load(RunPage, self._http.post(f"{V1}/runs/search", body))


def _items(http: Http, items: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"path": p, "sha": sha, "receipt": http.receipt(sha)} for p, sha in items]


class RemoteArtifactRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def add(self, run_id: str, items: list[tuple[str, BlobRef]]) -> list[ArtifactInfo]:
        body = {"items": _items(self._http, [(p, r.sha) for p, r in items])}
        data = self._http.post(_run_path(run_id, "/artifacts"), body)
        return load(list[ArtifactInfo], data["artifacts"])

    def list(self, run_id: str, prefix: str | None = None) -> list[ArtifactInfo]:
        data = self._http.get(_run_path(run_id, "/artifacts"), prefix=prefix)
        return load(list[ArtifactInfo], data["artifacts"])

    def get(self, run_id: str, path: str) -> ArtifactInfo:
        return load(ArtifactInfo, self._http.get(_run_path(run_id, "/artifact-info"), path=path))

    def delete(self, run_id: str, path: str) -> int:
        return int(self._http.delete(_run_path(run_id, "/artifacts"), path=path)["deleted"])


class RemoteDatasetRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def get_or_create(self, project_id: int, name: str, description: str = "") -> Dataset:
        body = {"project_id": project_id, "name": name, "description": description}
        return load(Dataset, self._http.post(f"{V1}/datasets", body))

    def get(self, project_id: int, name: str) -> Dataset:
        return load(
            Dataset, self._http.get(f"{V1}/datasets/lookup", project_id=project_id, name=name)
        )

    def list_with_latest(self, project_id: int) -> list[tuple[Dataset, DatasetVersion | None]]:
        data = self._http.get(f"{V1}/datasets", project_id=project_id)["datasets"]
        return [
            (
                load(Dataset, d["dataset"]),
                load(DatasetVersion, d["latest"]) if d["latest"] else None,
            )
            for d in data
        ]

    def add_version(
        self,
        dataset: Dataset,
        *,
        content_hash: str,
        kind: str,
        source: dict[str, Any],
        schema: list[dict[str, Any]],
        profile: dict[str, Any],
        num_rows: int | None,
        files: Sequence[DatasetFile],
        run_id: str | None = None,
    ) -> tuple[DatasetVersion, bool]:
        body = {
            "content_hash": content_hash,
            "kind": kind,
            "source": source,
            "schema": schema,
            "profile": profile,
            "num_rows": num_rows,
            "files": _items(self._http, [(f.path, f.blob_sha) for f in files]),
            "run_id": run_id,
        }
        data = self._http.post(f"{V1}/datasets/{int(dataset.id)}/versions", body)
        return load(DatasetVersion, data["version"]), bool(data["created"])

    def get_version(self, project_id: int, name: str, version: int | None = None) -> DatasetVersion:
        data = self._http.get(
            f"{V1}/datasets/version", project_id=project_id, name=name, version=version
        )
        return load(DatasetVersion, data)

    def get_version_by_id(self, version_id: int) -> DatasetVersion:
        return load(DatasetVersion, self._http.get(f"{V1}/dataset-versions/{int(version_id)}"))

    def versions(self, project_id: int, name: str) -> list[DatasetVersion]:
        data = self._http.get(f"{V1}/datasets/versions", project_id=project_id, name=name)
        return load(list[DatasetVersion], data["versions"])

    def files(self, version_id: int) -> list[DatasetFile]:
        data = self._http.get(f"{V1}/dataset-versions/{int(version_id)}/files")
        return load(list[DatasetFile], data["files"])

    def runs_of(self, version_id: int) -> list[tuple[str, str]]:
        data = self._http.get(f"{V1}/dataset-versions/{int(version_id)}/runs")
        return [(r["run_id"], r["direction"]) for r in data["runs"]]


__all__ = [
    "RemoteArtifactRepository",
    "RemoteDatasetRepository",
    "RemoteExperimentRepository",
    "RemoteProjectRepository",
    "RemoteRunRepository",
]
