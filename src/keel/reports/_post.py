"""Post a report as ONE comment on a GitLab merge request or a GitHub pull request.

The target comes from the variables both CI systems set: GitLab's ``CI_API_V4_URL``,
``CI_PROJECT_ID`` and ``CI_MERGE_REQUEST_IID`` (token ``GITLAB_TOKEN`` sent as
``PRIVATE-TOKEN``, else ``CI_JOB_TOKEN`` as ``JOB-TOKEN``), or GitHub's ``GITHUB_API_URL``,
``GITHUB_REPOSITORY``, the pull request number from ``GITHUB_EVENT_PATH`` or ``GITHUB_REF``
(``refs/pull/<n>/merge``) and ``GITHUB_TOKEN`` (``Authorization: Bearer``).

The earlier comment is found by the hidden marker at the top of the report and updated
(GitLab Notes API ``PUT``, GitHub Issues Comments API ``PATCH``); only when none carries
the marker is a comment created. A failed create is never retried — the comment may
exist — so a re-run finds and updates it instead of posting a second one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from keel.exceptions import (
    AuthenticationError,
    InvalidArgumentError,
    KeelError,
    NotFoundError,
    PermissionDeniedError,
)
from keel.reports._render import MARKER

PER_PAGE = 100
MAX_PAGES = 50
_PULL_REF = re.compile(r"^refs/pull/(\d+)/")


@dataclass(frozen=True, slots=True)
class PostResult:
    """What ``post`` did: ``created`` or ``updated`` comment ``comment_id`` on ``target``."""

    action: str
    comment_id: int
    target: str
    url: str


@dataclass(frozen=True, slots=True)
class _Target:
    system: str
    label: str
    headers: dict[str, str]
    list_url: str
    create_url: str
    item_url: str  # with {id}
    update_method: str
    web_url: str


def post_comment(
    markdown: str, *, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> PostResult:
    """Create or update the one keel comment on the current MR/PR; see the module doc."""
    target = _target(dict(os.environ if env is None else env))
    body = markdown if markdown.lstrip().startswith(MARKER) else f"{MARKER}\n{markdown}"
    with httpx.Client(headers=target.headers, timeout=timeout) as http:
        existing = next(
            (c for c in _comments(http, target) if MARKER in str(c.get("body", ""))), None
        )
        if existing is not None:
            url = target.item_url.format(id=existing["id"])
            reply = _check(http.request(target.update_method, url, json={"body": body}), target)
            action = "updated"
        else:
            reply = _check(http.post(target.create_url, json={"body": body}), target)
            action = "created"
    comment_id = int(reply.json()["id"])
    return PostResult(
        action, comment_id, target.label, str(reply.json().get("html_url") or target.web_url)
    )


def _comments(http: httpx.Client, target: _Target) -> Iterator[dict[str, Any]]:
    for page in range(1, MAX_PAGES + 1):
        reply = _check(
            http.get(target.list_url, params={"per_page": PER_PAGE, "page": page}), target
        )
        items = reply.json()
        if not isinstance(items, list):
            raise KeelError(f"{target.label}: the comment list is not a JSON array")
        yield from items
        if len(items) < PER_PAGE:
            return


def _check(reply: httpx.Response, target: _Target) -> httpx.Response:
    code = reply.status_code
    if code < 300:
        return reply
    where = f"{target.system} answered {code} to {reply.request.method} {reply.request.url.path}"
    limited = code == 429 or (code == 403 and reply.headers.get("X-RateLimit-Remaining") == "0")
    if limited:
        wait = reply.headers.get("Retry-After") or _reset_in(reply)
        hint = f"retry in {wait} s" if wait else "retry later"
        raise KeelError(f"{where}: rate limited; nothing was posted, {hint}")
    if code == 401:
        raise AuthenticationError(f"{where}: the token was refused; check {_token_var(target)}")
    if code == 403:
        raise PermissionDeniedError(
            f"{where}: the token may not comment here; give {_token_var(target)} write access"
        )
    if code == 404:
        raise NotFoundError(f"{where}: {target.label} not found, or the token cannot see it")
    raise KeelError(f"{where}: {reply.text[:200]!r}; re-run to update the same comment")


def _reset_in(reply: httpx.Response) -> str:
    reset = reply.headers.get("X-RateLimit-Reset", "")
    if not reset.isdigit():
        return ""
    import time

    return str(max(0, int(reset) - int(time.time())))


def _token_var(target: _Target) -> str:
    return "GITLAB_TOKEN" if target.system == "GitLab" else "GITHUB_TOKEN"


def _target(env: dict[str, str]) -> _Target:
    if env.get("CI_PROJECT_ID") or env.get("CI_MERGE_REQUEST_IID"):
        return _gitlab(env)
    if env.get("GITHUB_REPOSITORY"):
        return _github(env)
    raise InvalidArgumentError(
        "no merge request here: set GitLab's CI_PROJECT_ID and CI_MERGE_REQUEST_IID, or run "
        "in a GitHub Actions pull_request job (GITHUB_REPOSITORY, GITHUB_EVENT_PATH)"
    )


def _gitlab(env: dict[str, str]) -> _Target:
    project, iid = env.get("CI_PROJECT_ID", ""), env.get("CI_MERGE_REQUEST_IID", "")
    if not project or not iid.isdigit():
        raise InvalidArgumentError(
            f"GitLab needs CI_PROJECT_ID and a numeric CI_MERGE_REQUEST_IID (got {iid!r}); "
            "run in a merge request pipeline (rules: if $CI_MERGE_REQUEST_IID)"
        )
    if env.get("GITLAB_TOKEN"):
        headers = {"PRIVATE-TOKEN": env["GITLAB_TOKEN"]}
    elif env.get("CI_JOB_TOKEN"):
        headers = {"JOB-TOKEN": env["CI_JOB_TOKEN"]}
    else:
        raise InvalidArgumentError("GitLab needs a token: set GITLAB_TOKEN (api scope)")
    api = env.get("CI_API_V4_URL", "https://gitlab.com/api/v4").rstrip("/")
    notes = f"{api}/projects/{quote(project, safe='')}/merge_requests/{iid}/notes"
    headers["Accept"] = "application/json"
    return _Target(
        "GitLab",
        f"GitLab MR !{iid} of project {project}",
        headers,
        notes,
        notes,
        notes + "/{id}",
        "PUT",
        f"{env.get('CI_PROJECT_URL', '')}/-/merge_requests/{iid}",
    )


def _github(env: dict[str, str]) -> _Target:
    repo = env["GITHUB_REPOSITORY"]
    number = _pull_number(env)
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise InvalidArgumentError(
            "GitHub needs GITHUB_TOKEN (env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})"
        )
    api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    issue = f"{api}/repos/{repo}/issues/{number}/comments"
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    return _Target(
        "GitHub",
        f"GitHub PR #{number} of {repo}",
        headers,
        issue,
        issue,
        f"{api}/repos/{repo}/issues/comments/{{id}}",
        "PATCH",
        f"{server}/{repo}/pull/{number}",
    )


def _pull_number(env: dict[str, str]) -> int:
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).is_file():
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InvalidArgumentError(
                f"GITHUB_EVENT_PATH {event_path} is not JSON: {exc}"
            ) from exc
        number = (event.get("pull_request") or {}).get("number") or event.get("number")
        if isinstance(number, int):
            return number
    match = _PULL_REF.match(env.get("GITHUB_REF", ""))
    if match:
        return int(match.group(1))
    raise InvalidArgumentError(
        f"no pull request number: GITHUB_REF is {env.get('GITHUB_REF', '')!r} and the event "
        "has none; run on: pull_request"
    )


__all__ = ["PostResult", "post_comment"]
