"""Discussion (CR_1): comments on runs, model versions, comparisons and reports, with
permalinks.

Any member of a project (reader and up) may comment, so reviewers need not be able to
change what they review; deleting a comment needs its author or a project admin.
``/ui/p/<project>/comments/<id>`` is a stable link to one comment, fit to paste into a
merge request: it redirects to the page showing it, scrolled to it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel
from starlette.responses import RedirectResponse, Response

from keel.exceptions import InvalidArgumentError, NotFoundError, PermissionDeniedError
from keel.server._auth import reader
from keel.server._json import JSON
from keel.server._types import Loose
from keel.server.ui._common import (
    ProjectView,
    changing,
    check_runs,
    compare_subject,
    run_ids_param,
    ui_router,
    viewing,
)
from keel.store.comments import Comment
from keel.store.users import Role

router = ui_router()


class CommentIn(BaseModel):
    kind: Loose
    subject: Loose
    body: Loose
    runs: Loose = ""  # a comparison's run ids (kept so its permalink can rebuild the view)


def comments_context(view: ProjectView, kind: str, subject: str, here: str) -> dict[str, Any]:
    """What ``_comments.html`` needs: the comments and the subject to post to."""
    return {
        "comments": view.store.comments.list(view.project.id, kind, subject),
        "comment_kind": kind,
        "comment_subject": subject,
        "comment_here": here,
    }


def subject_page(view: ProjectView, comment: Comment) -> str:
    """The page that shows ``comment`` (where its permalink leads)."""
    if comment.subject_kind == "run":
        return f"{view.base}/runs/{comment.subject_id}"
    if comment.subject_kind == "model_version":
        mv = view.store.registry.get_version_by_id(int(comment.subject_id))
        return f"{view.base}/models/{quote(mv.name, safe='')}/{mv.version}"
    if comment.subject_kind == "report":
        return f"{view.base}/reports/{comment.subject_id}"
    return f"{view.base}/compare?runs={comment.context}"


def _check_subject(view: ProjectView, body: CommentIn) -> str:
    """The subject must be one of this project's objects; returns the comment's context."""
    store = view.store
    if body.kind == "run":
        check_runs(view, [body.subject])
        return ""
    if body.kind == "model_version":
        if not body.subject.isdigit():
            raise InvalidArgumentError(f"model version id {body.subject[:40]!r} is not a number")
        mv = store.registry.get_version_by_id(int(body.subject))
        if store.registry.get_model(view.project.id, mv.name).id != mv.model_id:
            raise NotFoundError(f"model version id {body.subject} does not exist here")
        return ""
    if body.kind == "compare":
        ids = run_ids_param(body.runs)
        check_runs(view, ids)
        if compare_subject(ids) != body.subject:
            raise InvalidArgumentError("the comparison's run ids do not match its subject")
        return ",".join(ids)
    if body.kind == "report":
        if not body.subject.isdigit():
            raise NotFoundError(f"report {body.subject[:40]!r} does not exist in this project")
        store.reports.get(view.project.id, int(body.subject))
        return ""
    raise InvalidArgumentError(
        f"comment kind {body.kind[:40]!r} is not one of run, model_version, compare, report"
    )


@router.post("/ui/p/{project}/comments")
def add_comment(body: CommentIn, view: ProjectView = changing("experiments", reader)) -> JSON:
    context = _check_subject(view, body)
    comment = view.store.comments.add(
        view.project.id,
        body.kind,
        body.subject,
        body.body,
        author=view.guard.who.name or "local",
        context=context,
    )
    return JSON({"redirect": f"{subject_page(view, comment)}#comment-{comment.id}"})


@router.post("/ui/p/{project}/comments/{comment_id}/delete")
def delete_comment(comment_id: int, view: ProjectView = changing("experiments", reader)) -> JSON:
    comment = view.store.comments.get(view.project.id, comment_id)
    role = view.guard.who.role_in(view.project.id)
    mine = bool(view.guard.who.name) and comment.author == view.guard.who.name
    if not (mine or (role is not None and role.allows(Role.ADMIN))):
        raise PermissionDeniedError(
            "only the comment's author or a project admin may delete it; your role here is "
            f"{role.value if role else 'none'}"
        )
    where = subject_page(view, comment)
    view.store.comments.delete(view.project.id, comment_id)
    return JSON({"redirect": where})


@router.get("/ui/p/{project}/comments/{comment_id}")
def permalink(comment_id: int, view: ProjectView = viewing("experiments")) -> Response:
    comment = view.store.comments.get(view.project.id, comment_id)
    return RedirectResponse(f"{subject_page(view, comment)}#comment-{comment.id}", 303)


__all__ = ["comments_context", "router", "subject_page"]
