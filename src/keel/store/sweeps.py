"""Hyper-parameter sweeps: a sweep (one Optuna study) and its trials.

A sweep is one generation of a named search: the same spec run again resumes the newest
generation; when the objective's code or its data changed, the caller starts the next
generation and :meth:`SweepRepository.mark_stale` marks the older one and its trials
stale. Trials carry Optuna's own vocabulary (states, internal param floats, distribution
JSON) without importing Optuna: the store only keeps them.

Two rules keep parallel workers honest: a trial's number is unique within its sweep (a
racing insert retries with the next number), and :meth:`SweepRepository.claim_trial` moves
a WAITING trial to RUNNING only if it is still WAITING, so one queued trial runs once.
A finished trial (COMPLETE, PRUNED, FAIL) is never changed again, except to be marked
stale. Every method runs its own transaction (thread-safe).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConflictError, InvalidArgumentError, NotFoundError
from keel.store._db import SqlRepository, given, now_ms
from keel.store._lazy import Tables
from keel.store._rows import records
from keel.store._sweep_types import (
    Sweep,
    Trial,
    TrialPatch,
    TrialPoint,
    TrialState,
    _dumps,
    _loads,
    _sweep,
    _trial,
)
from keel.store._validate import check_name

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Row
else:
    from keel.store._lazy import sa

# Core tables, built (and SQLAlchemy imported) on first use: `keel sweep show` reads in
# driver-level SQL and needs neither
_t = Tables(SW="keel.store._schema_sweeps:SweepRow", TR="keel.store._schema_sweeps:SweepTrialRow")

DIRECTIONS = ("minimize", "maximize")
SWEEP_STATUSES = ("running", "finished", "failed", "stale")


def _check_directions(directions: Sequence[str]) -> list[str]:
    out = [str(d).lower() for d in directions]
    if not out or any(d not in DIRECTIONS for d in out):
        raise InvalidArgumentError(
            f"sweep directions {list(directions)!r} must be one or more of minimize, maximize"
        )
    return out


def _missing_sweep(what: str) -> NotFoundError:
    return NotFoundError(f"sweep {what} does not exist; list them with `keel sweep list`")


class SweepRepository(SqlRepository):
    """Create sweeps, add and claim trials, record what trials found."""

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
        """The next generation of sweep ``name`` (1 for a new name)."""
        check_name("sweep", name)
        dirs = _check_directions(directions)
        spec_json = _dumps(dict(spec or {}), "a sweep spec")
        for _attempt in range(5):
            now = now_ms()
            try:
                with self._db.write() as conn:
                    top = conn.execute(
                        sa.select(sa.func.max(_t.SW.c.generation)).where(
                            _t.SW.c.project_id == project_id, _t.SW.c.name == name
                        )
                    ).scalar()
                    sweep_id = conn.execute(
                        sa.insert(_t.SW)
                        .values(
                            project_id=project_id,
                            name=name,
                            generation=(top or 0) + 1,
                            directions_json=json.dumps(dirs),
                            spec_json=spec_json,
                            fingerprint=fingerprint[:128],
                            run_id=run_id,
                            status="running",
                            reason="",
                            user_attrs_json="{}",
                            system_attrs_json="{}",
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(_t.SW.c.id)
                    ).scalar_one()
                    return _sweep(
                        conn.execute(sa.select(_t.SW).where(_t.SW.c.id == sweep_id)).one()
                    )
            except sa.exc.IntegrityError:
                continue  # another process started the same generation: take the next
        raise ConflictError(f"could not start a new generation of sweep {name!r}; try again")

    def get(self, project_id: int, name: str, *, generation: int | None = None) -> Sweep:
        """Sweep ``name`` (its newest generation unless ``generation`` is given)."""
        query, args = "SELECT * FROM sweeps WHERE project_id = ? AND name = ?", [project_id, name]
        if generation is not None:
            query, args = query + " AND generation = ?", [*args, generation]
        rows = self._records(query + " ORDER BY generation DESC LIMIT 1", args)
        if not rows:
            at = "" if generation is None else f" generation {generation}"
            raise _missing_sweep(f"{name!r}{at}")
        return _sweep(rows[0])

    def _records(self, query: str, args: Sequence[Any]) -> builtins.list[dict[str, Any]]:
        """Driver-level reads (no SQLAlchemy import: ``keel sweep show``)."""
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(query), tuple(args))
            return records(cur)

    def _check_sweep(self, project_id: int, sweep_id: int) -> None:
        query = "SELECT id FROM sweeps WHERE project_id = ? AND id = ?"
        if not self._records(query, (project_id, sweep_id)):
            raise _missing_sweep(f"id {sweep_id}")

    def find(self, project_id: int, name: str) -> Sweep | None:
        """The newest generation of ``name``, or None."""
        try:
            return self.get(project_id, name)
        except NotFoundError:
            return None

    def get_by_id(self, project_id: int, sweep_id: int) -> Sweep:
        with self._db.read() as conn:
            return _sweep(self._require_sweep(conn, project_id, sweep_id))

    def list(self, project_id: int, *, name: str | None = None) -> builtins.list[Sweep]:
        """Sweeps newest first (every generation of ``name`` when given)."""
        query = sa.select(_t.SW).where(_t.SW.c.project_id == project_id)
        if name is not None:
            query = query.where(_t.SW.c.name == name)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(sa.desc(_t.SW.c.created_at), sa.desc(_t.SW.c.id)))
            return [_sweep(r) for r in rows]

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
        """Change a sweep; ``user_attrs`` and ``system_attrs`` are merged into its own."""
        if status is not None and status not in SWEEP_STATUSES:
            raise InvalidArgumentError(
                f"sweep status {status!r} is not one of {', '.join(SWEEP_STATUSES)}"
            )
        with self._db.write() as conn:
            row = self._require_sweep(conn, project_id, sweep_id)
            values = given(status=status, reason=reason, run_id=run_id)
            values["updated_at"] = now_ms()
            if user_attrs:
                merged = {**_loads(row.user_attrs_json, {}), **user_attrs}
                values["user_attrs_json"] = _dumps(merged, "sweep attributes")
            if system_attrs:
                merged = {**_loads(row.system_attrs_json, {}), **system_attrs}
                values["system_attrs_json"] = _dumps(merged, "sweep attributes")
            conn.execute(sa.update(_t.SW).where(_t.SW.c.id == sweep_id).values(**values))
            return _sweep(conn.execute(sa.select(_t.SW).where(_t.SW.c.id == sweep_id)).one())

    def mark_stale(self, project_id: int, sweep_id: int, *, reason: str) -> Sweep:
        """Mark a sweep and all its trials stale (its code or data changed)."""
        sweep = self.update(project_id, sweep_id, status="stale", reason=reason)
        with self._db.write() as conn:
            conn.execute(sa.update(_t.TR).where(_t.TR.c.sweep_id == sweep_id).values(stale=True))
        return sweep

    def delete(self, project_id: int, sweep_id: int) -> None:
        with self._db.write() as conn:
            gone = conn.execute(
                sa.delete(_t.SW).where(_t.SW.c.project_id == project_id, _t.SW.c.id == sweep_id)
            ).rowcount
        if not gone:
            raise _missing_sweep(f"id {sweep_id}")

    # -- trials ----------------------------------------------------------------------------
    def add_trial(self, project_id: int, sweep_id: int, patch: TrialPatch | None = None) -> Trial:
        """A new trial with the next number (RUNNING unless ``patch.state`` says otherwise)."""
        patch = patch or TrialPatch()
        state = TrialState(patch.state or TrialState.RUNNING)
        now = now_ms()
        row = {
            "sweep_id": sweep_id,
            "state": state.value,
            "values_json": json.dumps(patch.values),
            "params_json": _dumps(patch.params, "trial params"),
            "distributions_json": _dumps(patch.distributions, "trial distributions"),
            "intermediate_json": _dumps(
                {str(k): v for k, v in patch.intermediate.items()}, "intermediate values"
            ),
            "user_attrs_json": _dumps(patch.user_attrs, "trial attributes"),
            "system_attrs_json": _dumps(patch.system_attrs, "trial attributes"),
            "run_id": patch.run_id,
            "reason": patch.reason or "",
            "stale": False,
            "started_at": None if state is TrialState.WAITING else now,
            "finished_at": now if state.is_finished else None,
        }
        for _attempt in range(20):
            try:
                with self._db.write() as conn:
                    self._require_sweep(conn, project_id, sweep_id)
                    top = conn.execute(
                        sa.select(sa.func.max(_t.TR.c.number)).where(_t.TR.c.sweep_id == sweep_id)
                    ).scalar()
                    number = -1 if top is None else int(top)
                    trial_id = conn.execute(
                        sa.insert(_t.TR).values(**row, number=number + 1).returning(_t.TR.c.id)
                    ).scalar_one()
                    return _trial(
                        conn.execute(sa.select(_t.TR).where(_t.TR.c.id == trial_id)).one()
                    )
            except sa.exc.IntegrityError:
                continue  # a racing worker took this number: take the next one
        raise ConflictError(f"could not add a trial to sweep id {sweep_id}; try again")

    def claim_trial(self, project_id: int, trial_id: int) -> bool:
        """Move a WAITING trial to RUNNING; False when another worker claimed it first."""
        with self._db.write() as conn:
            self._require_trial(conn, project_id, trial_id)
            won = conn.execute(
                sa.update(_t.TR)
                .where(_t.TR.c.id == trial_id, _t.TR.c.state == TrialState.WAITING.value)
                .values(state=TrialState.RUNNING.value, started_at=now_ms())
            ).rowcount
        return bool(won)

    def update_trial(self, project_id: int, trial_id: int, patch: TrialPatch) -> Trial:
        """Merge ``patch`` into a trial that has not finished (ConflictError once it has)."""
        with self._db.write() as conn:
            row = self._require_trial(conn, project_id, trial_id)
            current = TrialState(row.state)
            if current.is_finished:
                raise ConflictError(
                    f"trial {row.number} of sweep id {row.sweep_id} already ended "
                    f"{current.value}; it cannot change"
                )
            values: dict[str, Any] = {}
            if patch.state is not None:
                state = TrialState(patch.state)
                values["state"] = state.value
                if state is TrialState.RUNNING and row.started_at is None:
                    values["started_at"] = now_ms()
                if state.is_finished:
                    values["finished_at"] = now_ms()
            if patch.values is not None:
                values["values_json"] = json.dumps([float(v) for v in patch.values])
            for key, col in (
                ("params", "params_json"),
                ("distributions", "distributions_json"),
                ("user_attrs", "user_attrs_json"),
                ("system_attrs", "system_attrs_json"),
            ):
                new = getattr(patch, key)
                if new:
                    merged = {**_loads(getattr(row, col), {}), **new}
                    values[col] = _dumps(merged, f"trial {key}")
            if patch.intermediate:
                merged = {
                    **_loads(row.intermediate_json, {}),
                    **{str(k): float(v) for k, v in patch.intermediate.items()},
                }
                values["intermediate_json"] = _dumps(merged, "intermediate values")
            values |= given(run_id=patch.run_id, reason=patch.reason)
            if values:
                conn.execute(sa.update(_t.TR).where(_t.TR.c.id == trial_id).values(**values))
            return _trial(conn.execute(sa.select(_t.TR).where(_t.TR.c.id == trial_id)).one())

    def get_trial(self, project_id: int, trial_id: int) -> Trial:
        with self._db.read() as conn:
            return _trial(self._require_trial(conn, project_id, trial_id))

    def trials(
        self,
        project_id: int,
        sweep_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        after_id: int = -1,
        ids: Sequence[int] = (),
    ) -> builtins.list[Trial]:
        """A sweep's trials by number: those with ``id > after_id`` plus those in ``ids``
        (a cache reads only what it has not seen finish), in ``states`` when given."""
        query = sa.select(_t.TR).where(_t.TR.c.sweep_id == sweep_id)
        if after_id >= 0 or ids:
            newer = _t.TR.c.id > after_id
            query = query.where(newer | _t.TR.c.id.in_(list(ids)) if ids else newer)
        if states is not None:
            query = query.where(_t.TR.c.state.in_([TrialState(s).value for s in states]))
        with self._db.read() as conn:
            self._require_sweep(conn, project_id, sweep_id)
            rows = conn.execute(query.order_by(_t.TR.c.number)).all()
        return [_trial(r) for r in rows]

    def outline(self, project_id: int, sweep_id: int) -> builtins.list[TrialPoint]:
        """Every trial of a sweep by number, read as id, number, state and first value only
        (a 10,000-trial sweep page decodes one short column, not six JSON fields a trial)."""
        self._check_sweep(project_id, sweep_id)
        query = (
            "SELECT id, number, state, values_json FROM sweep_trials WHERE sweep_id = ? "
            "ORDER BY number"
        )
        states = {s.value: s for s in TrialState}
        out = []
        for r in self._records(query, (sweep_id,)):
            values = _loads(r["values_json"], None)
            value = float(values[0]) if values else None
            out.append(TrialPoint(r["id"], r["number"], states[r["state"]], value))
        return out

    def pick(self, project_id: int, sweep_id: int, ids: Sequence[int]) -> builtins.list[Trial]:
        """The trials of a sweep whose ids are in ``ids`` (at most 5,000), by number."""
        wanted = sorted({int(i) for i in ids})
        if len(wanted) > 5000:
            raise InvalidArgumentError(f"pick at most 5000 trials at once, not {len(wanted)}")
        self._check_sweep(project_id, sweep_id)
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        query = f"SELECT * FROM sweep_trials WHERE sweep_id = ? AND id IN ({marks}) ORDER BY number"
        return [_trial(r) for r in self._records(query, (sweep_id, *wanted))]

    def counts(self, project_id: int) -> dict[int, dict[str, int]]:
        """Trials by state of every sweep of the project: ``{sweep id: {state: count}}``."""
        query = (
            sa.select(_t.TR.c.sweep_id, _t.TR.c.state, sa.func.count())
            .join(_t.SW, _t.SW.c.id == _t.TR.c.sweep_id)
            .where(_t.SW.c.project_id == project_id)
            .group_by(_t.TR.c.sweep_id, _t.TR.c.state)
        )
        out: dict[int, dict[str, int]] = {}
        with self._db.read() as conn:
            for sweep_id, state, n in conn.execute(query):
                out.setdefault(int(sweep_id), {})[str(state)] = int(n)
        return out

    @staticmethod
    def _require_sweep(conn: Any, project_id: int, sweep_id: int) -> Row:
        query = sa.select(_t.SW).where(_t.SW.c.project_id == project_id, _t.SW.c.id == sweep_id)
        row = conn.execute(query).first()
        if row is None:
            raise _missing_sweep(f"id {sweep_id}")
        return row

    @staticmethod
    def _require_trial(conn: Any, project_id: int, trial_id: int) -> Row:
        row = conn.execute(
            sa.select(_t.TR)
            .join(_t.SW, _t.SW.c.id == _t.TR.c.sweep_id)
            .where(_t.TR.c.id == trial_id, _t.SW.c.project_id == project_id)
        ).first()
        if row is None:
            raise NotFoundError(f"trial id {trial_id} does not exist in this project")
        return row


__all__ = [
    "DIRECTIONS",
    "Sweep",
    "SweepRepository",
    "Trial",
    "TrialPatch",
    "TrialPoint",
    "TrialState",
]
