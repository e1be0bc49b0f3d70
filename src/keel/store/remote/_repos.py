"""Projects, experiments, runs, artifacts and datasets over HTTP.

Generated from their protocols and :data:`keel.store.wire_routes.ROUTES`; written here are
only the methods that do more than one plain request: recording artifacts (each item with
its upload receipt), the shorthands of ``log_batch`` and ``find``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from keel.exceptions import NotFoundError
from keel.store.blobs import BlobRef
from keel.store.entities import ArtifactInfo, Experiment, Metric
from keel.store.protocols import Artifacts, Datasets, Experiments, Projects, Runs
from keel.store.remote._generate import remote_repository
from keel.store.remote._http import V1, Http
from keel.store.wire import load
from keel.store.wire_routes import ROUTES


def receipted(http: Http, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Files to record (path, blob sha), each with this client's upload receipt."""
    return [{"path": p, "sha": sha, "receipt": http.receipt(sha)} for p, sha in pairs]


def run_path(run_id: str, tail: str = "") -> str:
    return f"{V1}/runs/{quote(run_id, safe='')}{tail}"


class _Experiments(Experiments):
    def find(self, project_id: int, name: str) -> Experiment | None:
        try:
            return self.get_by_name(project_id, name)
        except NotFoundError:
            return None


class _Runs(Runs):
    _http: Http

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.log_batch(run_id, tags=tags)


class _Artifacts(Artifacts):
    _http: Http

    def add(self, run_id: str, items: list[tuple[str, BlobRef]]) -> list[ArtifactInfo]:
        body = {"items": receipted(self._http, [(p, r.sha) for p, r in items])}
        data = self._http.post(run_path(run_id, "/artifacts"), body)
        return load(list[ArtifactInfo], data["artifacts"])


RemoteProjects = remote_repository(Projects, ROUTES["projects"])
RemoteExperiments = remote_repository(Experiments, ROUTES["experiments"], _Experiments)
RemoteRuns = remote_repository(Runs, ROUTES["runs"], _Runs)
RemoteArtifacts = remote_repository(Artifacts, ROUTES["artifacts"], _Artifacts)
RemoteDatasets = remote_repository(Datasets, ROUTES["datasets"])

__all__ = [
    "RemoteArtifacts",
    "RemoteDatasets",
    "RemoteExperiments",
    "RemoteProjects",
    "RemoteRuns",
    "receipted",
    "run_path",
]
