"""Labeling over HTTP: the :class:`~keel.store.protocols.Labeling` protocol, one request each."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from keel.store.labeling import Annotation, LabelProgress, LabelProject, LabelTask, NewTask
from keel.store.remote._http import Http
from keel.store.wire import load

V1 = "/api/v1"


def _path(project_id: int, name: str | None = None, tail: str = "") -> str:
    base = f"{V1}/projects/{int(project_id)}/labeling"
    if name is None:
        return base
    return f"{base}/{quote(name, safe='')}{tail}"


class RemoteLabelingRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

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
        body = {
            "name": name,
            "config": config,
            "instructions": instructions,
            "overlap": overlap,
            "double_share": double_share,
        }
        return load(LabelProject, self._http.post(_path(project_id), body))

    def get_project(self, project_id: int, name: str) -> LabelProject:
        return load(LabelProject, self._http.get(_path(project_id, name)))

    def list_projects(self, project_id: int) -> builtins.list[LabelProject]:
        return load(list[LabelProject], self._http.get(_path(project_id))["projects"])

    def add_tasks(self, project_id: int, name: str, tasks: Sequence[NewTask]) -> builtins.list[int]:
        data = self._http.post(_path(project_id, name, "/tasks"), {"tasks": list(tasks)})
        return [int(i) for i in data["ids"]]

    def get_task(self, project_id: int, name: str, task_id: int) -> LabelTask:
        return load(LabelTask, self._http.get(_path(project_id, name, f"/tasks/{int(task_id)}")))

    def list_tasks(
        self, project_id: int, name: str, *, after: int = 0, limit: int = 1000
    ) -> builtins.list[LabelTask]:
        data = self._http.get(_path(project_id, name, "/tasks"), after=after, limit=limit)
        return load(list[LabelTask], data["tasks"])

    def next_task(self, project_id: int, name: str, annotator: str) -> LabelTask | None:
        data = self._http.post(_path(project_id, name, "/next"), {"annotator": annotator})
        return load(LabelTask | None, data["task"])  # type: ignore[arg-type]

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
        body = {"annotator": annotator, "result": result, "lead_ms": lead_ms}
        path = _path(project_id, name, f"/tasks/{int(task_id)}/annotations")
        return load(Annotation, self._http.post(path, body))

    def skip(self, project_id: int, name: str, task_id: int, annotator: str, reason: str) -> None:
        path = _path(project_id, name, f"/tasks/{int(task_id)}/skip")
        self._http.post(path, {"annotator": annotator, "reason": reason})

    def undo(self, project_id: int, name: str, task_id: int, annotator: str) -> Annotation | None:
        path = _path(project_id, name, f"/tasks/{int(task_id)}/undo")
        data = self._http.post(path, {"annotator": annotator})
        return load(Annotation | None, data["annotation"])  # type: ignore[arg-type]

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
        data = self._http.get(
            _path(project_id, name, "/annotations"),
            task_id=task_id,
            annotator=annotator,
            after=after,
            limit=limit,
        )
        return load(list[Annotation], data["annotations"])

    def has_answered(self, project_id: int, name: str, task_id: int, annotator: str) -> bool:
        path = _path(project_id, name, f"/tasks/{int(task_id)}/answered")
        return bool(self._http.get(path, annotator=annotator)["answered"])

    def progress(self, project_id: int, name: str) -> LabelProgress:
        return load(LabelProgress, self._http.get(_path(project_id, name, "/progress")))


__all__ = ["RemoteLabelingRepository"]
