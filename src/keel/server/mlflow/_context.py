"""The project an MLflow request works in, and access checks against it.

The server root serves the default project and ``/projects/<name>/`` every other one, so
``MLFLOW_TRACKING_URI=http://host:port/projects/churn`` points the mlflow client at the
``churn`` project. An id from another project is "does not exist" here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server._auth import Guard, principal, role_dependency
from keel.server._state import AppState, get_state
from keel.store import Experiment
from keel.store.users import Role

DEFAULT_EXPERIMENT = "Default"


@dataclass
class Ctx:
    st: AppState
    guard: Guard
    project_id: int
    _default_id: int | None = field(default=None, init=False, repr=False)

    def default_experiment_id(self, *, create: bool = False) -> int | None:
        """The id of this project's ``Default`` experiment, which the MLflow API calls "0"
        (created on first use, as MLflow's store has it from the start)."""
        if self._default_id is None:
            exps = self.st.store.experiments
            found = exps.find(self.project_id, DEFAULT_EXPERIMENT)
            if found is None and create:
                found = exps.get_or_create(self.project_id, DEFAULT_EXPERIMENT)
            self._default_id = found.id if found is not None else None
        return self._default_id

    def exp_str(self, exp_id: int) -> str:
        """An experiment id as the MLflow API shows it: "0" for the Default experiment."""
        return "0" if exp_id == self.default_experiment_id() else str(exp_id)

    def experiment_id(self, raw: str | int | None, *, create_default: bool = True) -> int:
        """A keel experiment id from MLflow's string id; ``"0"`` is the Default experiment."""
        text = str(raw if raw is not None else "").strip()
        if not text.isdigit() or len(text) > 18:
            raise InvalidArgumentError(f"experiment_id {text[:40]!r} is not an experiment id")
        if text == "0":
            found = self.default_experiment_id(create=create_default)
            if found is None:
                raise NotFoundError("experiment id 0 does not exist in this project")
            return found
        exp_id = int(text)
        if exp_id > 2**31 - 1 or self._project_of_experiment(exp_id) != self.project_id:
            raise NotFoundError(f"No Experiment with id={text} exists")
        return exp_id

    def experiment(self, raw: str | int | None) -> Experiment:
        return self.st.store.experiments.get(self.experiment_id(raw))

    def known_run(self, run_id: str | None) -> str | None:
        """``run_id`` if it names a run of this project, else None. An id keel does not know
        and a run of another project answer the same, so nothing leaks across projects;
        MLflow accepts such ids as plain references (a parent tag, a version's run_id)."""
        if not run_id or len(run_id) > 64:
            return None
        try:
            return self.run(run_id)
        except NotFoundError:
            return None

    def run(self, run_id: str | None) -> str:
        """Check a run id belongs to this project; returns it."""
        if not run_id:
            raise InvalidArgumentError(
                "Missing value for required parameter 'run_id'. See the API docs for more "
                "information about request parameters."
            )
        if len(run_id) > 64 or self._project_of_run(run_id) != self.project_id:
            raise NotFoundError(f"Run with id={run_id[:64]} not found")
        return run_id

    def _project_of_run(self, run_id: str) -> int | None:
        try:
            return self.st.project_of_run(run_id)
        except NotFoundError:
            return None

    def _project_of_experiment(self, exp_id: int) -> int | None:
        try:
            return self.st.project_of_experiment(exp_id)
        except NotFoundError:
            return None


def _project_id(st: AppState, request: Request, role: Role) -> int:
    """The root is the default project; ``/projects/<name>/`` must exist for a read, and
    a write may create it (see :meth:`AppState.project_id_for`)."""
    name = request.path_params.get("project")
    if name is None:
        return st.default_project_id
    return st.project_id_for(name, create=role is not Role.READER)


def _resolve(st: AppState, request: Request, role: Role) -> Ctx:
    guard = Guard(st, principal(request), role)
    project_id = _project_id(st, request, role)
    guard.project_id(project_id, "this project")
    return Ctx(st, guard, project_id)


async def _ctx(request: Request, role: Role) -> Ctx:
    st = get_state(request)
    if st.options.auth:  # credential and role lookups: off the event loop, in one hop
        return await run_in_threadpool(_resolve, st, request, role)
    return _resolve(st, request, role)  # the local admin; the project id is cached


mlflow_reader = role_dependency(_ctx, Role.READER)
mlflow_writer = role_dependency(_ctx, Role.WRITER)


__all__ = ["Ctx", "mlflow_reader", "mlflow_writer"]
