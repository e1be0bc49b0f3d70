"""What every request handler shares: one Store per app, the options, the lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from fastapi import Request

from keel.exceptions import NotFoundError
from keel.server._options import ServerOptions
from keel.store import Store


@dataclass
class AppState:
    """Built once by :func:`~keel.server.create_app`; read-only afterwards (worker-safe).

    The caches hold only facts that never change (which experiment a run belongs to,
    which project an experiment belongs to, a project's id), so several workers never
    disagree.
    """

    store: Store
    options: ServerOptions
    default_project_id: int
    receipt_key: bytes = field(repr=False, default=b"")

    def __post_init__(self) -> None:
        self.project_of_experiment = lru_cache(maxsize=65536)(self._project_of_experiment)
        self.experiment_of_run = lru_cache(maxsize=262144)(self._experiment_of_run)
        self.project_id_by_name = lru_cache(maxsize=4096)(self._project_id_by_name)

    def _project_id_by_name(self, name: str) -> int:
        return self.store.projects.get(name).id

    def project_id_for(self, name: str, *, create: bool = False) -> int:
        """The id of the project ``name``, resolved once per request at the edge.

        A read never creates one: a misspelt project URL is a 404 naming it. A write
        (``create``) on one person's server (no auth) makes it, as a write in the CLI does,
        so a new project URL just works for ``mlflow.start_run()``; with auth an admin
        creates projects.
        """
        try:
            return self.project_id_by_name(name)
        except NotFoundError:
            if self.options.auth or not create:
                who = "an admin" if self.options.auth else "a write (an experiment, a run)"
                raise NotFoundError(f"project {name!r} does not exist; {who} creates it") from None
        self.store.projects.get_or_create(name)
        return self.project_id_by_name(name)

    def _project_of_experiment(self, experiment_id: int) -> int:
        return self.store.experiments.get(experiment_id).project_id

    def _experiment_of_run(self, run_id: str) -> int:
        return self.store.runs.get_info(run_id).experiment_id

    def project_of_run(self, run_id: str) -> int:
        return self.project_of_experiment(self.experiment_of_run(run_id))


def get_state(request: Request) -> AppState:
    st: AppState = request.app.state.keel
    return st


async def state(request: Request) -> AppState:
    """The app's state as a dependency (``async``: no thread hop for a field read)."""
    st: AppState = request.app.state.keel
    return st


__all__ = ["AppState", "get_state", "state"]
