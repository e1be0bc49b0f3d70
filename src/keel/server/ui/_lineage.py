"""Lineage (PG_2): dataset versions -> runs and step runs -> model versions -> deployments.

Starting from one object, the graph grows a few hops both ways through the recorded
edges: a run's input and output dataset versions, the model versions registered from a
run, the datasets a version was trained on, the deployments whose current targets name a
version, and the upstream step runs of a pipeline step. Every node links to its page.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import Query, Request
from starlette.responses import Response

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server.ui._common import ProjectView, check_runs, ui_router, viewing
from keel.server.ui._graph import Layout, Node, layout
from keel.server.ui._render import page
from keel.store import ModelVersion, Store
from keel.store.ownership import Owned

if TYPE_CHECKING:
    from keel.models import Registry

router = ui_router()
MAX_NODES = 120
MAX_HOPS = 4


@dataclass
class Lineage:
    """Grows the graph; every lookup stays inside the view's project."""

    view: ProjectView
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.view.store

    @cached_property
    def registry(self) -> Registry:
        from keel.models import Registry

        return Registry(self.store, self.view.project.name)

    @property
    def pid(self) -> int:
        return self.view.project.id

    def grow(self, start: str) -> Layout:
        queue = deque([(start, 0)])
        seen = {start}
        while queue and len(self.nodes) < MAX_NODES:
            node_id, hops = queue.popleft()
            neighbours = self._expand(node_id)
            if hops >= MAX_HOPS:
                continue
            for other in neighbours:
                if other not in seen and len(seen) < MAX_NODES:
                    seen.add(other)
                    queue.append((other, hops + 1))
        self.nodes[start].focus = True
        return layout(list(self.nodes.values()), _without_shortcuts(self.edges))

    def _expand(self, node_id: str) -> list[str]:
        """Draw the node and its edges; its neighbours are the far ends of the new edges."""
        kind, _, key = node_id.partition(":")
        start = len(self.edges)
        try:
            expand = {"r": self._run, "d": self._dataset, "m": self._model, "x": self._deployment}
            me = expand[kind](key)
        except NotFoundError:
            self.nodes.setdefault(node_id, Node(node_id, key, "missing", sub="not found"))
            return []
        return [b if a == me else a for a, b in self.edges[start:]]

    def _in_project(self, kind: Owned, object_id: int) -> None:
        """Another project's object is drawn as missing."""
        if self.store.ownership.project_of(kind, object_id) != self.pid:
            raise NotFoundError(f"{kind} {object_id} is not in this project")

    def _edge(self, a: str, b: str) -> None:
        self.edges.append((a, b))

    def _run(self, run_id: str) -> str:
        run = self.store.runs.get(run_id)
        me = f"r:{run_id}"
        kind = "step run" if "keel.step" in run.tags else "run"
        self.nodes[me] = Node(
            me, run.name, "run", f"{self.view.base}/runs/{run_id}", f"{kind} · {run.status.lower()}"
        )
        for version_id, direction in self.store.runs.dataset_links(run_id):
            other = f"d:{version_id}"
            self._edge(other, me) if direction == "input" else self._edge(me, other)
        for mv in self.store.registry.search_versions(self.pid, f"run_id = '{run_id}'"):
            self._edge(me, f"m:{mv.id}")
        for upstream in filter(None, run.tags.get("keel.step.upstream_runs", "").split(",")):
            if upstream.isalnum():
                self._edge(f"r:{upstream}", me)
        return me

    def _dataset(self, version_id: str) -> str:
        dv = self.store.datasets.get_version_by_id(int(version_id))
        self._in_project("dataset_version", dv.id)
        me = f"d:{version_id}"
        href = f"{self.view.base}/datasets/{quote(dv.dataset_name, safe='')}?version={dv.version}"
        rows = f"{dv.num_rows} rows" if dv.num_rows is not None else f"{dv.num_files} files"
        self.nodes[me] = Node(me, dv.ref, "dataset", href, f"dataset · {rows}")
        for run_id, direction in self.store.datasets.runs_of(dv.id):
            other = f"r:{run_id}"
            self._edge(other, me) if direction == "output" else self._edge(me, other)
        for mv in self.store.registry.search_versions(self.pid, f"dataset = '{_q(dv.ref)}'"):
            self._edge(me, f"m:{mv.id}")
        return me

    def _model(self, version_id: str) -> str:
        mv = self.store.registry.get_version_by_id(int(version_id))
        self._in_project("model_version", mv.id)
        me = f"m:{mv.id}"
        aliases = ", ".join(mv.aliases)
        href = f"{self.view.base}/models/{quote(mv.name, safe='')}/{mv.version}"
        self.nodes[me] = Node(
            me, mv.ref, "model", href, "model" + (f" · {aliases}" if aliases else "")
        )
        if mv.run_id:
            self._edge(f"r:{mv.run_id}", me)
        for ref in mv.datasets:
            name, _, ver = ref.rpartition("@")
            try:
                dv = self.store.datasets.get_version(self.pid, name, int(ver))
            except (NotFoundError, ValueError):
                continue
            self._edge(f"d:{dv.id}", me)
        for dep in self.store.deployments.list(self.pid):
            if any(_serves(self, t.model_ref, mv) for t in dep.targets):
                self._edge(me, f"x:{dep.name}")
        return me

    def _deployment(self, name: str) -> str:
        dep = self.store.deployments.get(self.pid, name)
        me = f"x:{name}"
        href = f"{self.view.base}/deployments/{quote(name, safe='')}"
        self.nodes[me] = Node(me, name, "deployment", href, f"deployment · rev {dep.revision}")
        for target in dep.targets:
            mv = _resolve(self, target.model_ref)
            if mv is not None:
                self._edge(f"m:{mv.id}", me)
        return me


