"""Discussion: markdown comments on runs, model versions and comparisons.

A comment names its subject by kind and id (see :data:`SUBJECT_KINDS`); the repository
does not check that the subject exists, because a comparison is not an object of its own.
Bodies are stored as written: whoever shows them escapes them. Thread-safe: every method
runs its own transaction.
"""

from __future__ import annotations

import builtins

from sqlalchemy import Row, delete, insert, select

from keel.exceptions import InvalidArgumentError
from keel.store._area_values import Comment
from keel.store._db import SqlRepository, now_ms
from keel.store._rows import entity
from keel.store._schema import table
from keel.store._schema_comments import CommentRow

C = table(CommentRow)

#: What a comment can be about: a run (run id), a model version (version id as text) or a
#: comparison of runs (a digest of the sorted run ids, so any order names the same one).
SUBJECT_KINDS = ("run", "model_version", "compare", "report")
MAX_BODY = 20_000


def _comment(row: Row) -> Comment:
    return entity(Comment, row)


def _check(kind: str, subject_id: str, body: str) -> None:
    if kind not in SUBJECT_KINDS:
        raise InvalidArgumentError(
            f"comment subject kind {kind!r} is not one of {', '.join(SUBJECT_KINDS)}"
        )
    if not subject_id or len(subject_id) > 255:
        raise InvalidArgumentError("a comment's subject id must be 1-255 characters")
    if not body.strip():
        raise InvalidArgumentError("a comment cannot be empty; write something first")
    if len(body) > MAX_BODY or "\x00" in body:
        raise InvalidArgumentError(
            f"a comment holds at most {MAX_BODY} characters and no NUL, got {len(body)}; "
            "attach long text to the run as an artifact and link it"
        )


class CommentRepository(SqlRepository):
    """Add, list and delete comments of one project's objects."""

    def add(
        self,
        project_id: int,
        subject_kind: str,
        subject_id: str,
        body: str,
        *,
        author: str = "",
        context: str = "",
    ) -> Comment:
        """Record a comment; ``context`` keeps what the subject id cannot (a comparison's
        run ids, so its permalink can rebuild the view)."""
        _check(subject_kind, subject_id, body)
        if len(context) > MAX_BODY:
            raise InvalidArgumentError(f"a comment's context holds at most {MAX_BODY} characters")
        with self._db.write() as conn:
            comment_id = conn.execute(
                insert(C)
                .values(
                    project_id=project_id,
                    subject_kind=subject_kind,
                    subject_id=subject_id,
                    author=author[:255],
                    body=body,
                    context=context,
                    created_at=now_ms(),
                )
                .returning(C.c.id)
            ).scalar_one()
            row = conn.execute(select(C).where(C.c.id == comment_id)).one()
        return _comment(row)

    def get(self, project_id: int, comment_id: int) -> Comment:
        query = select(C).where(C.c.id == comment_id, C.c.project_id == project_id)
        return _comment(self._db.one(query, f"comment {comment_id} does not exist in this project"))

    def list(self, project_id: int, subject_kind: str, subject_id: str) -> builtins.list[Comment]:
        """Comments on one subject, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(C)
                .where(
                    C.c.project_id == project_id,
                    C.c.subject_kind == subject_kind,
                    C.c.subject_id == subject_id,
                )
                .order_by(C.c.id)
            ).all()
        return [_comment(r) for r in rows]

    def delete(self, project_id: int, comment_id: int) -> None:
        self._db.change(
            delete(C).where(C.c.id == comment_id, C.c.project_id == project_id),
            f"comment {comment_id} does not exist in this project",
        )


__all__ = ["SUBJECT_KINDS", "Comment", "CommentRepository"]
