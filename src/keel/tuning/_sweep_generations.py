"""A sweep's generations: what it ran against, when to resume, re-tune or take over.

A generation is keyed by the fingerprints of the objective's code, the space and
directions, and the data. The same key resumes the newest generation; a new key marks the
old generation stale (saying what changed) and starts the next one, warm-started with the
best old configurations. Workers that start one new sweep at once share the oldest
generation, and a resumed sweep fails the RUNNING trials whose worker is gone.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

from keel.store import RunStatus
from keel.store.protocols import Sweeps
from keel.store.sweeps import Sweep, TrialState
from keel.tracking import TrackingClient, is_lost
from keel.tracking._lifecycle import owner_tags
from keel.tuning._space import Space

#: How many of the best old configurations a new generation tries first.
WARM_START = 5


def fingerprints(
    objective: Callable[..., Any], space: Space | None, directions: list[str], data: Any
) -> dict[str, str]:
    """What a sweep's results depend on, each part hashed on its own (to say what changed)."""
    from keel.pipelines import fingerprint
    from keel.pipelines._codeversion import code_version

    try:
        code = code_version(objective)
    except (OSError, TypeError):  # no source (a lambda in a REPL): fall back to the bytecode
        code = hashlib.sha256(repr(getattr(objective, "__code__", objective)).encode()).hexdigest()
    setup = json.dumps({"space": None if space is None else space.spec, "dirs": directions})
    return {
        "code": code[:16],
        "space": hashlib.sha256(setup.encode()).hexdigest()[:16],
        "data": "" if data is None else fingerprint(data)[:16],
    }


def generation_spec(
    objective: Callable[..., Any],
    name: str,
    space: Space | None,
    directions: list[str],
    parts: dict[str, str],
    engines: dict[str, Any],
) -> dict[str, Any]:
    """What a generation records about how it searches (shown by ``keel sweep show``)."""
    sampler, pruner = engines["sampler"], engines["pruner"]
    return {
        "objective": f"{getattr(objective, '__module__', '')}:{name}",
        "space": None if space is None else space.spec,
        "directions": directions,
        "metric": engines["metric"],
        "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
        "pruner": pruner if pruner is None or isinstance(pruner, str) else type(pruner).__name__,
        "trials": engines["trials"],
        "fingerprints": parts,
    }


def current_generation(
    client: TrackingClient,
    name: str,
    parts: dict[str, str],
    directions: list[str],
    spec: dict[str, Any],
    experiment_id: int,
) -> tuple[Sweep, Sweep | None]:
    """The generation to run: the newest when nothing changed, else a new one (and the
    previous, to warm-start from)."""
    repo, pid = client.store.sweeps, client.project.id
    key = "-".join(parts[k] for k in ("code", "space", "data"))
    existing = repo.find(pid, name)
    if existing is not None and existing.fingerprint == key and existing.status != "stale":
        # the newest may be a losing twin that its worker is about to delete
        return _oldest_twin(repo, pid, name, key) or existing, None
    previous = None
    if existing is not None and existing.status != "stale":
        old = existing.spec.get("fingerprints", {})
        changed = [k for k in ("code", "data", "space") if old.get(k) != parts[k]] or ["setup"]
        previous = repo.mark_stale(
            pid, existing.id, reason=f"{' and '.join(changed)} changed since this generation"
        )
    tags = {**owner_tags(), "keel.sweep": name, "keel.kind": "sweep"}
    run = client.store.runs.create(experiment_id, name=f"sweep-{name}", tags=tags)
    created = repo.create(
        pid, name, directions=directions, spec=spec, fingerprint=key, run_id=run.id
    )
    winner = _oldest_twin(repo, pid, name, key) or created
    if winner.id != created.id:
        repo.delete(pid, created.id)
        client.store.runs.delete(run.id)
        return winner, None
    client.set_tags(run.id, {"keel.sweep.generation": str(created.generation)})
    return created, previous


def _oldest_twin(repo: Sweeps, pid: int, name: str, key: str) -> Sweep | None:
    """Workers starting the same new sweep at once each create a generation with the same
    key: the oldest live one wins, the others are deleted by the workers that made them."""
    twins = [g for g in repo.list(pid, name=name) if g.fingerprint == key and g.status != "stale"]
    return min(twins, key=lambda g: g.generation, default=None)


def warm_start(client: TrackingClient, study: Any, previous: Sweep, space: Space | None) -> int:
    """Enqueue the best configurations of ``previous`` (that fit the space) first."""
    from keel.tuning._sweep_params import external_params

    repo, pid = client.store.sweeps, client.project.id
    done = [t for t in repo.trials(pid, previous.id, states=[TrialState.COMPLETE]) if t.values]
    sign = -1.0 if previous.directions[0] == "maximize" else 1.0
    done.sort(key=lambda t: sign * (t.values or [math.inf])[0])
    names = None if space is None else set(space.spec)
    n = 0
    for trial in done[:WARM_START]:
        params = external_params(trial)
        if names is not None:
            params = {k: v for k, v in params.items() if k in names}
        if params:
            study.enqueue_trial(params, user_attrs={"keel.warm_start_from": trial.number})
            n += 1
    return n


def fail_lost_trials(client: TrackingClient, current: Sweep) -> int:
    """Fail the RUNNING trials whose worker is gone (killed, its machine down): their runs
    are lost by keel's run heartbeat, so resuming does not wait for them forever."""
    from keel.store.sweeps import TrialPatch

    repo, pid = client.store.sweeps, client.project.id
    n = 0
    for trial in repo.trials(pid, current.id, states=[TrialState.RUNNING]):
        if not trial.run_id:
            continue
        run = client.store.runs.get(trial.run_id)
        if not is_lost(run):
            continue
        host = run.tags.get("keel.host", "?")
        pid_tag = run.tags.get("keel.pid", "?")
        reason = f"its worker (host {host}, pid {pid_tag}) stopped; failed when the sweep resumed"
        repo.update_trial(pid, trial.id, TrialPatch(state=TrialState.FAIL, reason=reason))
        client.store.runs.log_batch(trial.run_id, tags={"keel.error": reason})
        client.store.runs.update(trial.run_id, status=RunStatus.FAILED)
        n += 1
    return n


__all__ = [
    "WARM_START",
    "current_generation",
    "fail_lost_trials",
    "fingerprints",
    "generation_spec",
    "warm_start",
]
