"""Search over HTTP: the :class:`~keel.store.protocols.Search` protocol against ``keel server``."""

from __future__ import annotations

from collections.abc import Sequence

from keel.store.remote._http import Http
from keel.store.reports import ReportVersion, StoredReport
from keel.store.search import SearchHit
from keel.store.wire import load

V1 = "/api/v1"


class RemoteSearchRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def search(
        self,
        project_id: int,
        query: str,
        *,
        kinds: Sequence[str] = (),
        author: str | None = None,
        since: int | None = None,
        limit: int = 20,
        semantic: bool = False,
    ) -> list[SearchHit]:
        answer = self._http.get(
            f"{V1}/projects/{int(project_id)}/search",
            q=query,
            kind=list(kinds) or None,
            author=author,
            since=since,
            limit=limit,
            semantic="true" if semantic else None,
        )
        return load(list[SearchHit], answer["hits"])

    def refresh(self, project_id: int) -> int:
        return int(
            self._http.post(f"{V1}/projects/{int(project_id)}/search/refresh", {})["indexed"]
        )

    def rebuild(self, project_id: int) -> int:
        return int(
            self._http.post(f"{V1}/projects/{int(project_id)}/search/rebuild", {})["indexed"]
        )


class RemoteReportRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def save(
        self,
        project_id: int,
        title: str,
        markdown: str,
        *,
        base: str = "",
        head: str = "",
        author: str = "",
    ) -> StoredReport:
        body = {"title": title, "markdown": markdown, "base": base, "head": head, "author": author}
        return load(StoredReport, self._http.post(f"{V1}/projects/{int(project_id)}/reports", body))

    def revise(
        self, project_id: int, report_id: int, markdown: str, *, title: str = "", author: str = ""
    ) -> StoredReport:
        path = f"{V1}/projects/{int(project_id)}/reports/{int(report_id)}/versions"
        body = {"markdown": markdown, "title": title, "author": author}
        return load(StoredReport, self._http.post(path, body))

    def get(self, project_id: int, report_id: int, *, version: int | None = None) -> StoredReport:
        path = f"{V1}/projects/{int(project_id)}/reports/{int(report_id)}"
        return load(StoredReport, self._http.get(path, version=version))

    def versions(self, project_id: int, report_id: int) -> list[ReportVersion]:
        path = f"{V1}/projects/{int(project_id)}/reports/{int(report_id)}/versions"
        return load(list[ReportVersion], self._http.get(path)["versions"])

    def list(self, project_id: int, *, limit: int = 100) -> list[StoredReport]:
        answer = self._http.get(f"{V1}/projects/{int(project_id)}/reports", limit=limit)
        return load(list[StoredReport], answer["reports"])
