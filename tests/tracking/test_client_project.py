"""The tracking client resolves its project on first use: reads need it, writes make it."""

from __future__ import annotations

import pytest

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import Store
from keel.tracking import TrackingClient


def test_reads_of_a_missing_project_fail_and_writes_create_it(sqlite_store: Store) -> None:
    sqlite_store.projects.get_or_create("churn")
    client = TrackingClient(sqlite_store, "typo")  # no I/O: nothing is created here
    with pytest.raises(NotFoundError, match=r"project 'typo' does not exist; projects: churn"):
        client.list_experiments()
    with pytest.raises(NotFoundError, match="project 'typo'"):
        client.search_runs()
    assert [p.name for p in sqlite_store.projects.list()] == ["churn"]
    run = TrackingClient(sqlite_store, "typo").create_run("first")
    assert sorted(p.name for p in sqlite_store.projects.list()) == ["churn", "typo"]
    assert [r.info.id for r in client.search_runs().runs] == [run.id]


def test_the_default_project_reads_on_an_empty_store(sqlite_store: Store) -> None:
    assert TrackingClient(sqlite_store).list_experiments() == []


def test_a_bad_experiment_is_refused_before_the_project_is_made(sqlite_store: Store) -> None:
    client = TrackingClient(sqlite_store, "fresh")
    bad = [
        lambda: client.create_experiment(""),
        lambda: client.create_experiment("e", tags={"a..b/../c": "x"}),
        lambda: client.get_or_create_experiment(" "),
        lambda: client.create_run(experiment=""),
    ]
    for call in bad:
        with pytest.raises(InvalidArgumentError):
            call()
    assert sqlite_store.projects.list() == []
    assert client.create_experiment("e", tags={"team": "a"}).tags == {"team": "a"}
    assert [p.name for p in sqlite_store.projects.list()] == ["fresh"]
