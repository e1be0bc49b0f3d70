"""Pipeline runs, the step cache and schedules over HTTP, generated from their protocols
and :data:`keel.store.wire_routes.ROUTES`.

Written here: listing schedules (of one project or of all). A scheduler's own bookkeeping
(heartbeats, expiring lost leases, leaving) is refused: the scheduler runs next to the
database, so that its leases live in the database's transactions.
"""

from __future__ import annotations

from keel.store.pipelines import Schedule
from keel.store.protocols import PipelineRuns, Schedules, StepCache
from keel.store.remote._generate import ServerOnly, remote_repository
from keel.store.remote._http import V1, Http
from keel.store.wire import load
from keel.store.wire_routes import ROUTES

_SCHEDULER = (
    "{} is the scheduler's own bookkeeping and is not served through KEEL_SERVER_URL; run "
    "`keel scheduler` where the server's database is (without KEEL_SERVER_URL)"
)


class _Schedules(Schedules):
    _http: Http

    def list(self, project_id: int | None = None, *, enabled_only: bool = False) -> list[Schedule]:
        """Schedules of one project, or of every project this caller can see."""
        mine = "" if project_id is None else f"/projects/{int(project_id)}"
        data = self._http.get(f"{V1}{mine}/schedules", enabled_only=enabled_only)
        return load(list[Schedule], data["schedules"])

    expire_lost = ServerOnly(_SCHEDULER.format("expiring lost schedule fires"))  # type: ignore[assignment]
    heartbeat = ServerOnly(_SCHEDULER.format("a scheduler heartbeat"))  # type: ignore[assignment]
    leave = ServerOnly(_SCHEDULER.format("a scheduler leaving"))  # type: ignore[assignment]


RemotePipelineRuns = remote_repository(PipelineRuns, ROUTES["pipeline_runs"])
RemoteStepCache = remote_repository(StepCache, ROUTES["step_cache"])
RemoteSchedules = remote_repository(Schedules, ROUTES["schedules"], _Schedules)

__all__ = ["RemotePipelineRuns", "RemoteSchedules", "RemoteStepCache"]
