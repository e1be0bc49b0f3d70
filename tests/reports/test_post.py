"""``keel report post`` against a local HTTP server that speaks the GitLab Notes API and the
GitHub Issues Comments API and checks every request as those APIs define them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from keel.exceptions import AuthenticationError, KeelError, NotFoundError
from keel.reports import MARKER, post_comment

GL_TOKEN, GH_TOKEN = "glpat-secret", "ghs_secret"
GL_NOTES = re.compile(r"^/api/v4/projects/group%2Fchurn/merge_requests/7/notes(?:/(\d+))?$")
GH_LIST = re.compile(r"^/repos/acme/churn/issues/12/comments$")
GH_ITEM = re.compile(r"^/repos/acme/churn/issues/comments/(\d+)$")


@dataclass
class Fake:
    """In-memory comments; ``fail`` maps a method to (status, headers) to answer once."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    next_id: int = 1000


def _handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            path, _, query = self.path.partition("?")
            fake.requests.append((self.command, path))
            if self.command in fake.fail:
                code, headers = fake.fail.pop(self.command)
                self._reply(code, {"message": "injected"}, headers)
                return
            gitlab = GL_NOTES.match(path)
            github = GH_LIST.match(path) or GH_ITEM.match(path)
            if gitlab:
                ok = self.headers.get("PRIVATE-TOKEN") == GL_TOKEN
            elif github:
                ok = self.headers.get("Authorization") == f"Bearer {GH_TOKEN}"
                if self.headers.get("Accept") != "application/vnd.github+json":
                    fake.problems.append(f"Accept {self.headers.get('Accept')!r}")
            else:
                self._reply(404, {"message": "404 Not found"})
                return
            if not ok:
                self._reply(401, {"message": "401 Unauthorized"})
                return
            body = None
            if self.command in ("POST", "PUT", "PATCH"):
                if self.headers.get("Content-Type") != "application/json":
                    fake.problems.append(f"Content-Type {self.headers.get('Content-Type')!r}")
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if set(body) != {"body"}:
                    fake.problems.append(f"body keys {sorted(body)}")
            match = gitlab or github
            assert match is not None
            item = match.group(1) if match.groups() else None
            expected = {
                ("GET", False): True,
                ("POST", False): True,
                ("PUT", True): bool(gitlab),
                ("PATCH", True): bool(github),
            }.get((self.command, item is not None))
            if not expected:
                fake.problems.append(f"{self.command} {path} is not how this API edits")
                self._reply(405, {"message": "method"})
                return
            if self.command == "GET":
                page = int(dict(p.split("=") for p in query.split("&"))["page"])
                per = int(dict(p.split("=") for p in query.split("&"))["per_page"])
                self._reply(200, fake.comments[(page - 1) * per : page * per])
            elif self.command == "POST":
                fake.next_id += 1
                fake.comments.append({"id": fake.next_id, "body": body["body"]})  # type: ignore[index]
                self._reply(201, fake.comments[-1])
            else:
                found = next(c for c in fake.comments if str(c["id"]) == item)
                found["body"] = body["body"]  # type: ignore[index]
                self._reply(200, found)

        do_GET = do_POST = do_PUT = do_PATCH = _handle

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[Fake, str]]:
    fake = Fake(comments=[{"id": i, "body": f"human comment {i}"} for i in range(1, 131)])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    assert fake.problems == []


def _gitlab(url: str, **extra: str) -> dict[str, str]:
    env = {
        "CI_API_V4_URL": f"{url}/api/v4",
        "CI_PROJECT_ID": "group/churn",
        "CI_MERGE_REQUEST_IID": "7",
        "GITLAB_TOKEN": GL_TOKEN,
    }
    return env | extra


