"""Reading a labeling project and its progress, in driver-level SQL.

``keel label status NAME`` reads through these: building SQLAlchemy's Core statements would
import it and the schema first, which took most of the command's time. Same entities and
the same not-found message as the Core paths of
:class:`keel.store.labeling.LabelingRepository` they replace; "complete" uses the same
double-share rule as the queue (:func:`keel.store._labeling_share.needed_sql`).
"""

from __future__ import annotations

from typing import Any

import orjson

from keel.exceptions import NotFoundError
from keel.store._db import Database
from keel.store._labeling_entities import LabelProgress, LabelProject
from keel.store._labeling_share import needed_sql
from keel.store._rows import entity, records

_PROJECT = (
    "SELECT id, project_id, name, config_json, instructions, overlap, double_share, "
    "created_at FROM labeling_projects WHERE project_id = ? AND name = ?"
)
_TASKS = "SELECT COUNT(*) FROM labeling_tasks WHERE label_project_id = ?"
#: tasks with as many answers as they need (``{need}``: the SQL of a task's need)
_COMPLETE = (
    "SELECT COUNT(*) FROM (SELECT task_id, COUNT(*) AS n FROM labeling_annotations "
    "WHERE label_project_id = ? GROUP BY task_id) p WHERE p.n >= {need}"
)
_BY_ANNOTATOR = (
    "SELECT annotator, COUNT(*) FROM labeling_annotations WHERE label_project_id = ? "
    "GROUP BY annotator ORDER BY annotator"
)
#: an index range count: the submitted majority is never read
_STATE = "SELECT COUNT(*) FROM labeling_assignments WHERE label_project_id = ? AND state = ?"


def missing_project(name: str) -> str:
    return f"labeling project {name!r} does not exist; create it with `keel label create`"


def read_project(db: Database, project_id: int, name: str) -> LabelProject:
    with db.cursor(write=False) as cur:
        return _project(cur, db, project_id, name)


def _project(cur: Any, db: Database, project_id: int, name: str) -> LabelProject:
    cur.execute(db.sql(_PROJECT), (project_id, name))
    rows = records(cur)
    if not rows:
        raise NotFoundError(missing_project(name))
    row = rows[0]
    return entity(LabelProject, row, config=orjson.loads(row["config_json"] or "{}"))


def read_progress(db: Database, project_id: int, name: str) -> LabelProgress:
    """Tasks, answers, complete tasks (answered by as many annotators as each needs), skips,
    open assignments and answers per annotator."""
    with db.cursor(write=False) as cur:
        lp = _project(cur, db, project_id, name)
        need, args = needed_sql(lp, "p.task_id")
        counts = []
        for sql, params in (
            (_TASKS, (lp.id,)),
            (_COMPLETE.format(need=need), (lp.id, *args)),
            (_STATE, (lp.id, "skipped")),
            (_STATE, (lp.id, "assigned")),
        ):
            cur.execute(db.sql(sql), params)
            counts.append(int(cur.fetchone()[0]))
        cur.execute(db.sql(_BY_ANNOTATOR), (lp.id,))
        by = {str(a): int(n) for a, n in cur.fetchall()}
    tasks, complete, skipped, assigned = counts
    return LabelProgress(
        tasks=tasks,
        annotations=sum(by.values()),
        complete=complete,
        skipped=skipped,
        in_progress=assigned,
        by_annotator=by,
    )


__all__ = ["missing_project", "read_progress", "read_project"]
