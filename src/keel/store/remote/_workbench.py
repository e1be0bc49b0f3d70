"""Labeling, search, stored reports and sweeps over HTTP, generated from their protocols
and :data:`keel.store.wire_routes.ROUTES`. Written here: creating a sweep (an absent spec
goes as ``{}``); NaN checks of free-form attributes are declared on the routes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keel.store.protocols import Labeling, Reports, Search, Sweeps
from keel.store.remote._generate import finite, remote_repository
from keel.store.remote._http import Http
from keel.store.sweeps import Sweep
from keel.store.wire import load
from keel.store.wire_routes import ROUTES


class _Sweeps(Sweeps):
    _http: Http

    def create(
        self,
        project_id: int,
        name: str,
        *,
        directions: Sequence[str],
        spec: Mapping[str, Any] | None = None,
        fingerprint: str = "",
        run_id: str | None = None,
    ) -> Sweep:
        finite(spec, "a sweep spec")
        body = {
            "name": name,
            "directions": list(directions),
            "spec": dict(spec or {}),
            "fingerprint": fingerprint,
            "run_id": run_id,
        }
        return load(Sweep, self._http.post(f"/api/v1/projects/{int(project_id)}/sweeps", body))


RemoteLabeling = remote_repository(Labeling, ROUTES["labeling"])
RemoteSearch = remote_repository(Search, ROUTES["search"])
RemoteReports = remote_repository(Reports, ROUTES["reports"])
RemoteSweeps = remote_repository(Sweeps, ROUTES["sweeps"], _Sweeps)

__all__ = ["RemoteLabeling", "RemoteReports", "RemoteSearch", "RemoteSweeps"]
