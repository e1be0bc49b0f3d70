"""The HTTP twin of :class:`keel.store.sweeps.SweepRepository` (``/api/v1/.../sweeps``)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.store.remote._http import Http
from keel.store.sweeps import Sweep, Trial, TrialPatch, TrialPoint, TrialState
from keel.store.wire import load

V1 = "/api/v1"


def _finite(value: Any, what: str) -> None:
    """Refuse NaN and infinity in JSON attributes before sending: strict JSON has no form."""
    try:
        json.dumps(value, allow_nan=False, default=str)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} must not hold NaN or infinity: {exc}") from exc


class RemoteSweepRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    @staticmethod
    def _sweeps(project_id: int, tail: str = "") -> str:
        return f"{V1}/projects/{int(project_id)}/sweeps{tail}"

    @staticmethod
    def _trial(project_id: int, trial_id: int, tail: str = "") -> str:
        return f"{V1}/projects/{int(project_id)}/trials/{int(trial_id)}{tail}"

    # -- sweeps ----------------------------------------------------------------------------
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
        _finite(spec, "a sweep spec")
        body = {
            "name": name,
            "directions": list(directions),
            "spec": dict(spec or {}),
            "fingerprint": fingerprint,
            "run_id": run_id,
        }
        return load(Sweep, self._http.post(self._sweeps(project_id), body))

    def get(self, project_id: int, name: str, *, generation: int | None = None) -> Sweep:
        data = self._http.get(self._sweeps(project_id, "/lookup"), name=name, generation=generation)
        return load(Sweep, data)

    def find(self, project_id: int, name: str) -> Sweep | None:
        data = self._http.get(self._sweeps(project_id, "/find"), name=name)
        return load(Sweep | None, data["sweep"])  # type: ignore[arg-type]

    def get_by_id(self, project_id: int, sweep_id: int) -> Sweep:
        return load(Sweep, self._http.get(self._sweeps(project_id, f"/{int(sweep_id)}")))

    def list(self, project_id: int, *, name: str | None = None) -> builtins.list[Sweep]:
        data = self._http.get(self._sweeps(project_id), name=name)
        return load(list[Sweep], data["sweeps"])

    def update(
        self,
        project_id: int,
        sweep_id: int,
        *,
        status: str | None = None,
        reason: str | None = None,
        run_id: str | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> Sweep:
        _finite(user_attrs, "sweep attributes")
        _finite(system_attrs, "sweep attributes")
        body = {
            "status": status,
            "reason": reason,
            "run_id": run_id,
            "user_attrs": None if user_attrs is None else dict(user_attrs),
            "system_attrs": None if system_attrs is None else dict(system_attrs),
        }
        path = self._sweeps(project_id, f"/{int(sweep_id)}")
        return load(Sweep, self._http.patch(path, body))

    def mark_stale(self, project_id: int, sweep_id: int, *, reason: str) -> Sweep:
        path = self._sweeps(project_id, f"/{int(sweep_id)}/stale")
        return load(Sweep, self._http.post(path, {"reason": reason}))

    def delete(self, project_id: int, sweep_id: int) -> None:
        self._http.delete(self._sweeps(project_id, f"/{int(sweep_id)}"))

    # -- trials ----------------------------------------------------------------------------
    def add_trial(self, project_id: int, sweep_id: int, patch: TrialPatch | None = None) -> Trial:
        if patch is not None:
            _finite(patch.user_attrs, "trial attributes")
            _finite(patch.system_attrs, "trial attributes")
        path = self._sweeps(project_id, f"/{int(sweep_id)}/trials")
        return load(Trial, self._http.post(path, patch))

    def claim_trial(self, project_id: int, trial_id: int) -> bool:
        return bool(self._http.post(self._trial(project_id, trial_id, "/claim"), {})["claimed"])

    def update_trial(self, project_id: int, trial_id: int, patch: TrialPatch) -> Trial:
        _finite(patch.user_attrs, "trial attributes")
        _finite(patch.system_attrs, "trial attributes")
        return load(Trial, self._http.patch(self._trial(project_id, trial_id), patch))

    def get_trial(self, project_id: int, trial_id: int) -> Trial:
        return load(Trial, self._http.get(self._trial(project_id, trial_id)))

    def trials(
        self,
        project_id: int,
        sweep_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        after_id: int = -1,
        ids: Sequence[int] = (),
    ) -> builtins.list[Trial]:
        body = {
            "states": None if states is None else [TrialState(s).value for s in states],
            "after_id": after_id,
            "ids": [int(i) for i in ids],
        }
        path = self._sweeps(project_id, f"/{int(sweep_id)}/trials/search")
        return load(list[Trial], self._http.post(path, body)["trials"])

    def outline(self, project_id: int, sweep_id: int) -> builtins.list[TrialPoint]:
        path = self._sweeps(project_id, f"/{int(sweep_id)}/outline")
        return load(list[TrialPoint], self._http.get(path)["trials"])

    def pick(self, project_id: int, sweep_id: int, ids: Sequence[int]) -> builtins.list[Trial]:
        path = self._sweeps(project_id, f"/{int(sweep_id)}/trials/pick")
        body = {"ids": [int(i) for i in ids]}
        return load(list[Trial], self._http.post(path, body)["trials"])

    def counts(self, project_id: int) -> dict[int, dict[str, int]]:
        found = self._http.get(self._sweeps(project_id, "/counts"))["counts"]
        return {int(k): {str(s): int(n) for s, n in v.items()} for k, v in found.items()}


__all__ = ["RemoteSweepRepository"]
