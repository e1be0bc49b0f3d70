"""The lineage graph: edges found from both ends, another project's objects drawn missing."""

from __future__ import annotations

from fastapi import FastAPI

from keel.server._auth import Guard, Principal
from keel.server.ui._common import ProjectView
from keel.server.ui._lineage import Lineage
from keel.store.users import Role


def _view(app: FastAPI, project: str) -> ProjectView:
    st = app.state.keel
    guard = Guard(st, Principal(None, True, st), Role.READER)
    return ProjectView(st.store.projects.get_or_create(project), guard, "models")


def _dataset_version(app: FastAPI, project_id: int, name: str) -> int:
    datasets = app.state.keel.store.datasets
    dataset = datasets.get_or_create(project_id, name)
    version, _ = datasets.add_version(
        dataset,
        content_hash="h",
        kind="table",
        source={},
        schema=[],
        profile={},
        num_rows=3,
        files=[],
    )
    return version.id


def test_lineage_neighbours_and_other_projects(app: FastAPI) -> None:
    here, there = _view(app, "here"), _view(app, "there")
    store = app.state.keel.store
    exp = store.experiments.get_or_create(here.project.id, "e")
    run_id = store.runs.create(exp.id, name="train").id
    mine = _dataset_version(app, here.project.id, "mine")
    theirs = _dataset_version(app, there.project.id, "theirs")
    store.runs.link_dataset(run_id, mine, "input")
    store.runs.link_dataset(run_id, theirs, "input")

    graph = Lineage(here).grow(f"r:{run_id}")

    kinds = {n.id: n.kind for n in graph.nodes}
    assert kinds == {f"r:{run_id}": "run", f"d:{mine}": "dataset", f"d:{theirs}": "missing"}
    assert set(graph.edges) == {(f"d:{mine}", f"r:{run_id}"), (f"d:{theirs}", f"r:{run_id}")}
    # grown from the dataset's end, the same edge leads back to the run
    back = Lineage(here).grow(f"d:{mine}")
    assert {n.id for n in back.nodes} == {f"d:{mine}", f"r:{run_id}", f"d:{theirs}"}
