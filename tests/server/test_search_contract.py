"""The Search protocol's contract over SQLite, PostgreSQL and the server (HTTP repository),
and the server's access rule: nobody finds what they cannot read."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import RunStatus, Store
from keel.store.registry import NewVersion
from keel.store.search import SearchRepository


@dataclass
class World:
    store: Store  # the backend under test
    sql: Store  # the SQL store behind it, to seed and to inspect
    a: int  # project ids
    b: int
    run_ids: list[str]


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def world(request: pytest.FixtureRequest) -> World:
    name = {"sqlite": "sqlite_store", "postgres": "pg_store", "remote": "remote_store"}
    store: Store = request.getfixturevalue(name[request.param])
    sql: Store = request.getfixturevalue("server_store") if request.param == "remote" else store
    a = sql.projects.get_or_create("churn-team")
    b = sql.projects.get_or_create("fraud-team")
    exp = sql.experiments.create(a.id, "churn-baseline")
    run_ids = []
    for i, (name_, note) in enumerate(
        [
            ("calibrated-gbm", "Isotonic calibration fixed the churn model's overconfidence."),
            ("plain-logreg", "Baseline churn model; no calibration."),
            ("tiny-tree", "Depth 2 tree, underfits."),
        ]
    ):
        run = sql.runs.create(exp.id, name=name_, user="ana" if i else "bo")
        sql.runs.log_params(run.id, {"model": name_.split("-")[1], "seed": i})
        sql.runs.set_tags(run.id, {"team": "retention", "keel.git.commit": "f" * 40})
        sql.runs.update(run.id, status=RunStatus.FINISHED, note=note)
        run_ids.append(run.id)
    sql.comments.add(a.id, "run", run_ids[1], "Try Platt scaling? ' OR 1=1; DROP TABLE runs; --",
                     author="cy")  # fmt: skip
    sql.registry.create_model(a.id, "churn", description="Predicts churn within 30 days")
    sql.registry.create_version(
        a.id, "churn",
        NewVersion("0" * 64, 1, "0" * 64, "sklearn", "sklearn", "classification",
                   card={"intended_use": "retention campaigns", "limits": ["calibrated on 2025"]}),
    )  # fmt: skip
    sql.datasets.get_or_create(a.id, "customers", "Monthly churn snapshot of active customers")
    other = sql.experiments.create(b.id, "fraud")
    secret = sql.runs.create(other.id, name="fraud-churn-secret")
    sql.runs.update(secret.id, status=RunStatus.FINISHED, note="churn calibration for fraud")
    return World(store, sql, a.id, b.id, run_ids)


def _refs(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [f"{h.kind}:{h.ref}" for h in hits]


def test_ranked_hits_with_snippets_from_every_kind(world: World) -> None:
    search = world.store.search
    assert search.refresh(world.a) == 7  # 3 runs, 1 comment, a model and its version, 1 dataset
    hits = search.search(world.a, "churn model calibration")
    assert hits and hits[0].ref == world.run_ids[0]  # title-free but every word, densely
    assert "**calibration**" in hits[0].snippet.lower() or "**calibr" in hits[0].snippet.lower()
    assert all(h.project_id == world.a for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    kinds = {h.kind for h in search.search(world.a, "churn", limit=50)}
    assert kinds == {"run", "model", "dataset"}
    assert _refs(search.search(world.a, "retention campaigns")) == ["model:churn/1"]
    assert _refs(search.search(world.a, "Platt")) == ["comment:1"] or (
        search.search(world.a, "Platt")[0].kind == "comment"
    )


def test_filters_by_kind_author_and_time(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    assert {h.kind for h in search.search(world.a, "churn", kinds=["dataset"])} == {"dataset"}
    assert _refs(search.search(world.a, "churn", kinds=["run"], author="bo")) == [
        f"run:{world.run_ids[0]}"
    ]
    assert search.search(world.a, "churn", since=2**62) == []
    with pytest.raises(InvalidArgumentError, match="'note' is not one of run, comment"):
        search.search(world.a, "churn", kinds=["note"])


SYNTAX = [
    '"churn',
    "churn AND OR NOT",
    "title:churn",
    "churn* ^model",
    "NEAR(churn model)",
    "' OR 1=1; DROP TABLE runs; --",
    "churn & | ! <-> :*",
    "()",
]


def test_query_syntax_is_text(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    for query in SYNTAX:
        hits = search.search(world.a, query)  # never a syntax error, never executed
        if "DROP" in query:
            assert [h.kind for h in hits][:1] == ["comment"], query  # the comment holding it
        elif query != "()":
            assert hits, query
    assert search.search(world.a, "()") == []
    assert len(world.sql.runs.get_many(world.run_ids)) == 3


def test_the_index_follows_writes_and_rebuild_rereads_everything(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    exp = world.sql.experiments.get_or_create(world.a, "churn-baseline")
    run = world.sql.runs.create(exp.id, name="xgboost-sweep")
    world.sql.runs.update(run.id, status=RunStatus.FINISHED, note="monotone constraints help")
    assert search.refresh(world.a) >= 1
    assert _refs(search.search(world.a, "monotone")) == [f"run:{run.id}"]
    assert search.rebuild(world.a) == 8
    assert _refs(search.search(world.a, "monotone")) == [f"run:{run.id}"]


def test_a_tag_added_after_the_run_ended_is_found(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    assert search.search(world.a, "discarded") == []
    world.sql.runs.set_tags(world.run_ids[2], {"verdict": "discarded"})  # the run has ended
    search.refresh(world.a)
    assert _refs(search.search(world.a, "discarded")) == [f"run:{world.run_ids[2]}"]
    world.sql.runs.delete_tag(world.run_ids[2], "verdict")
    world.sql.runs.update(world.run_ids[1], note="Superseded by the calibrated GBM")
    search.refresh(world.a)
    assert search.search(world.a, "discarded") == []
    assert _refs(search.search(world.a, "superseded")) == [f"run:{world.run_ids[1]}"]


def test_deleted_runs_and_objects_are_not_found(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    assert _refs(search.search(world.a, "underfits")) == [f"run:{world.run_ids[2]}"]
    world.sql.runs.delete(world.run_ids[2])
    comment = world.sql.comments.add(world.a, "run", world.run_ids[0], "wobbly reliability plot")
    search.refresh(world.a)
    assert search.search(world.a, "underfits") == []
    assert _refs(search.search(world.a, "wobbly")) == [f"comment:{comment.id}"]
    world.sql.comments.delete(world.a, comment.id)
    world.sql.registry.delete_model(world.a, "churn")
    search.refresh(world.a)
    assert search.search(world.a, "wobbly") == []
    assert search.search(world.a, "churn", kinds=["model"]) == []  # its version went with it
    world.sql.runs.restore(world.run_ids[2])
    search.refresh(world.a)
    assert _refs(search.search(world.a, "underfits")) == [f"run:{world.run_ids[2]}"]


def test_runs_of_a_deleted_or_renamed_experiment_follow_it(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    exp = world.sql.experiments.get_or_create(world.a, "churn-baseline")
    world.sql.experiments.rename(exp.id, "churn-holdout")
    search.refresh(world.a)  # the experiment's runs carry its name
    assert len(search.search(world.a, "holdout", kinds=["run"])) == 3
    world.sql.experiments.delete(exp.id)
    search.refresh(world.a)
    assert search.search(world.a, "underfits") == []


def test_an_edited_description_is_found_by_the_new_word_not_the_old(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    reg = world.sql.registry
    assert _refs(search.search(world.a, "30 days", kinds=["model"])) == ["model:churn"]
    reg.update_model(world.a, "churn", description="Predicts attrition within a quarter")
    search.refresh(world.a)
    assert search.search(world.a, "days", kinds=["model"]) == []
    assert _refs(search.search(world.a, "attrition")) == ["model:churn"]
    version = reg.get_version(world.a, "churn", 1)
    reg.update_version(version.id, description="shadow candidate for Q3")
    reg.set_version_tags(version.id, {"review": "approved-by-risk"})
    search.refresh(world.a)
    assert _refs(search.search(world.a, "shadow candidate")) == ["model:churn/1"]
    assert _refs(search.search(world.a, "approved risk")) == ["model:churn/1"]
    reg.set_model_tags(world.a, "churn", {"owner": "retention-squad"})
    search.refresh(world.a)
    assert _refs(search.search(world.a, "squad")) == ["model:churn"]
    reg.rename_model(world.a, "churn", "attrition")
    search.refresh(world.a)
    assert _refs(search.search(world.a, "shadow candidate")) == ["model:attrition/1"]
    assert "model:churn" not in _refs(search.search(world.a, "churn attrition", limit=50))


@pytest.mark.parametrize("backend", ["sqlite_store", "pg_store"])
def test_a_refresh_rereads_only_what_changed(request: pytest.FixtureRequest, backend: str) -> None:
    """Each refresh re-reads exactly the objects written since the previous one (no skew
    window here, so the counts are exact), and a deletion is dropped, not re-read."""
    store: Store = request.getfixturevalue(backend)
    search = SearchRepository(store.db, skew_ms=0)
    pid = store.projects.get_or_create("churn-team").id
    exp = store.experiments.create(pid, "baseline")
    runs = []
    for i in range(5):
        run = store.runs.create(exp.id, name=f"run-{i}")
        store.runs.log_params(run.id, {"seed": i})
        store.runs.update(run.id, status=RunStatus.FINISHED, note="plain baseline")
        runs.append(run.id)
    store.registry.create_model(pid, "churn", description="Predicts churn within 30 days")
    new = NewVersion("0" * 64, 1, "0" * 64, "sklearn", "sklearn", "classification")
    store.registry.create_version(pid, "churn", new)
    comment = store.comments.add(pid, "run", runs[0], "wobbly reliability plot")
    assert search.refresh(pid) == 8  # first: everything
    assert search.refresh(pid) == 0  # nothing new: nothing re-read
    store.runs.set_tags(runs[2], {"verdict": "discarded"})  # after the run ended
    assert search.refresh(pid) == 1
    store.runs.update(runs[3], note="superseded")
    store.runs.delete_tag(runs[2], "verdict")
    assert search.refresh(pid) == 2
    store.registry.update_model(pid, "churn", description="Predicts attrition")
    assert search.refresh(pid) == 1
    version = store.registry.get_version(pid, "churn", 1)
    store.registry.update_version(version.id, description="shadow candidate")
    assert search.refresh(pid) == 1
    store.registry.rename_model(pid, "churn", "attrition")
    assert search.refresh(pid) == 2  # the model and its version, found by the new name
    store.experiments.rename(exp.id, "holdout")
    assert search.refresh(pid) == 5  # the experiment's runs carry its name
    store.runs.delete(runs[4])
    store.comments.delete(pid, comment.id)
    assert search.refresh(pid) == 0  # deletions are dropped, nothing is re-read
    assert store.search.search(pid, "wobbly") == []
    assert {h.ref for h in store.search.search(pid, "holdout")} == set(runs[:4])
    assert [h.ref for h in store.search.search(pid, "shadow")] == ["attrition/1"]
    with store.db.read() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM search_docs WHERE project_id = :p"), {"p": pid}
        ).scalar()
    assert count == 4 + 2  # 4 live runs, the model and its version


def test_projects_do_not_see_each_other(world: World) -> None:
    search = world.store.search
    search.refresh(world.a)
    search.refresh(world.b)
    assert all(h.project_id == world.a for h in search.search(world.a, "fraud churn secret"))
    assert _refs(search.search(world.b, "churn calibration"))[0].startswith("run:")
    assert "fraud-churn-secret" not in [h.title for h in search.search(world.a, "secret")]


def test_a_reader_finds_only_what_their_projects_hold(auth_world) -> None:  # type: ignore[no-untyped-def]
    store = auth_world.store
    exp = store.experiments.create(auth_world.project_id, "team-exp")
    run = store.runs.create(exp.id, name="calibration-study")
    store.runs.update(run.id, status=RunStatus.FINISHED, note="isotonic calibration")
    hidden = store.projects.get_or_create("hidden")
    other = store.runs.create(store.experiments.create(hidden.id, "x").id, name="calibration-x")
    store.runs.update(other.id, status=RunStatus.FINISHED)
    c = auth_world.client
    url = f"/api/v1/projects/{auth_world.project_id}/search"
    assert c.post(f"{url}/refresh", headers=auth_world.as_("rita")).json() == {"indexed": 1}
    found = c.get(url, params={"q": "calibration"}, headers=auth_world.as_("rita"))
    assert found.status_code == 200
    assert [h["ref"] for h in found.json()["hits"]] == [run.id]
    outsider = c.get(url, params={"q": "calibration"}, headers=auth_world.as_("out"))
    assert outsider.status_code == 404 and "hits" not in outsider.json()
    hidden_url = f"/api/v1/projects/{hidden.id}/search"
    assert c.get(hidden_url, params={"q": "x"}, headers=auth_world.as_("rita")).status_code == 404
    assert c.get(url, params={"q": "x"}).status_code == 401
    rebuild = c.post(f"{url}/rebuild", headers=auth_world.as_("rita"))
    assert rebuild.status_code == 403


def test_stored_reports_are_listed_shown_and_found(world: World) -> None:
    reports = world.store.reports
    first = reports.save(world.a, "Calibrated GBM vs main", "## Δ auc +0.02\nisotonic wins",
                         base="main", head="feature", author="bo")  # fmt: skip
    second = reports.save(world.a, "Second look", "nothing new")
    assert [r.id for r in reports.list(world.a)] == [second.id, first.id]
    assert reports.get(world.a, first.id).markdown.endswith("isotonic wins")
    assert (first.base, first.head) == ("main", "feature")
    assert reports.list(world.b) == []
    with pytest.raises(NotFoundError, match=f"report {first.id} does not exist"):
        reports.get(world.b, first.id)
    world.store.search.refresh(world.a)
    assert _refs(world.store.search.search(world.a, "isotonic wins", kinds=["report"])) == [
        f"report:{first.id}"
    ]


def test_the_ui_search_box_shows_ranked_links_and_escapes_everything(  # type: ignore[no-untyped-def]
    client, server_store: Store
) -> None:
    project = server_store.projects.get_or_create("default")
    exp = server_store.experiments.create(project.id, "ui")
    run = server_store.runs.create(exp.id, name="calibrated-gbm")
    server_store.runs.update(
        run.id, status=RunStatus.FINISHED, note="isotonic calibration <script>x</script>"
    )
    page = client.get("/ui/p/default/search", params={"q": "isotonic calibration"})
    assert page.status_code == 200
    assert f'href="/ui/p/default/runs/{run.id}"' in page.text
    assert "<mark>isotonic</mark>" in page.text and "<script>x" not in page.text
    assert 'action="/ui/p/default/search"' in client.get("/ui/p/default/experiments").text
    odd = client.get("/ui/p/default/search", params={"q": '"<b>" OR 1=1', "kind": "run"})
    assert odd.status_code == 200 and "&lt;b&gt;" in odd.text and '"<b>"' not in odd.text