def _without_shortcuts(edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop ``a -> c`` where ``a -> b -> c`` exists (a dataset a model was trained on is
    already drawn through the run that trained it)."""
    unique = list(dict.fromkeys(edges))
    succ: dict[str, set[str]] = {}
    for a, b in unique:
        succ.setdefault(a, set()).add(b)
    return [(a, c) for a, c in unique if not any(c in succ.get(b, ()) for b in succ[a] if b != c)]


def _q(text: str) -> str:
    return text.replace("'", "''")


def _resolve(lineage: Lineage, ref: str) -> ModelVersion | None:
    try:
        return lineage.registry.resolve(ref)
    except (NotFoundError, InvalidArgumentError):
        return None


def _serves(lineage: Lineage, ref: str, mv: ModelVersion) -> bool:
    name = ref.split("@", 1)[0].split(":", 1)[-1].strip("/")
    if name != mv.name:
        return False
    found = _resolve(lineage, ref)
    return found is not None and found.id == mv.id


def focus_node(view: ProjectView, **refs: str | int | None) -> str:
    """The start node from the query (``run``, ``model``+``version``, ``dataset``+
    ``version`` or ``deployment``)."""
    store = view.store
    if refs.get("run"):
        check_runs(view, [str(refs["run"])])
        return f"r:{refs['run']}"
    if refs.get("model") and refs.get("version"):
        mv = store.registry.get_version(view.project.id, str(refs["model"]), int(refs["version"]))  # type: ignore[arg-type]
        return f"m:{mv.id}"
    if refs.get("dataset"):
        version = int(refs["version"]) if refs.get("version") else None  # type: ignore[arg-type]
        dv = store.datasets.get_version(view.project.id, str(refs["dataset"]), version)
        return f"d:{dv.id}"
    if refs.get("deployment"):
        return f"x:{store.deployments.get(view.project.id, str(refs['deployment'])).name}"
    raise InvalidArgumentError(
        "say where the graph starts: ?run=<id>, ?model=<name>&version=<n>, "
        "?dataset=<name>&version=<n> or ?deployment=<name>"
    )


@router.get("/ui/p/{project}/lineage")
def lineage_page(
    request: Request,
    run: str | None = Query(default=None, max_length=64),
    model: str | None = Query(default=None, max_length=255),
    dataset: str | None = Query(default=None, max_length=255),
    version: int | None = Query(default=None, ge=0, le=2**31 - 1),
    deployment: str | None = Query(default=None, max_length=255),
    view: ProjectView = viewing("models"),
) -> Response:
    start = focus_node(
        view, run=run, model=model, dataset=dataset, version=version, deployment=deployment
    )
    graph = Lineage(view).grow(start)
    return page(request, "lineage.html", view.context(graph=graph, start=start))


__all__ = ["Lineage", "focus_node", "router"]
