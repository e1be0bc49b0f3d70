"""Which project owns an object: a repository of the store, not free functions over its db."""

from __future__ import annotations

import pytest

from keel.exceptions import NotFoundError
from keel.store import DatasetFile, Store


def test_project_of_names_the_missing_object(store: Store) -> None:
    project = store.projects.get_or_create("owner")
    dataset = store.datasets.get_or_create(project.id, "iris")
    version, _ = store.datasets.add_version(
        dataset,
        content_hash="h",
        kind="table",
        source={},
        schema=[],
        profile={},
        num_rows=1,
        files=[DatasetFile("a.csv", "0" * 64, 1)],
    )
    owners = store.ownership
    assert owners.project_of("dataset", dataset.id) == project.id
    assert owners.project_of("dataset_version", version.id) == project.id
    assert owners.projects_referencing("0" * 64) == {project.id}
    assert owners.projects_referencing("1" * 64) == set()
    with pytest.raises(NotFoundError, match="schedule fire 4242 does not exist"):
        owners.project_of("schedule_fire", 4242)
    with pytest.raises(NotFoundError, match="pipeline run 'nope' does not exist"):
        owners.project_of("pipeline_run", "nope")
