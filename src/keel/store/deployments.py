"""Deployments: named serving specs with an append-only history of revisions.

``apply`` stores a spec as a new revision only when it differs from the one in force, so
applying the same YAML twice is a no-op; ``rollback`` re-applies an old revision as a new
one. Servers poll :meth:`DeploymentRepository.current_revision` (one indexed read) to pick
up changes without downtime. Thread-safe; returns frozen entities.

Every serving process shows up here, not only applied specs: ``keel serve churn@champion``
:meth:`registers <DeploymentRepository.register>` an *ad-hoc* deployment (status
``adhoc``; ``stopped`` once it exits cleanly), and every server :meth:`heartbeats
<DeploymentRepository.heartbeat>`. The schema has no instance table yet, so liveness is the
deployment row's ``updated_at``: for an ad-hoc deployment it is when its server was last
seen; for an applied one, a time after the current revision was applied
(``Deployment.last_seen`` reads it that way).
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConflictError, InvalidArgumentError, NotFoundError
from keel.store._db import SqlRepository, now_ms
from keel.store._lazy import Tables
from keel.store._rows import entity, records
from keel.store._validate import check_name

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Connection, Row
else:
    from keel.store._lazy import sa

_t = Tables(
    D="keel.store._schema_deployments:DeploymentRow",
    R="keel.store._schema_deployments:DeploymentRevisionRow",
    T="keel.store._schema_deployments:DeploymentTargetRow",
)


ACTIVE = "active"  # applied with `keel deploy apply`
ADHOC = "adhoc"  # registered by a server started without one (keel serve churn@champion)
STOPPED = "stopped"  # an ad-hoc deployment whose server exited cleanly
DELETED = "deleted"
SHOWN = (ACTIVE, ADHOC, STOPPED)


@dataclass(frozen=True, slots=True)
class DeploymentTarget:
    """One model reference an endpoint serves, with its traffic weight (or as a shadow)."""

    endpoint: str
    model_ref: str
    model_name: str
    weight: float = 0.0
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentRevision:
    deployment_id: int
    revision: int
    spec: dict[str, Any]
    spec_hash: str
    note: str
    created_at: int
    targets: list[DeploymentTarget] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment with the spec of its current revision."""

    id: int
    project_id: int
    name: str
    revision: int
    status: str
    created_at: int
    updated_at: int
    spec: dict[str, Any] = field(default_factory=dict)
    targets: list[DeploymentTarget] = field(default_factory=list)
    applied_at: int | None = None  # when the current revision was stored

    @property
    def adhoc(self) -> bool:
        """Registered by a server rather than applied with ``keel deploy apply``."""
        return self.status in (ADHOC, STOPPED)

    @property
    def last_seen(self) -> int | None:
        """When a server of this deployment last reported (ms), or None if none has since
        the current revision was applied."""
        if self.adhoc:
            return self.updated_at
        if self.applied_at is not None and self.updated_at > self.applied_at:
            return self.updated_at
        return None

    @property
    def address(self) -> str:
        """Where the spec says it listens (for an ad-hoc deployment: where it does)."""
        server = self.spec.get("server") or {}
        return f"http://{server.get('host', '127.0.0.1')}:{server.get('port', 8080)}"

    def __repr__(self) -> str:
        models = ", ".join(t.model_ref + (" (shadow)" if t.shadow else "") for t in self.targets)
        return f"Deployment({self.name!r}, revision={self.revision}, {self.status}, [{models}])"


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A stable hash of a spec (key order and whitespace do not matter)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class DeploymentRepository(SqlRepository):
    """Apply, read, list, roll back and delete deployments of a project."""

    def apply(
        self,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        *,
        note: str = "",
    ) -> tuple[Deployment, bool]:
        """Store ``spec`` as the deployment's new revision; ``(deployment, changed)``.

        A spec equal to the current one changes nothing (``changed`` is False). A deleted
        deployment comes back to life with a new revision.
        """
        return self._store(project_id, name, spec, targets, note, ACTIVE)

    def register(
        self,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        *,
        note: str = "",
    ) -> tuple[Deployment, bool]:
        """Record a server that serves ``spec`` without it being applied (ad hoc).

        The deployment is stored (status ``adhoc``) as a new revision when its spec is new,
        and marked seen now. A deployment applied with ``keel deploy apply`` is not
        overwritten: the same spec only marks it seen; another one is a
        :class:`~keel.exceptions.ConflictError`.
        """
        return self._store(project_id, name, spec, targets, note, ADHOC)

    def _store(
        self,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        note: str,
        status: str,
    ) -> tuple[Deployment, bool]:
        check_name("deployment", name)
        digest = spec_hash(spec)
        for attempt in range(2):
            try:
                with self._db.write() as conn:
                    changed = self._apply(
                        conn, project_id, name, spec, digest, targets, note, status
                    )
                break
            except sa.exc.IntegrityError:
                if attempt:  # two writers created the same name at once; retry as an update
                    raise
        return self.get(project_id, name), changed

    def heartbeat(self, project_id: int, name: str) -> bool:
        """Mark the deployment's server seen now (False if it is gone or deleted)."""
        with self._db.write() as conn:
            done = conn.execute(
                sa.update(_t.D)
                .where(
                    _t.D.c.project_id == project_id,
                    _t.D.c.name == name,
                    _t.D.c.status.in_((ACTIVE, ADHOC)),
                )
                .values(updated_at=now_ms())
            )
        return bool(done.rowcount)

    def stop(self, project_id: int, name: str) -> None:
        """An ad-hoc deployment's server exited: mark it ``stopped`` (applied ones stay)."""
        with self._db.write() as conn:
            conn.execute(
                sa.update(_t.D)
                .where(_t.D.c.project_id == project_id, _t.D.c.name == name, _t.D.c.status == ADHOC)
                .values(status=STOPPED, updated_at=now_ms())
            )

    def _apply(
        self,
        conn: Connection,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        digest: str,
        targets: Sequence[DeploymentTarget],
        note: str,
        status: str = ACTIVE,
    ) -> bool:
        ts = now_ms()
        row = conn.execute(
            sa.select(_t.D).where(_t.D.c.project_id == project_id, _t.D.c.name == name)
        ).first()
        if row is None:
            dep_id, revision = _create(conn, project_id, name, status, ts), 1
        else:
            bumped = _bump(conn, row, name, digest, status, ts)
            if bumped is None:
                return False
            dep_id, revision = bumped
        conn.execute(
            sa.insert(_t.R).values(
                deployment_id=dep_id,
                revision=revision,
                spec_json=json.dumps(dict(spec), sort_keys=True, default=str),
                spec_hash=digest,
                note=note,
                created_at=ts,
            )
        )
        self._insert_targets(conn, dep_id, revision, targets)
        return True

    @staticmethod
    def _insert_targets(
        conn: Connection, dep_id: int, revision: int, targets: Sequence[DeploymentTarget]
    ) -> None:
        rows = [
            {
                "deployment_id": dep_id,
                "revision": revision,
                "endpoint": t.endpoint,
                "model_ref": t.model_ref,
                "model_name": t.model_name,
                "weight": float(t.weight),
                "shadow": bool(t.shadow),
            }
            for t in targets
        ]
        if rows:
            conn.execute(sa.insert(_t.T), rows)

    def get(self, project_id: int, name: str) -> Deployment:
        found = self.find(project_id, name)
        if found is None or found.status not in SHOWN:
            raise NotFoundError(
                f"deployment {name!r} does not exist in this project; create it with "
                "`keel deploy apply deploy.yaml`"
            )
        return found

    def find(self, project_id: int, name: str) -> Deployment | None:
        """The deployment (deleted ones too), or None."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_t.D).where(_t.D.c.project_id == project_id, _t.D.c.name == name)
            ).first()
            return None if row is None else self._entity(conn, row)

    def current_revision(self, project_id: int, name: str) -> int | None:
        """The revision in force (None if missing or deleted): the cheap poll servers use."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_t.D.c.revision, _t.D.c.status).where(
                    _t.D.c.project_id == project_id, _t.D.c.name == name
                )
            ).first()
        return None if row is None or row.status not in SHOWN else int(row.revision)

    def list(self, project_id: int) -> builtins.list[Deployment]:
        """The project's deployments by name, each with its current revision's spec and
        targets (driver-level SQL: ``keel deploy list`` imports no SQLAlchemy)."""
        sql = self._db.sql
        marks = ", ".join("?" * len(SHOWN))
        with self._db.cursor(write=False) as cur:
            cur.execute(
                sql(
                    "SELECT d.id, d.project_id, d.name, d.revision, d.status, d.created_at, "
                    "d.updated_at, r.spec_json, r.created_at AS applied_at FROM deployments d "
                    "LEFT JOIN deployment_revisions r "
                    "ON r.deployment_id = d.id AND r.revision = d.revision "
                    f"WHERE d.project_id = ? AND d.status IN ({marks}) ORDER BY d.name"
                ),
                (project_id, *SHOWN),
            )
            rows = records(cur)
            targets: dict[int, builtins.list[DeploymentTarget]] = {r["id"]: [] for r in rows}
            ids = builtins.list(targets)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cur.execute(
                    sql(
                        "SELECT t.deployment_id, t.endpoint, t.model_ref, t.model_name, t.weight, "
                        "t.shadow FROM deployment_targets t JOIN deployments d "
                        "ON d.id = t.deployment_id AND d.revision = t.revision "
                        f"WHERE t.deployment_id IN ({', '.join('?' * len(chunk))}) "
                        "ORDER BY t.endpoint, t.shadow, t.weight DESC, t.model_ref"
                    ),
                    chunk,
                )
                for dep_id, endpoint, ref, model, weight, shadow in cur.fetchall():
                    targets[dep_id].append(
                        DeploymentTarget(endpoint, ref, model, float(weight), bool(shadow))
                    )
        return [_deployment(r, r["spec_json"], r["applied_at"], targets[r["id"]]) for r in rows]

    def revisions(self, project_id: int, name: str) -> builtins.list[DeploymentRevision]:
        """Every revision of a deployment, oldest first."""
        dep = self.get(project_id, name)
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.R).where(_t.R.c.deployment_id == dep.id).order_by(_t.R.c.revision)
            ).all()
            return [self._revision(conn, r) for r in rows]

    def revision(self, project_id: int, name: str, revision: int) -> DeploymentRevision:
        dep = self.get(project_id, name)
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_t.R).where(_t.R.c.deployment_id == dep.id, _t.R.c.revision == revision)
            ).first()
            if row is None:
                raise NotFoundError(
                    f"deployment {name!r} has no revision {revision}; it has 1..{dep.revision}"
                )
            return self._revision(conn, row)

    def rollback(self, project_id: int, name: str, revision: int) -> Deployment:
        """Apply the spec of an earlier ``revision`` again, as a new revision."""
        old = self.revision(project_id, name, revision)
        current = self.get(project_id, name)
        if revision == current.revision:
            raise InvalidArgumentError(
                f"deployment {name!r} is already at revision {revision}; pick an older one"
            )
        dep, _ = self.apply(
            project_id, name, old.spec, old.targets, note=f"rollback to revision {revision}"
        )
        return dep

    def delete(self, project_id: int, name: str) -> None:
        """Mark the deployment deleted (its history stays for lineage)."""
        dep = self.get(project_id, name)
        with self._db.write() as conn:
            conn.execute(
                sa.update(_t.D)
                .where(_t.D.c.id == dep.id)
                .values(status=DELETED, updated_at=now_ms())
            )

    def all_targets(self, project_id: int) -> builtins.list[tuple[str, int, DeploymentTarget]]:
        """(deployment, revision, target) of every revision: the lineage table for SQL."""
        query = (
            sa.select(_t.D.c.name, _t.T)
            .join(_t.T, _t.T.c.deployment_id == _t.D.c.id)
            .where(_t.D.c.project_id == project_id)
            .order_by(_t.D.c.name, _t.T.c.revision, _t.T.c.endpoint)
        )
        with self._db.read() as conn:
            return [(r.name, int(r.revision), _target(r)) for r in conn.execute(query).all()]

    def _entity(self, conn: Connection, row: Row) -> Deployment:
        rev = conn.execute(
            sa.select(_t.R).where(_t.R.c.deployment_id == row.id, _t.R.c.revision == row.revision)
        ).first()
        spec_json, applied_at = (None, None) if rev is None else (rev.spec_json, rev.created_at)
        return _deployment(row, spec_json, applied_at, self._targets(conn, row.id, row.revision))

    def _revision(self, conn: Connection, row: Row) -> DeploymentRevision:
        targets = self._targets(conn, row.deployment_id, row.revision)
        return entity(DeploymentRevision, row, spec=json.loads(row.spec_json), targets=targets)

    @staticmethod
    def _targets(conn: Connection, dep_id: int, revision: int) -> builtins.list[DeploymentTarget]:
        rows = conn.execute(
            sa.select(_t.T)
            .where(_t.T.c.deployment_id == dep_id, _t.T.c.revision == revision)
            .order_by(_t.T.c.endpoint, _t.T.c.shadow, _t.T.c.weight.desc(), _t.T.c.model_ref)
        ).all()
        return [_target(r) for r in rows]


