"""Pipeline runs, the step cache and schedules over HTTP, generated from their protocols
and :data:`keel.store.wire_routes.ROUTES`.

Written here: recording steps and deleting cache keys (no request for nothing) and listing
schedules (of one project or of all). A scheduler's own bookkeeping (heartbeats, expiring
lost leases, leaving) is refused: the scheduler runs next to the database, so that its
leases live in the database's transactions.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence

from keel.store.pipelines import ChildRun, Schedule, StepRunInfo
from keel.store.protocols import PipelineRuns, Schedules, StepCache
from keel.store.remote._generate import ServerOnly, remote_repository
from keel.store.remote._http import V1, Http
from keel.store.wire import load
from keel.store.wire_routes import ROUTES


class _PipelineRuns(PipelineRuns):
    _http: Http

    def record_steps(
        self,
        pipeline_run_id: str,
        steps: Sequence[StepRunInfo],
        *,
        new_runs: Sequence[ChildRun] = (),
    ) -> None:
        if steps or new_runs:
            from urllib.parse import quote

            path = f"{V1}/pipeline-runs/{quote(pipeline_run_id, safe='')}/steps"
            self._http.post(path, {"steps": list(steps), "new_runs": list(new_runs)})


class _StepCache(StepCache):
    _http: Http

    def delete(self, project_id: int, keys: Iterable[str]) -> int:
        keys = builtins.list(keys)
        if not keys:
            return 0
        path = f"{V1}/projects/{int(project_id)}/step-cache/delete"
        return int(self._http.post(path, {"keys": keys})["deleted"])


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


RemotePipelineRuns = remote_repository(PipelineRuns, ROUTES["pipeline_runs"], _PipelineRuns)
RemoteStepCache = remote_repository(StepCache, ROUTES["step_cache"], _StepCache)
RemoteSchedules = remote_repository(Schedules, ROUTES["schedules"], _Schedules)

__all__ = ["RemotePipelineRuns", "RemoteSchedules", "RemoteStepCache"]
