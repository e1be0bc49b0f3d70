"""``/api/v1/projects/{project_id}/comments``: discussion on runs, versions, comparisons.

Like the web UI: any member (reader and up) may comment, so reviewers need not be able to
change what they review; deleting needs the comment's author or a project admin. With
authentication on, the author is the caller, whatever the body says.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, StringConstraints

from keel.exceptions import PermissionDeniedError
from keel.server._auth import Guard, reader
from keel.server._types import Id, Loose
from keel.server.api._passthrough import Router
from keel.store.comments import Comment
from keel.store.users import Role
from keel.store.wire import Empty

router = Router(prefix="/api/v1/projects/{project_id}/comments", tags=["comments"])
Subject = Annotated[str, StringConstraints(max_length=255)]


class CommentIn(BaseModel):
    subject_kind: Subject
    subject_id: Subject
    body: Loose
    author: Subject = ""
    context: Loose = ""


@router.post("")
def add_comment(project_id: Id, body: CommentIn, guard: Guard = Depends(reader)) -> Comment:
    author = guard.who.name or body.author
    return guard.st.store.comments.add(
        project_id,
        body.subject_kind,
        body.subject_id,
        body.body,
        author=author,
        context=body.context,
    )


router.serve(reader, "comments.list", "list_comments", subject_kind=Subject, subject_id=Subject)
router.serve(reader, "comments.get", "get_comment")


@router.delete("/{comment_id}")
def delete_comment(project_id: Id, comment_id: Id, guard: Guard = Depends(reader)) -> Empty:
    comment = guard.st.store.comments.get(project_id, comment_id)
    role = guard.who.role_in(project_id)
    mine = bool(guard.who.name) and comment.author == guard.who.name
    if not mine and not (role is not None and role.allows(Role.ADMIN)):
        raise PermissionDeniedError(
            "only the comment's author or a project admin may delete it; your role here is "
            f"{role.value if role else 'none'}"
        )
    guard.st.store.comments.delete(project_id, comment_id)
    return Empty()
