"""Projects, experiments, runs, artifacts and datasets over HTTP.

Generated from their protocols and :data:`keel.store.wire_routes.ROUTES`; written here are
only the methods that do more than one plain request: the shorthands of ``log_batch`` and
``find``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel.exceptions import NotFoundError
from keel.store.entities import Experiment, Metric
from keel.store.protocols import Artifacts, Datasets, Experiments, Projects, Runs
from keel.store.remote._generate import remote_repository
from keel.store.remote._http import Http
from keel.store.wire_routes import ROUTES


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


RemoteProjects = remote_repository(Projects, ROUTES["projects"])
RemoteExperiments = remote_repository(Experiments, ROUTES["experiments"], _Experiments)
RemoteRuns = remote_repository(Runs, ROUTES["runs"], _Runs)
RemoteArtifacts = remote_repository(Artifacts, ROUTES["artifacts"])
RemoteDatasets = remote_repository(Datasets, ROUTES["datasets"])

__all__ = [
    "RemoteArtifacts",
    "RemoteDatasets",
    "RemoteExperiments",
    "RemoteProjects",
    "RemoteRuns",
]
