"""What each kind of object is found by: the search documents of a project's runs,
comments, registered models and versions, datasets and reports, read from their tables
(for :class:`keel.store.search.SearchRepository`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from keel.store._db import Database
from keel.store._schema import DatasetRow, ExperimentRow, ParamRow, RunRow, TagRow, table
from keel.store._schema_comments import CommentRow
from keel.store._schema_registry import (
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
)
from keel.store._schema_reports import ReportRow

RUNS, EXPS, PARAMS, TAGS = table(RunRow), table(ExperimentRow), table(ParamRow), table(TagRow)
COMMENTS, DATASETS, REPORTS = table(CommentRow), table(DatasetRow), table(ReportRow)
MODELS, VERSIONS = table(RegisteredModelRow), table(ModelVersionRow)
MODEL_TAGS, VERSION_TAGS = table(RegisteredModelTagRow), table(ModelVersionTagRow)
BATCH = 500
#: System tags (hashes, hosts, heartbeats) are not searched; the branch name is.
_QUIET_TAGS = ("keel.", "mlflow.")
_LOUD_TAGS = ("keel.git.branch",)
#: HTML comments, as keel's ``<!-- keel-report -->`` marker: hidden on the page, so neither
#: searched nor shown in a snippet
_COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass(frozen=True, slots=True)
class Doc:
    kind: str
    ref: str
    title: str
    body: str
    author: str
    updated_at: int


def run_docs(
    db: Database, project_id: int, since: int, drop: Callable[[str, int, Sequence[str]], None]
) -> Iterable[Doc]:
    query = (
        select(RUNS.c.id, RUNS.c.name, RUNS.c.user, RUNS.c.note, RUNS.c.start_time,
               RUNS.c.end_time, RUNS.c.updated_at, EXPS.c.name.label("experiment"),
               ((RUNS.c.lifecycle == "active") & (EXPS.c.lifecycle == "active")).label("live"))
        .join(EXPS, EXPS.c.id == RUNS.c.experiment_id)
        .where(EXPS.c.project_id == project_id)
    )  # fmt: skip
    with db.read() as conn:
        if since < 0:
            runs = conn.execute(query).all()
        else:  # the runs stamped since, and those of experiments changed since
            # the stamp's index first (a range read of the newest rows), then their details
            ids = list(conn.execute(select(RUNS.c.id).where(RUNS.c.updated_at > since)).scalars())
            runs = []
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                runs += conn.execute(query.where(RUNS.c.id.in_(chunk))).all()
            seen = {r.id for r in runs}
            changed = select(EXPS.c.id).where(
                EXPS.c.project_id == project_id, EXPS.c.updated_at > since
            )
            runs += [
                r
                for r in conn.execute(query.where(RUNS.c.experiment_id.in_(changed)))
                if r.id not in seen
            ]
    # a run deleted (or in a deleted experiment) since is dropped here, not re-read
    drop("run", project_id, [r.id for r in runs if not r.live])
    runs = [r for r in runs if r.live]
    for start in range(0, len(runs), BATCH):
        chunk = runs[start : start + BATCH]
        ids = [r.id for r in chunk]
        with db.read() as conn:
            params = _pairs(conn, PARAMS, ids)
            tags = _pairs(conn, TAGS, ids)
        for r in chunk:
            words = [f"experiment {r.experiment}"]
            words += [f"{k} {v}" for k, v in params.get(r.id, [])]
            words += [
                f"{k} {v}"
                for k, v in tags.get(r.id, [])
                if k in _LOUD_TAGS or not k.startswith(_QUIET_TAGS)
            ]
            words.append(r.note or "")
            yield Doc("run", r.id, r.name, "\n".join(words), r.user or "",
                       max(r.start_time, r.end_time or 0, r.updated_at))  # fmt: skip


def comment_docs(db: Database, project_id: int, since: int) -> Iterable[Doc]:
    with db.read() as conn:
        rows = _changed(conn, COMMENTS, project_id, since, "created_at")
    for r in rows:
        title = f"comment on {r.subject_kind.replace('_', ' ')} {r.subject_id[:12]}"
        yield Doc("comment", str(r.id), title, r.body, r.author, r.created_at)


def model_docs(db: Database, project_id: int, since: int) -> Iterable[Doc]:
    with db.read() as conn:
        models = _changed(conn, MODELS, project_id, since, "updated_at")
        tags = _pairs(conn, MODEL_TAGS, [m.id for m in models], key="model_id")
        versions = conn.execute(
            select(VERSIONS, MODELS.c.name)
            .join(MODELS, MODELS.c.id == VERSIONS.c.model_id)
            .where(MODELS.c.project_id == project_id, VERSIONS.c.updated_at > since)
        ).all()
        version_tags = _pairs(conn, VERSION_TAGS, [v.id for v in versions], key="version_id")
    for m in models:
        body = "\n".join([m.description, *(f"{k} {v}" for k, v in tags.get(m.id, []))])
        yield Doc("model", m.name, m.name, body, "", m.updated_at)
    for v in versions:
        card = _flatten(json.loads(v.card_json or "{}"))
        vtags = [f"{k} {val}" for k, val in version_tags.get(v.id, [])]
        body = "\n".join([v.description, v.task, v.flavor, card, *vtags])
        yield Doc("model", f"{v.name}/{v.version}", f"{v.name}/{v.version}", body,
                   v.signer or "", max(v.created_at, v.updated_at))  # fmt: skip


def dataset_docs(db: Database, project_id: int, since: int) -> Iterable[Doc]:
    with db.read() as conn:
        rows = _changed(conn, DATASETS, project_id, since, "created_at")
    for r in rows:
        yield Doc("dataset", r.name, r.name, r.description, "", r.created_at)


def report_docs(db: Database, project_id: int, since: int) -> Iterable[Doc]:
    with db.read() as conn:
        rows = _changed(conn, REPORTS, project_id, since, "updated_at")
    for r in rows:
        body = _COMMENT.sub("", r.markdown).strip()
        yield Doc("report", str(r.id), r.title, body, r.author, r.updated_at)


def _changed(conn: Connection, tbl: Any, project_id: int, since: int, stamp: str) -> Sequence[Any]:
    """The project's rows of ``tbl`` whose ``stamp`` column is after ``since``."""
    query = select(tbl).where(tbl.c.project_id == project_id, tbl.c[stamp] > since)
    return conn.execute(query).all()


def _pairs(
    conn: Connection, tbl: Any, ids: Sequence[Any], *, key: str = "run_id"
) -> dict[Any, list[tuple[str, str]]]:
    out: dict[Any, list[tuple[str, str]]] = {}
    if not ids:
        return out
    col = tbl.c[key]
    for owner, k, v in conn.execute(select(col, tbl.c.key, tbl.c.value).where(col.in_(ids))):
        out.setdefault(owner, []).append((k, v))
    return out


def _flatten(value: Any) -> str:
    """A model card's text: every string and number in it, keys included."""
    if isinstance(value, dict):
        return " ".join(f"{k} {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return "" if value is None else str(value)
