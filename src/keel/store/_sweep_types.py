"""The sweeps area's value types (a sweep, a trial, its outline and a patch) and how a
stored row becomes one: the JSON fields are decoded here, once per row read.

Part of :mod:`keel.store.sweeps` (import them from there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from sqlalchemy import Row


class TrialState(StrEnum):
    """Optuna's trial states, by the same names."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"
    WAITING = "WAITING"

    @property
    def is_finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass(frozen=True, slots=True)
class Sweep:
    id: int
    project_id: int
    name: str
    generation: int
    directions: list[str]
    spec: dict[str, Any]
    fingerprint: str
    run_id: str | None
    status: str
    reason: str
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Trial:
    id: int
    sweep_id: int
    number: int
    state: TrialState
    values: list[float] | None
    params: dict[str, float]
    distributions: dict[str, str]
    intermediate: dict[int, float]
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]
    run_id: str | None
    reason: str
    stale: bool
    started_at: int | None
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class TrialPoint:
    """A trial's outline: what a summary page needs of every trial (its first value only)."""

    id: int
    number: int
    state: TrialState
    value: float | None


@dataclass(frozen=True, slots=True)
class TrialPatch:
    """What to change on a trial; the mappings are merged into what it holds."""

    state: TrialState | None = None
    values: list[float] | None = None
    params: dict[str, float] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)
    intermediate: dict[int, float] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    reason: str | None = None


def _loads(text: str | None, default: Any) -> Any:
    """A stored JSON field (orjson: a 10,000-trial sweep page reads 60,000 of them)."""
    if not text or text == "null":
        return default
    if text == "{}":
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN or Infinity, which Python's json writes and orjson refuses
        return json.loads(text)


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{what} is not JSON: {exc}") from exc


def _sweep(row: Row | dict[str, Any]) -> Sweep:
    d: dict[str, Any] = dict(getattr(row, "_mapping", row))  # Core row or driver record
    return Sweep(
        id=d["id"],
        project_id=d["project_id"],
        name=d["name"],
        generation=d["generation"],
        directions=_loads(d["directions_json"], []),
        spec=_loads(d["spec_json"], {}),
        fingerprint=d["fingerprint"],
        run_id=d["run_id"],
        status=d["status"],
        reason=d["reason"],
        user_attrs=_loads(d["user_attrs_json"], {}),
        system_attrs=_loads(d["system_attrs_json"], {}),
        created_at=d["created_at"],
        updated_at=d["updated_at"],
    )


def _trial(row: Row | dict[str, Any]) -> Trial:
    d: Any = getattr(row, "_mapping", row)  # a Core row or a driver-level record
    return Trial(
        id=d["id"],
        sweep_id=d["sweep_id"],
        number=d["number"],
        state=TrialState(d["state"]),
        values=_loads(d["values_json"], None),
        params=_loads(d["params_json"], {}),
        distributions=_loads(d["distributions_json"], {}),
        intermediate={int(k): v for k, v in _loads(d["intermediate_json"], {}).items()},
        user_attrs=_loads(d["user_attrs_json"], {}),
        system_attrs=_loads(d["system_attrs_json"], {}),
        run_id=d["run_id"],
        reason=d["reason"],
        stale=bool(d["stale"]),
        started_at=d["started_at"],
        finished_at=d["finished_at"],
    )


__all__ = ["Sweep", "Trial", "TrialPatch", "TrialPoint", "TrialState"]
