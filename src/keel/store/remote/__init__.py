"""The remote backend: a :class:`~keel.store.Store` whose repositories talk to ``keel server``.

With ``KEEL_SERVER_URL`` (and ``KEEL_TOKEN``) set, :func:`keel.store.open_store` returns
this store, so the SDK and the CLI work unchanged against a team server. Its repositories
are generated from the protocols and :mod:`keel.store.wire_routes` (``_generate.py``);
repositories without an HTTP implementation yet raise a clear
:class:`~keel.exceptions.ConfigError` when used, instead of touching a database that is
not there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from keel.config import Settings
from keel.exceptions import ConfigError
from keel.store.protocols import (
    Alerts,
    Artifacts,
    Blobs,
    Comments,
    Datasets,
    Db,
    Deployments,
    Experiments,
    Labeling,
    LoggedModels,
    Monitors,
    PipelineRuns,
    Projects,
    Registry,
    Reports,
    Runs,
    Schedules,
    Search,
    StepCache,
    Sweeps,
    Users,
)
from keel.store.remote._accounts import RemoteComments, RemoteLoggedModels, RemoteUsers
from keel.store.remote._blobs import RemoteBlobStore
from keel.store.remote._http import Http
from keel.store.remote._ops import RemoteAlerts, RemoteDeployments, RemoteMonitors, RemoteRegistry
from keel.store.remote._pipelines import RemotePipelineRuns, RemoteSchedules, RemoteStepCache
from keel.store.remote._repos import (
    RemoteArtifacts,
    RemoteDatasets,
    RemoteExperiments,
    RemoteProjects,
    RemoteRuns,
)
from keel.store.remote._workbench import RemoteLabeling, RemoteReports, RemoteSearch, RemoteSweeps


def _not_remote(what: str) -> ConfigError:
    return ConfigError(
        f"{what} is not available through KEEL_SERVER_URL yet; run this where the server's "
        "database is (unset KEEL_SERVER_URL there)"
    )


class _Unavailable:
    """Stands in for a repository the HTTP backend does not implement."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> NoReturn:
        raise _not_remote(f"store.{self._name}.{attr}")


class RemoteDatabase:
    """No database on this side: every use names the server instead. Stands beside
    :class:`~keel.store.Database` behind the :class:`~keel.store.protocols.Db` protocol."""

    def __init__(self, http: Http) -> None:
        self.uri = http.base_url
        self.dialect = "remote"
        self._http = http

    def __getattr__(self, attr: str) -> NoReturn:
        raise _not_remote(f"store.db.{attr} (direct database access)")

    @contextmanager
    def write(self) -> Iterator[Any]:
        raise _not_remote("direct database access")
        yield  # pragma: no cover

    @contextmanager
    def read(self) -> Iterator[Any]:
        raise _not_remote("direct database access")
        yield  # pragma: no cover

    @contextmanager
    def cursor(self, *, write: bool) -> Iterator[Any]:
        raise _not_remote("direct database access")
        yield  # pragma: no cover

    @property
    def safe_uri(self) -> str:
        return self.uri

    def dispose(self) -> None:
        self._http.close()


def _repositories(http: Http) -> dict[str, object]:
    """The HTTP repositories, each typed by its protocol so that mypy checks it."""
    projects: Projects = RemoteProjects(http)
    experiments: Experiments = RemoteExperiments(http)
    runs: Runs = RemoteRuns(http)
    artifacts: Artifacts = RemoteArtifacts(http)
    datasets: Datasets = RemoteDatasets(http)
    registry: Registry = RemoteRegistry(http)
    pipeline_runs: PipelineRuns = RemotePipelineRuns(http)
    step_cache: StepCache = RemoteStepCache(http)
    schedules: Schedules = RemoteSchedules(http)
    deployments: Deployments = RemoteDeployments(http)
    monitors: Monitors = RemoteMonitors(http)
    alerts: Alerts = RemoteAlerts(http)
    search: Search = RemoteSearch(http)
    reports: Reports = RemoteReports(http)
    sweeps: Sweeps = RemoteSweeps(http)
    labeling: Labeling = RemoteLabeling(http)
    users: Users = RemoteUsers(http)
    comments: Comments = RemoteComments(http)
    logged_models: LoggedModels = RemoteLoggedModels(http)
    return {name: repo for name, repo in locals().items() if name != "http"}


def open_remote_store(settings: Settings) -> tuple[Db, Blobs, Callable[[str], Any]]:
    """The database stand-in, blob store and repository factory of a Store over HTTP for
    ``settings.server_url`` (:func:`keel.store.open_store` assembles the Store, so this
    package does not import its parent: no import cycle)."""
    if not settings.server_url:
        raise ConfigError("KEEL_SERVER_URL is empty; set it to http(s)://host:port")
    http = Http(settings.server_url, settings.token)
    remote = _repositories(http)
    db: Db = RemoteDatabase(http)
    blobs: Blobs = RemoteBlobStore(http)
    return db, blobs, lambda name: remote.get(name) or _Unavailable(name)


__all__ = ["RemoteBlobStore", "RemoteDatabase", "open_remote_store"]
