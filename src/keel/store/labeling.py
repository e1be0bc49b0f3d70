"""Labeling projects, their tasks, the annotators' queues and their annotations.

A labeling project belongs to a keel project and is addressed by name. Each task is
given to up to ``overlap`` annotators: :meth:`LabelingRepository.next_task` hands an
annotator the task they already hold, or else the least-covered task they have not seen
(load balancing), and a conditional update keeps the task from going to more annotators
than ``overlap`` (for a project with a ``double_share``, the share of tasks
:func:`~keel.store._labeling_share.doubled` picks by id goes to ``overlap`` annotators
and the others to one). An annotator answers a task once (a second submission is a
:class:`~keel.exceptions.ConflictError`, never a second row) or skips it with a reason.
Results are JSON; checking them against the label config is the labeling package's job,
before it calls :meth:`~LabelingRepository.submit`. Every method runs its own transaction.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from keel.exceptions import ConflictError, InvalidArgumentError, NotFoundError
from keel.store._db import SqlRepository, first_or_missing, now_ms
from keel.store._labeling_entities import (
    Annotation,
    LabelProgress,
    LabelProject,
    LabelTask,
    NewTask,
    annotation_of,
    dumps_json,
    project_of,
    task_of,
)
from keel.store._labeling_reads import missing_project as _missing_project
from keel.store._labeling_reads import read_progress, read_project
from keel.store._labeling_share import check_share, needed
from keel.store._lazy import Tables
from keel.store._validate import check_name

if TYPE_CHECKING:
    import sqlalchemy as sa
else:
    from keel.store._lazy import sa

_S = "keel.store._schema_labeling:"
_t = Tables(
    LP=_S + "LabelProjectRow",
    TK=_S + "LabelTaskRow",
    AS=_S + "LabelAssignmentRow",
    AN=_S + "AnnotationRow",
)

MAX_OVERLAP = 50
MAX_PAGE = 10_000
ASSIGNED, SUBMITTED, SKIPPED = "assigned", "submitted", "skipped"


def _check_annotator(annotator: str) -> str:
    return check_name("annotator", annotator)


class LabelingRepository(SqlRepository):
    """Labeling projects, tasks, queues and annotations over the metadata database."""

    # -- projects --------------------------------------------------------------------------
    def create_project(
        self,
        project_id: int,
        name: str,
        config: dict[str, Any],
        *,
        instructions: str = "",
        overlap: int = 1,
        double_share: float | None = None,
    ) -> LabelProject:
        check_name("labeling project", name)
        if "/" in name:
            raise InvalidArgumentError(f"labeling project name {name!r} must not contain '/'")
        overlap = check_share(overlap, double_share)
        if not 1 <= overlap <= MAX_OVERLAP:
            raise InvalidArgumentError(
                f"overlap {overlap} must be between 1 and {MAX_OVERLAP} annotators per task"
            )
        self._db.insert_new(
            sa.insert(_t.LP).values(
                project_id=project_id,
                name=name,
                config_json=dumps_json(config, "a label config"),
                instructions=instructions,
                overlap=overlap,
                double_share=double_share,
                created_at=now_ms(),
            ),
            f"labeling project {name!r} exists; see `keel label status {name}`",
        )
        return self.get_project(project_id, name)

    def get_project(self, project_id: int, name: str) -> LabelProject:
        return read_project(self._db, project_id, name)

    def list_projects(self, project_id: int) -> builtins.list[LabelProject]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.LP).where(_t.LP.c.project_id == project_id).order_by(_t.LP.c.name)
            )
            return [project_of(r) for r in rows]

    def _lp_id(self, conn: Any, project_id: int, name: str) -> tuple[int, Any]:
        """The labeling project's row id, and its ``task_id -> annotators needed`` (SQL)."""
        row = conn.execute(
            sa.select(_t.LP.c.id, _t.LP.c.overlap, _t.LP.c.double_share).where(
                _t.LP.c.project_id == project_id, _t.LP.c.name == name
            )
        ).first()
        if row is None:
            raise NotFoundError(_missing_project(name))
        return int(row.id), needed(row)

    # -- tasks -----------------------------------------------------------------------------
    def add_tasks(self, project_id: int, name: str, tasks: Sequence[NewTask]) -> builtins.list[int]:
        """Add ``tasks`` in one transaction; returns their ids in order."""
        now = now_ms()
        rows = []
        for i, task in enumerate(tasks):
            if not isinstance(task.data, dict):
                raise InvalidArgumentError(f"task {i}: data must be a JSON object")
            rows.append(
                {
                    "data_json": dumps_json(task.data, f"task {i} data"),
                    "source_ref": task.source_ref[:512],
                    "request_id": task.request_id[:255],
                    "taken": 0,
                    "created_at": now,
                }
            )
        with self._db.write() as conn:
            lp_id, _ = self._lp_id(conn, project_id, name)
            ids = []
            for row in rows:  # one statement per row so every id comes back on both dialects
                ids.append(
                    conn.execute(
                        sa.insert(_t.TK).values(label_project_id=lp_id, **row).returning(_t.TK.c.id)
                    ).scalar_one()
                )
            return ids

    def get_task(self, project_id: int, name: str, task_id: int) -> LabelTask:
        with self._db.read() as conn:
            lp_id, _ = self._lp_id(conn, project_id, name)
            query = sa.select(_t.TK).where(_t.TK.c.label_project_id == lp_id, _t.TK.c.id == task_id)
            return task_of(first_or_missing(conn, query, _missing_task(task_id, name)))

    def list_tasks(
        self, project_id: int, name: str, *, after: int = 0, limit: int = 1000
    ) -> builtins.list[LabelTask]:
        """Tasks by id, ``limit`` (at most 10,000) from after id ``after`` (keyset paging).
        Driver-level SQL: exports read 50,000 tasks through here."""
        with self._db.cursor(write=False) as cur:
            lp_id = self._lp_id_cur(cur, project_id, name)
            cur.execute(
                self._db.sql(
                    "SELECT id, label_project_id, data_json, source_ref, request_id, taken, "
                    "created_at FROM labeling_tasks WHERE label_project_id = ? AND id > ? "
                    "ORDER BY id LIMIT ?"
                ),
                (lp_id, after, min(max(limit, 1), MAX_PAGE)),
            )
            rows = cur.fetchall()
        loads = orjson.loads
        return [LabelTask(r[0], r[1], loads(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def _lp_id_cur(self, cur: Any, project_id: int, name: str) -> int:
        cur.execute(
            self._db.sql("SELECT id FROM labeling_projects WHERE project_id = ? AND name = ?"),
            (project_id, name),
        )
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(_missing_project(name))
        return int(row[0])

    # -- the queue -------------------------------------------------------------------------
    def next_task(self, project_id: int, name: str, annotator: str) -> LabelTask | None:
        """The task ``annotator`` holds, else the least-covered one they have not seen."""
        _check_annotator(annotator)
        for _attempt in range(20):
            try:
                found, task = self._take(project_id, name, annotator)
            except sa.exc.IntegrityError:
                continue  # the same annotator, in another tab, took it meanwhile
            if found:
                return task
        raise ConflictError("the labeling queue is busy; ask for the next task again")

    def _take(self, project_id: int, name: str, annotator: str) -> tuple[bool, LabelTask | None]:
        """One attempt at :meth:`next_task`: ``(False, None)`` when another annotator took
        the chosen task's last slot meanwhile (try again)."""
        with self._db.write() as conn:
            lp_id, need = self._lp_id(conn, project_id, name)
            held = conn.execute(
                sa.select(_t.TK)
                .join(_t.AS, _t.AS.c.task_id == _t.TK.c.id)
                .where(
                    _t.AS.c.label_project_id == lp_id,
                    _t.AS.c.annotator == annotator,
                    _t.AS.c.state == ASSIGNED,
                )
                .order_by(_t.AS.c.id)
                .limit(1)
            ).first()
            if held is not None:
                return True, task_of(held)
            seen = sa.exists().where(_t.AS.c.task_id == _t.TK.c.id, _t.AS.c.annotator == annotator)
            row = conn.execute(
                sa.select(_t.TK)
                .where(_t.TK.c.label_project_id == lp_id, _t.TK.c.taken < need(_t.TK.c.id), ~seen)
                .order_by(_t.TK.c.taken, _t.TK.c.id)
                .limit(1)
            ).first()
            if row is None:
                return True, None
            won = conn.execute(
                sa.update(_t.TK)
                .where(_t.TK.c.id == row.id, _t.TK.c.taken < need(_t.TK.c.id))
                .values(taken=_t.TK.c.taken + 1)
            ).rowcount
            if not won:
                return False, None
            now = now_ms()
            _assign(conn, lp_id, row.id, annotator, ASSIGNED, now)
            return True, task_of(conn.execute(sa.select(_t.TK).where(_t.TK.c.id == row.id)).one())

    def submit(
        self,
        project_id: int,
        name: str,
        task_id: int,
        annotator: str,
        result: Any,
        *,
        lead_ms: int | None = None,
    ) -> Annotation:
        """Store ``annotator``'s answer to ``task_id``; a second answer is a conflict."""
        _check_annotator(annotator)
        text = dumps_json(result, "an annotation result")
        now = now_ms()
        try:
            with self._db.write() as conn:
                lp_id, _ = self._lp_id(conn, project_id, name)
                self._task_in(conn, lp_id, name, task_id)
                ann_id = conn.execute(
                    sa.insert(_t.AN)
                    .values(
                        label_project_id=lp_id,
                        task_id=task_id,
                        annotator=annotator,
                        result_json=text,
                        lead_ms=lead_ms,
                        created_at=now,
                    )
                    .returning(_t.AN.c.id)
                ).scalar_one()
                self._mark_submitted(conn, lp_id, task_id, annotator, now)
                row = conn.execute(sa.select(_t.AN).where(_t.AN.c.id == ann_id)).one()
        except sa.exc.IntegrityError as exc:
            raise ConflictError(
                f"{annotator!r} has already answered task {task_id}; each annotator answers "
                "a task once"
            ) from exc
        return annotation_of(row)

    @staticmethod
    def _mark_submitted(conn: Any, lp_id: int, task_id: int, annotator: str, now: int) -> None:
        """The annotator's assignment becomes ``submitted``; an answer to a task not held
        (no assignment, or skipped) takes one of its places."""
        mine = _mine(task_id, annotator)
        state = conn.execute(sa.select(_t.AS.c.state).where(mine)).scalar()
        if state is None:
            _assign(conn, lp_id, task_id, annotator, SUBMITTED, now)
        else:
            conn.execute(sa.update(_t.AS).where(mine).values(state=SUBMITTED, updated_at=now))
        if state in (None, SKIPPED):
            conn.execute(
                sa.update(_t.TK).where(_t.TK.c.id == task_id).values(taken=_t.TK.c.taken + 1)
            )

    def skip(self, project_id: int, name: str, task_id: int, annotator: str, reason: str) -> None:
        """Give the task back with a reason; it is not offered to ``annotator`` again."""
        _check_annotator(annotator)
        if not reason.strip():
            raise InvalidArgumentError("say why the task is skipped (a non-empty reason)")
        now = now_ms()
        with self._db.write() as conn:
            lp_id, _ = self._lp_id(conn, project_id, name)
            self._task_in(conn, lp_id, name, task_id)
            mine = _mine(task_id, annotator)
            state = conn.execute(sa.select(_t.AS.c.state).where(mine)).scalar()
            if state == SUBMITTED:
                raise ConflictError(f"{annotator!r} has already answered task {task_id}")
            if state == SKIPPED:
                return
            if state is None:
                _assign(conn, lp_id, task_id, annotator, SKIPPED, now, reason[:2000])
                return
            conn.execute(
                sa.update(_t.AS)
                .where(mine)
                .values(state=SKIPPED, reason=reason[:2000], updated_at=now)
            )
            conn.execute(
                sa.update(_t.TK).where(_t.TK.c.id == task_id).values(taken=_t.TK.c.taken - 1)
            )

    def undo(self, project_id: int, name: str, task_id: int, annotator: str) -> Annotation | None:
        """Take back ``annotator``'s answer to (or skip of) ``task_id``: the task is theirs to
        answer again and is the next one :meth:`next_task` hands them. Returns the answer
        taken back (None for a skip)."""
        _check_annotator(annotator)
        with self._db.write() as conn:
            lp_id, need = self._lp_id(conn, project_id, name)
            self._task_in(conn, lp_id, name, task_id)
            mine = _mine(task_id, annotator)
            state = conn.execute(sa.select(_t.AS.c.state).where(mine)).scalar()
            if state not in (SUBMITTED, SKIPPED):
                raise NotFoundError(
                    f"{annotator!r} has not answered or skipped task {task_id}: nothing to undo"
                )
            row = conn.execute(
                sa.select(_t.AN).where(_t.AN.c.task_id == task_id, _t.AN.c.annotator == annotator)
            ).first()
            if row is not None:
                conn.execute(_t.AN.delete().where(_t.AN.c.id == row.id))
            if state == SKIPPED:  # a skip gave the slot back; holding the task takes it again
                free = _t.TK.c.taken < need(_t.TK.c.id)
                took = (
                    sa.update(_t.TK)
                    .where(_t.TK.c.id == task_id, free)
                    .values(taken=_t.TK.c.taken + 1)
                )
                if not conn.execute(took).rowcount:
                    raise ConflictError(f"task {task_id} has gone to other annotators since")
            conn.execute(
                sa.update(_t.AS).where(mine).values(state=ASSIGNED, reason="", updated_at=now_ms())
            )
        return None if row is None else annotation_of(row)

    @staticmethod
    def _task_in(conn: Any, lp_id: int, name: str, task_id: int) -> None:
        found = conn.execute(
            sa.select(_t.TK.c.id).where(_t.TK.c.id == task_id, _t.TK.c.label_project_id == lp_id)
        ).first()
        if found is None:
            raise NotFoundError(_missing_task(task_id, name))

    # -- answers ---------------------------------------------------------------------------
    def annotations(
        self,
        project_id: int,
        name: str,
        *,
        task_id: int | None = None,
        annotator: str | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> builtins.list[Annotation]:
        """Annotations by id (keyset paging from ``after``), optionally of one task or one
        annotator; ``limit`` is at most 10,000. Driver-level SQL, as exports page through it."""
        sql = (
            "SELECT id, task_id, annotator, result_json, lead_ms, created_at "
            "FROM labeling_annotations WHERE label_project_id = ? AND id > ?"
        )
        with self._db.cursor(write=False) as cur:
            params: builtins.list[Any] = [self._lp_id_cur(cur, project_id, name), after]
            if task_id is not None:
                sql += " AND task_id = ?"
                params.append(task_id)
            if annotator is not None:
                sql += " AND annotator = ?"
                params.append(annotator)
            params.append(min(max(limit, 1), MAX_PAGE))
            cur.execute(self._db.sql(sql + " ORDER BY id LIMIT ?"), params)
            rows = cur.fetchall()
        loads = orjson.loads
        return [Annotation(r[0], r[1], r[2], loads(r[3]), r[4], r[5]) for r in rows]

    def has_answered(self, project_id: int, name: str, task_id: int, annotator: str) -> bool:
        with self._db.read() as conn:
            lp_id, _ = self._lp_id(conn, project_id, name)
            return (
                conn.execute(
                    sa.select(_t.AN.c.id).where(
                        _t.AN.c.label_project_id == lp_id,
                        _t.AN.c.task_id == task_id,
                        _t.AN.c.annotator == annotator,
                    )
                ).first()
                is not None
            )

    def progress(self, project_id: int, name: str) -> LabelProgress:
        return read_progress(self._db, project_id, name)


def _assign(
    conn: Any, lp_id: int, task_id: int, annotator: str, state: str, now: int, reason: str = ""
) -> None:
    """A new row of the annotator's queue for the task, in ``state``."""
    conn.execute(
        sa.insert(_t.AS).values(
            label_project_id=lp_id,
            task_id=task_id,
            annotator=annotator,
            state=state,
            reason=reason,
            assigned_at=now,
            updated_at=now,
        )
    )


def _mine(task_id: int, annotator: str) -> Any:
    """The annotator's queue row for the task (at most one: the unique pair)."""
    return sa.and_(_t.AS.c.task_id == task_id, _t.AS.c.annotator == annotator)


def _missing_task(task_id: int, name: str) -> str:
    return f"task {task_id} does not exist in labeling project {name!r}"


__all__ = [
    "Annotation",
    "LabelProgress",
    "LabelProject",
    "LabelTask",
    "LabelingRepository",
    "NewTask",
]
