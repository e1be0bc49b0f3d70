"""The Labeling protocol on SQLite, PostgreSQL and the server: projects, tasks, queues with
overlap and load balancing, one answer per annotator and task, skips, paging, progress."""

from __future__ import annotations

import threading

import pytest

from keel.exceptions import AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError
from keel.store import Store
from keel.store.labeling import NewTask

CONFIG = {"kind": "classification", "labels": ["cat", "dog"], "field": "text"}


def _project(store: Store, overlap: int = 2, n: int = 4) -> tuple[int, list[int]]:
    pid = store.projects.get_or_create("default").id
    store.labeling.create_project(pid, "pets", CONFIG, instructions="Is it a cat?", overlap=overlap)
    tasks = [
        NewTask({"text": f"item {i}"}, source_ref="test", request_id=f"r{i}") for i in range(n)
    ]
    return pid, store.labeling.add_tasks(pid, "pets", tasks)


def test_projects_and_tasks(store: Store) -> None:
    pid, ids = _project(store)
    repo = store.labeling
    lp = repo.get_project(pid, "pets")
    assert (lp.name, lp.config, lp.instructions, lp.overlap) == ("pets", CONFIG, "Is it a cat?", 2)
    assert [p.name for p in repo.list_projects(pid)] == ["pets"]
    with pytest.raises(AlreadyExistsError, match="pets"):
        repo.create_project(pid, "pets", CONFIG)
    with pytest.raises(InvalidArgumentError, match="overlap 0"):
        repo.create_project(pid, "other", CONFIG, overlap=0)
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        repo.get_project(pid, "nope")
    assert len(ids) == 4 and ids == sorted(ids)
    task = repo.get_task(pid, "pets", ids[2])
    assert (task.data, task.source_ref, task.request_id) == ({"text": "item 2"}, "test", "r2")
    assert [t.id for t in repo.list_tasks(pid, "pets", after=ids[0], limit=2)] == ids[1:3]
    with pytest.raises(NotFoundError, match=f"task {ids[-1] + 100}"):
        repo.get_task(pid, "pets", ids[-1] + 100)


def test_queue_balances_load_and_respects_overlap(store: Store) -> None:
    pid, ids = _project(store, overlap=2, n=3)
    repo = store.labeling
    a = repo.next_task(pid, "pets", "ann")
    assert a is not None and a.id == ids[0]
    assert repo.next_task(pid, "pets", "ann") == a  # held until answered
    b = repo.next_task(pid, "pets", "bob")
    assert b is not None and b.id == ids[1]  # the least-covered task first
    repo.submit(pid, "pets", a.id, "ann", {"label": "cat"}, lead_ms=1200)
    c = repo.next_task(pid, "pets", "cid")
    assert c is not None and c.id == ids[2]
    # ann's next: one with a free slot she has not seen
    assert repo.next_task(pid, "pets", "ann").id == ids[1]  # type: ignore[union-attr]
    repo.submit(pid, "pets", ids[1], "ann", {"label": "dog"})
    repo.submit(pid, "pets", ids[1], "bob", {"label": "dog"})
    # ids[1] is full (overlap 2); ann still may take ids[2] (cid holds 1 of 2 slots)
    assert repo.next_task(pid, "pets", "ann").id == ids[2]  # type: ignore[union-attr]
    repo.submit(pid, "pets", ids[2], "ann", {"label": "cat"})
    assert repo.next_task(pid, "pets", "dan").id == ids[0]  # type: ignore[union-attr]
    assert repo.next_task(pid, "pets", "ann") is None  # nothing left for ann
    progress = repo.progress(pid, "pets")
    assert (progress.tasks, progress.annotations, progress.complete) == (3, 4, 1)
    assert progress.by_annotator == {"ann": 3, "bob": 1}
    assert progress.in_progress == 2  # cid and dan hold tasks


def test_one_answer_per_annotator_and_task(store: Store) -> None:
    pid, ids = _project(store, overlap=3, n=1)
    repo = store.labeling
    first = repo.submit(pid, "pets", ids[0], "ann", {"label": "cat"})
    with pytest.raises(ConflictError, match="'ann' has already answered task"):
        repo.submit(pid, "pets", ids[0], "ann", {"label": "dog"})
    kept = repo.annotations(pid, "pets", task_id=ids[0])
    assert kept == [first] and kept[0].result == {"label": "cat"}
    assert repo.has_answered(pid, "pets", ids[0], "ann")
    assert not repo.has_answered(pid, "pets", ids[0], "bob")


def test_concurrent_submissions_never_duplicate(store: Store) -> None:
    pid, ids = _project(store, overlap=3, n=1)
    outcomes: list[str] = []

    def answer(label: str) -> None:
        try:
            store.labeling.submit(pid, "pets", ids[0], "ann", {"label": label})
            outcomes.append("stored")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=answer, args=(lab,)) for lab in ("cat", "dog", "cat")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "stored"]
    assert len(store.labeling.annotations(pid, "pets")) == 1