def _github(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    env = {
        "GITHUB_API_URL": url,
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REF": "refs/heads/feature",
        "GITHUB_TOKEN": GH_TOKEN,
    }
    return env | extra


def _ours(fake: Fake) -> list[dict[str, Any]]:
    return [c for c in fake.comments if MARKER in c["body"]]


def test_gitlab_creates_one_note_then_updates_it(server: tuple[Fake, str]) -> None:
    fake, url = server
    first = post_comment(f"{MARKER}\nauc +0.01", env=_gitlab(url))
    assert first.action == "created"
    second = post_comment(f"{MARKER}\nauc +0.02", env=_gitlab(url))
    assert (second.action, second.comment_id) == ("updated", first.comment_id)
    assert [c["body"] for c in _ours(fake)] == [f"{MARKER}\nauc +0.02"]
    assert ("PUT", f"/api/v4/projects/group%2Fchurn/merge_requests/7/notes/{first.comment_id}") in (
        fake.requests
    )


def test_github_finds_its_comment_past_the_first_page_and_patches_it(
    server: tuple[Fake, str], tmp_path: Path
) -> None:
    fake, url = server
    fake.comments.append({"id": 555, "body": f"{MARKER}\nold"})  # on page 2 of 100
    result = post_comment("no marker yet", env=_github(url, tmp_path))
    assert (result.action, result.comment_id) == ("updated", 555)
    assert _ours(fake) == [{"id": 555, "body": f"{MARKER}\nno marker yet"}]
    assert ("PATCH", "/repos/acme/churn/issues/comments/555") in fake.requests
    assert not any(method == "POST" for method, _ in fake.requests)


def test_github_reads_the_pr_number_from_the_ref_without_an_event(
    server: tuple[Fake, str], tmp_path: Path
) -> None:
    fake, url = server
    env = _github(url, tmp_path, GITHUB_EVENT_PATH="", GITHUB_REF="refs/pull/12/merge")
    assert post_comment("hi", env=env).action == "created"
    assert len(_ours(fake)) == 1


@pytest.mark.parametrize(
    ("status", "headers", "error", "message"),
    [
        (401, {}, AuthenticationError, "401 to GET .*token was refused; check GITLAB_TOKEN"),
        (404, {}, NotFoundError, "GitLab MR !7 of project group/churn not found"),
        (429, {"Retry-After": "30"}, KeelError, "rate limited; nothing was posted, retry in 30 s"),
        (403, {"X-RateLimit-Remaining": "0"}, KeelError, "rate limited"),
    ],
)
def test_refusals_while_listing_post_nothing(
    server: tuple[Fake, str], status: int, headers: dict[str, str], error: type, message: str
) -> None:
    fake, url = server
    fake.fail["GET"] = (status, headers)
    with pytest.raises(error, match=message):
        post_comment("report", env=_gitlab(url))
    assert _ours(fake) == [] and [m for m, _ in fake.requests] == ["GET"]


def test_a_failed_create_is_not_retried_and_a_rerun_updates_instead(
    server: tuple[Fake, str], tmp_path: Path
) -> None:
    fake, url = server
    fake.fail["POST"] = (500, {})
    with pytest.raises(KeelError, match="GitHub answered 500 to POST"):
        post_comment("report", env=_github(url, tmp_path))
    assert sum(m == "POST" for m, _ in fake.requests) == 1
    post_comment("report", env=_github(url, tmp_path))
    post_comment("report v2", env=_github(url, tmp_path))
    assert [c["body"] for c in _ours(fake)] == [f"{MARKER}\nreport v2"]


def test_a_wrong_token_is_a_clear_error(server: tuple[Fake, str]) -> None:
    fake, url = server
    with pytest.raises(AuthenticationError, match="GitLab answered 401"):
        post_comment("x", env=_gitlab(url, GITLAB_TOKEN="wrong"))
    assert _ours(fake) == []


def test_no_merge_request_in_the_environment_is_a_one_line_error(tmp_path: Path) -> None:
    report = tmp_path / "r.md"
    report.write_text("x")
    env = {
        "PATH": "/usr/bin:/bin",
        "KEEL_HOME": str(tmp_path),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    done = subprocess.run(
        [sys.executable, "-m", "keel.cli", "report", "post", "--md", str(report)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "Error: no merge request here: set GitLab's CI_PROJECT_ID"
    )


def test_stored_reports_and_search_of_a_missing_project_create_nothing(
    sqlite_store: Any,
) -> None:
    """Reading reports, comparing or searching a misspelt project is an error naming it."""
    from keel.reports import compare, get_report, list_reports, report_versions, search
    from keel.tracking import TrackingClient

    client = TrackingClient(sqlite_store, "typo")
    reads = [
        lambda: list_reports(client=client),
        lambda: get_report(1, client=client),
        lambda: report_versions(1, client=client),
        lambda: search("churn", client=client),
        lambda: compare("run:abcdef12", "model:churn@1", client=client),
    ]
    for read in reads:
        with pytest.raises(NotFoundError, match="project 'typo' does not exist"):
            read()
    assert "typo" not in [p.name for p in sqlite_store.projects.list()]
