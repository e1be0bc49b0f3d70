"""Schedules: run a pipeline on a cron expression or when a trigger fires.

A trigger is a *kind* plus a *ref*, watched by a probe that returns the current state of
what it watches (``dataset:customers`` -> the newest version number). When the state
differs from the one seen when the schedule was added and that occurrence has not fired
yet, the pipeline runs once. Kinds: ``dataset`` and ``model-alias`` (built in: they read the
store) and ``alert`` (its probe comes with ``keel.monitoring`` through the
``keel.trigger_probes`` entry point group; :func:`register_trigger` adds more). A trigger
naming a dataset, model or deployment that does not exist is refused when it is added.

Catch-up policy for cron schedules, after the scheduler was down (``--catch-up``):

- ``latest`` (default): fire once, for the most recent missed occurrence; skip older ones.
- ``all``: fire every missed occurrence, oldest first (at most 100 per scheduler tick).
- ``none``: skip missed occurrences; fire only those due within the last ``grace`` seconds.

Occurrences due before the schedule was added never fire. Times are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.store import Store
from keel.store._db import now_ms
from keel.store.pipelines import Schedule

CATCH_UP = ("latest", "all", "none")
TRIGGER_KINDS = ("dataset", "model-alias", "alert")
MAX_CATCH_UP = 100

#: ``probe(store, project_id, ref) -> state token`` (None while the thing does not exist).
TriggerProbe = Callable[[Store, int, str], str | None]
_PROBES: dict[str, TriggerProbe] = {}


def register_trigger(kind: str, probe: TriggerProbe) -> None:
    """Teach schedulers how to watch a trigger kind (``model-alias``, ``alert`` ...)."""
    _PROBES[kind] = probe


def probe_for(kind: str) -> TriggerProbe | None:
    if kind not in _PROBES:
        from importlib.metadata import entry_points

        for ep in entry_points(group="keel.trigger_probes"):
            if ep.name == kind:
                _PROBES[kind] = ep.load()
    return _PROBES.get(kind)


def _dataset_probe(store: Store, project_id: int, ref: str) -> str | None:
    from keel.exceptions import NotFoundError

    try:
        return str(store.datasets.get_version(project_id, ref).version)
    except NotFoundError:
        return None


def _split_alias(ref: str) -> tuple[str, str]:
    name, sep, alias = ref.partition("@")
    if not sep or not name.strip() or not alias.strip() or alias.strip().isdigit():
        raise InvalidArgumentError(
            f"model-alias trigger {ref!r} must name a model and an alias: MODEL@ALIAS, "
            "e.g. model-alias:churn@champion"
        )
    return name.strip(), alias.strip()


def _model_alias_probe(store: Store, project_id: int, ref: str) -> str | None:
    """The version number the alias points at (None while it is not set)."""
    from keel.exceptions import NotFoundError

    name, alias = _split_alias(ref)
    try:
        return str(store.registry.get_by_alias(project_id, name, alias).version)
    except NotFoundError:
        return None


register_trigger("dataset", _dataset_probe)
register_trigger("model-alias", _model_alias_probe)


def check_trigger_target(store: Store, project_id: int, kind: str, ref: str) -> None:
    """Refuse a trigger on a dataset, model or deployment that does not exist (yet)."""
    from keel.exceptions import NotFoundError

    project = store.projects.get_by_id(project_id).name
    if kind == "dataset":
        try:
            store.datasets.get_version(project_id, ref)
        except NotFoundError:
            raise NotFoundError(
                f"trigger dataset:{ref} names dataset {ref!r}, which project {project!r} does "
                "not have; log a first version of it before scheduling on it"
            ) from None
    elif kind == "model-alias":
        name, _alias = _split_alias(ref)
        try:
            store.registry.get_model(project_id, name)
        except NotFoundError:
            raise NotFoundError(
                f"trigger model-alias:{ref} names model {name!r}, which project {project!r} "
                "has not registered; register a version of it first"
            ) from None
    elif kind == "alert" and not _deployment_exists(store, project_id, ref):
        raise NotFoundError(
            f"trigger alert:{ref} names no deployment or monitor of project {project!r}; use "
            "alert:DEPLOYMENT or alert:DEPLOYMENT/KIND with a deployment that exists"
        )


def _deployment_exists(store: Store, project_id: int, ref: str) -> bool:
    """``churn``, ``churn/drift`` or ``churn-drift``: some prefix names a deployment or monitor."""
    head = ref.partition("/")[0]
    parts = head.split("-")
    candidates = ["-".join(parts[:i]) for i in range(len(parts), 0, -1)]
    return any(
        store.deployments.find(project_id, name) is not None
        or store.monitors.find(project_id, name) is not None
        for name in candidates
    )


def parse_trigger(text: str) -> tuple[str, str]:
    """``dataset:customers`` -> (``dataset``, ``customers``)."""
    kind, sep, ref = text.partition(":")
    kind = kind.strip().lower().replace("_", "-")
    if not sep or not ref.strip() or kind not in TRIGGER_KINDS:
        raise InvalidArgumentError(
            f"trigger {text!r} must be KIND:REF with KIND one of {', '.join(TRIGGER_KINDS)}, "
            "e.g. dataset:customers, model-alias:churn@champion or alert:churn-drift"
        )
    return kind, ref.strip()


def check_cron(expression: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise InvalidArgumentError(
            f"cron expression {expression!r} is not valid; use five fields such as "
            "'0 3 * * *' (03:00 every day) or six with seconds last ('* * * * * */10')"
        )
    return expression


def add_schedule(
    store: Store,
    project: str,
    name: str,
    *,
    target: str,
    cron: str | None = None,
    on: str | None = None,
    params: Mapping[str, str] | None = None,
    runner: Mapping[str, Any] | None = None,
    catch_up: str = "latest",
    check_target: bool = True,
) -> Schedule:
    """Store a schedule; the target and its parameters are checked now, not at 3 a.m."""
    if (cron is None) == (on is None):
        raise InvalidArgumentError("give exactly one of --cron EXPRESSION or --on KIND:REF")
    if catch_up not in CATCH_UP:
        raise InvalidArgumentError(
            f"catch-up must be one of {', '.join(CATCH_UP)}, not {catch_up!r}"
        )
    target = absolute_target(target)
    if check_target:
        from keel.pipelines._loader import load_pipeline

        load_pipeline(target).resolve(strings=dict(params or {}))
    project_id = store.projects.get_or_create(project).id
    kind = ref = None
    baseline = ""
    if cron is not None:
        check_cron(cron)
    else:
        assert on is not None
        kind, ref = parse_trigger(on)
        check_trigger_target(store, project_id, kind, ref)
        probe = probe_for(kind)
        baseline = (probe(store, project_id, ref) if probe else None) or ""
    return store.schedules.add(
        project_id,
        name,
        target=target,
        params=dict(params or {}),
        runner=dict(runner or {}),
        cron=cron,
        trigger_kind=kind,
        trigger_ref=ref,
        trigger_baseline=baseline,
        catch_up=catch_up,
    )


def absolute_target(target: str) -> str:
    """``file.py:fn`` with the file made absolute, so a scheduler started elsewhere finds it."""
    module, sep, attr = target.rpartition(":")
    if sep and (module.endswith(".py") or "/" in module):
        from pathlib import Path

        return f"{Path(module).expanduser().absolute()}:{attr}"
    return target


@dataclass(frozen=True)
class Occurrence:
    key: str  # unique per schedule: what the claim row holds
    due_at: int  # milliseconds


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def cron_occurrences(
    schedule: Schedule, *, now: int, last_due: int | None, grace_ms: int
) -> list[Occurrence]:
    """The occurrences of a cron schedule to fire now, under its catch-up policy."""
    from croniter import croniter

    assert schedule.cron is not None
    start = max(schedule.created_at, last_due or 0)
    it = croniter(schedule.cron, _utc(start))
    due: list[int] = []
    while True:
        nxt = int(it.get_next(dt.datetime).timestamp() * 1000)
        if nxt > now:
            break
        if nxt > start:
            due.append(nxt)
        if schedule.catch_up == "all" and len(due) >= MAX_CATCH_UP:
            break
        if len(due) > 10 * MAX_CATCH_UP:  # a long outage on a fast cron: keep the tail
            due = due[-MAX_CATCH_UP:]
    if schedule.catch_up == "latest":
        due = due[-1:]
    elif schedule.catch_up == "none":
        due = [d for d in due if now - d <= grace_ms]
    return [Occurrence(f"cron:{_utc(d).isoformat()}", d) for d in due]


def next_cron(schedule: Schedule, *, after: int | None = None) -> int | None:
    if schedule.cron is None:
        return None
    from croniter import croniter

    it = croniter(schedule.cron, _utc(after or now_ms()))
    return int(it.get_next(dt.datetime).timestamp() * 1000)


def trigger_occurrence(store: Store, schedule: Schedule) -> Occurrence | str | None:
    """The trigger's pending occurrence; None when nothing changed; a message when the
    trigger kind has no probe in this installation."""
    assert schedule.trigger_kind is not None and schedule.trigger_ref is not None
    probe = probe_for(schedule.trigger_kind)
    if probe is None:
        return (
            f"no probe for trigger kind {schedule.trigger_kind!r} is installed; the schedule "
            "waits until the package that provides it is"
        )
    state = probe(store, schedule.project_id, schedule.trigger_ref)
    if state is None or state == schedule.trigger_baseline:
        return None
    return Occurrence(f"{schedule.trigger_kind}:{schedule.trigger_ref}#{state}", now_ms())