def test_skip_with_reason_and_paging(store: Store) -> None:
    pid, ids = _project(store, overlap=1, n=3)
    repo = store.labeling
    held = repo.next_task(pid, "pets", "ann")
    assert held is not None
    with pytest.raises(InvalidArgumentError, match="why"):
        repo.skip(pid, "pets", held.id, "ann", "  ")
    repo.skip(pid, "pets", held.id, "ann", "blurry")
    again = repo.next_task(pid, "pets", "ann")
    assert again is not None and again.id != held.id  # not offered to ann again
    assert repo.next_task(pid, "pets", "bob").id == held.id  # type: ignore[union-attr]
    assert repo.progress(pid, "pets").skipped == 1
    for i, task_id in enumerate(ids):
        repo.submit(pid, "pets", task_id, "cid", {"label": "cat" if i % 2 else "dog"})
    page1 = repo.annotations(pid, "pets", limit=2)
    page2 = repo.annotations(pid, "pets", after=page1[-1].id, limit=2)
    assert [a.task_id for a in page1 + page2] == ids
    assert [a.annotator for a in repo.annotations(pid, "pets", annotator="cid")] == ["cid"] * 3


def test_undo_gives_the_task_back(store: Store) -> None:
    pid, _ = _project(store, overlap=1, n=3)
    repo = store.labeling
    first = repo.next_task(pid, "pets", "ann")
    assert first is not None
    repo.submit(pid, "pets", first.id, "ann", {"label": "cat"})
    second = repo.next_task(pid, "pets", "ann")
    assert second is not None and second.id != first.id
    taken = repo.undo(pid, "pets", first.id, "ann")
    assert taken is not None and taken.result == {"label": "cat"}
    assert repo.annotations(pid, "pets") == []
    assert repo.next_task(pid, "pets", "ann").id == first.id  # type: ignore[union-attr]
    assert repo.next_task(pid, "pets", "bob").id not in (first.id, second.id)  # type: ignore[union-attr]
    repo.submit(pid, "pets", first.id, "ann", {"label": "dog"})  # answered again, once
    assert [a.result for a in repo.annotations(pid, "pets")] == [{"label": "dog"}]
    with pytest.raises(NotFoundError, match="nothing to undo"):
        repo.undo(pid, "pets", second.id, "cid")
    # a skip taken back: the slot it freed went to someone else meanwhile -> conflict
    repo.skip(pid, "pets", second.id, "ann", "blurry")
    assert repo.undo(pid, "pets", second.id, "ann") is None
    assert repo.next_task(pid, "pets", "ann").id == second.id  # type: ignore[union-attr]
    repo.skip(pid, "pets", second.id, "ann", "blurry")
    assert repo.next_task(pid, "pets", "cid").id == second.id  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="gone to other annotators"):
        repo.undo(pid, "pets", second.id, "ann")
    assert repo.progress(pid, "pets").in_progress == 2  # bob and cid hold one each


def test_a_share_of_tasks_double_labelled(store: Store) -> None:
    """--double-share 0.2: the tasks the id hash picks get two answers, the rest one; the
    queue stops at that, progress counts a task complete at its own overlap, and agreement
    is over the doubled tasks."""
    from keel import labeling
    from keel.store._labeling_share import doubled

    pid = store.projects.get_or_create("default").id
    repo = store.labeling
    with pytest.raises(InvalidArgumentError, match=r"double share 1\.5 must be between 0 and 1"):
        repo.create_project(pid, "bad", CONFIG, double_share=1.5)
    lp = repo.create_project(pid, "pets", CONFIG, double_share=0.2)
    assert (lp.overlap, lp.double_share) == (2, 0.2)  # overlap 1 with a share means 2
    assert repo.get_project(pid, "pets") == lp
    ids = repo.add_tasks(pid, "pets", [NewTask({"text": f"item {i}"}) for i in range(40)])
    twice = {i for i in ids if doubled(i, 0.2)}
    assert 4 <= len(twice) <= 12 and lp.overlap_of(min(twice)) == 2
    for who in ("ann", "bob", "cid"):
        while (task := repo.next_task(pid, "pets", who)) is not None:
            repo.submit(pid, "pets", task.id, who, {"label": "cat" if task.id % 3 else "dog"})
        if who == "ann":  # one answer each: the doubled tasks still wait for their second
            assert repo.progress(pid, "pets").complete == 40 - len(twice)
    answers: dict[int, int] = {}
    for a in repo.annotations(pid, "pets"):
        answers[a.task_id] = answers.get(a.task_id, 0) + 1
    assert answers == {i: 2 if i in twice else 1 for i in ids}
    progress = repo.progress(pid, "pets")
    assert (progress.tasks, progress.complete, progress.annotations) == (40, 40, 40 + len(twice))
    agree = labeling.project_agreement(store, pid, "pets")
    assert agree.tasks == len(twice) and agree.percent == 1.0
