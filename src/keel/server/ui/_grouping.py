"""Run grouping on the compare page: runs that share a param's or tag's value become one
line per group in every chart, their mean with a band of one standard deviation (the
averaging is done in the browser, ``KeelCharts.aggregate``, over the bucketed series the
page already fetches, so grouping costs no extra request)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from keel.exceptions import InvalidArgumentError
from keel.store import Run

ENTITIES = ("params", "tags")
OWN_TAGS = ("keel.", "mlflow.")
NOT_SET = "(not set)"


@dataclass(frozen=True)
class Group:
    """Runs sharing one value of the grouping key."""

    label: str
    value: str
    runs: tuple[str, ...]


def groupable(runs: list[Run]) -> list[str]:
    """``params.<k>`` and ``tags.<k>`` keys that put at least two runs together (a run
    without the key is in the "not set" group): what the charts can group by."""
    out = []
    for entity in ENTITIES:
        keys = {k for r in runs for k in getattr(r, entity) if not k.startswith(OWN_TAGS)}
        for key in sorted(keys):
            values = {getattr(r, entity).get(key) for r in runs}
            if len(values) < len(runs):
                out.append(f"{entity}.{key}")
    return out


def _order(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order, then text, "not set" last."""
    if value == NOT_SET:
        return (2, 0.0, value)
    try:
        number = float(value)
    except ValueError:
        return (1, 0.0, value)
    return (0, number, value) if math.isfinite(number) else (1, 0.0, value)


def group_runs(runs: list[Run], key: str, choices: list[str]) -> list[Group]:
    """The runs split by ``key`` (one of ``choices``); empty when ``key`` is empty."""
    if not key:
        return []
    if key not in choices:
        offer = ", ".join(choices[:10]) or "none: every run has its own value"
        raise InvalidArgumentError(f"cannot group these runs by {key[:80]!r}; choose {offer}")
    entity, _, name = key.partition(".")
    members: dict[str, list[str]] = {}
    for run in runs:
        value = getattr(run, entity).get(name)
        members.setdefault(NOT_SET if value is None else str(value), []).append(run.id)
    return [
        Group(f"{name}={value}" if value != NOT_SET else f"{name} {NOT_SET}", value, tuple(ids))
        for value, ids in sorted(members.items(), key=lambda item: _order(item[0]))
    ]


__all__ = ["Group", "group_runs", "groupable"]