def _deployment(
    row: Any, spec_json: str | None, applied_at: int | None, targets: list[DeploymentTarget]
) -> Deployment:
    """A deployment from its row with its current revision's spec (none: an empty spec)."""
    spec = json.loads(spec_json) if spec_json is not None else {}
    applied = int(applied_at) if applied_at is not None else None
    return entity(Deployment, row, spec=spec, targets=targets, applied_at=applied)


def _target(row: Row) -> DeploymentTarget:
    return entity(DeploymentTarget, row, weight=float(row.weight), shadow=bool(row.shadow))


def _create(conn: Connection, project_id: int, name: str, status: str, ts: int) -> int:
    """A new deployment at revision 1; its id."""
    values = dict(project_id=project_id, name=name, revision=1, status=status,
                  created_at=ts, updated_at=ts)  # fmt: skip
    return int(conn.execute(sa.insert(_t.D).values(**values).returning(_t.D.c.id)).scalar_one())


def _bump(
    conn: Connection, row: Row, name: str, digest: str, status: str, ts: int
) -> tuple[int, int] | None:
    """The deployment's next revision (id, number), or None when ``digest`` is what it
    already serves (an ad hoc server seen again is stamped; one that would replace an
    applied spec is refused)."""
    current = conn.execute(
        sa.select(_t.R.c.spec_hash).where(
            _t.R.c.deployment_id == row.id, _t.R.c.revision == row.revision
        )
    ).scalar_one_or_none()
    if status == ADHOC and row.status == ACTIVE:
        if current != digest:
            raise ConflictError(
                f"deployment {name!r} is applied (revision {row.revision}) with another "
                f"spec; serve it with `keel serve --deployment {name}`, or give this "
                "server another --name"
            )
        conn.execute(sa.update(_t.D).where(_t.D.c.id == row.id).values(updated_at=ts))
        return None
    if current == digest and row.status == ACTIVE == status:
        return None
    if current == digest and status == ADHOC:  # the same server again: seen now
        conn.execute(sa.update(_t.D).where(_t.D.c.id == row.id).values(status=ADHOC, updated_at=ts))
        return None
    revision = row.revision + 1
    conn.execute(
        sa.update(_t.D)
        .where(_t.D.c.id == row.id)
        .values(revision=revision, status=status, updated_at=ts)
    )
    return row.id, revision
