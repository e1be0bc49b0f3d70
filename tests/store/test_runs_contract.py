"""The run repositories' contract, run against every metadata backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import math

import pytest

from keel.exceptions import (
    AlreadyExistsError,
    FilterSyntaxError,
    InvalidArgumentError,
    NotFoundError,
    ParamConflictError,
)
from keel.store import Metric, RunStatus, Store


@pytest.fixture
def exp_id(store: Store) -> int:
    project = store.projects.get_or_create("default")
    return store.experiments.create(project.id, "exp").id


def test_experiment_names_are_unique_per_project(store: Store) -> None:
    a = store.projects.get_or_create("a")
    b = store.projects.get_or_create("b")
    store.experiments.create(a.id, "same")
    store.experiments.create(b.id, "same")  # another project: fine
    with pytest.raises(AlreadyExistsError, match="'same'"):
        store.experiments.create(a.id, "same")


def test_experiment_rename_tag_delete_restore(store: Store, exp_id: int) -> None:
    store.experiments.rename(exp_id, "renamed")
    store.experiments.set_tag(exp_id, "team", "risk")
    exp = store.experiments.get(exp_id)
    assert (exp.name, exp.tags) == ("renamed", {"team": "risk"})
    store.experiments.delete(exp_id)
    assert store.experiments.list(exp.project_id) == []
    with pytest.raises(InvalidArgumentError, match="deleted"):
        store.runs.create(exp_id)
    store.experiments.restore(exp_id)
    assert [e.id for e in store.experiments.list(exp.project_id)] == [exp_id]


def test_unknown_ids_name_the_value(store: Store, exp_id: int) -> None:
    with pytest.raises(NotFoundError, match="9999"):
        store.experiments.get(9999)
    with pytest.raises(NotFoundError, match="nope"):
        store.runs.get("nope")
    with pytest.raises(NotFoundError, match="424242"):
        store.runs.create(424242)
    with pytest.raises(NotFoundError, match="missing-run"):
        store.runs.log_metric("missing-run", Metric("m", 1.0))


def test_run_lifecycle_and_nesting(store: Store, exp_id: int) -> None:
    parent = store.runs.create(exp_id, name="parent")
    child = store.runs.create(exp_id, parent_id=parent.id)
    assert child.parent_id == parent.id and child.name  # a generated readable name
    assert [c.id for c in store.runs.children(parent.id)] == [child.id]
    done = store.runs.update(parent.id, status=RunStatus.FINISHED)
    assert done.status is RunStatus.FINISHED and done.end_time is not None
    store.runs.delete(child.id)
    with pytest.raises(InvalidArgumentError, match="deleted"):
        store.runs.log_params(child.id, {"a": 1})
    store.runs.restore(child.id)
    store.runs.log_params(child.id, {"a": 1})


def test_params_are_immutable(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id)
    store.runs.log_params(run.id, {"lr": 0.1, "model": "rf"})
    store.runs.log_params(run.id, {"lr": 0.1})  # same value again: fine
    with pytest.raises(ParamConflictError, match=r"'lr'.*'0\.1'.*'0\.2'"):
        store.runs.log_params(run.id, {"lr": 0.2, "new": "x"})
    # the failed batch wrote nothing
    assert store.runs.get(run.id).params == {"lr": "0.1", "model": "rf"}


def test_metrics_keep_nan_inf_and_history(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id)
    store.runs.log_batch(
        run.id,
        metrics=[
            Metric("loss", 0.5, step=1, timestamp=10),
            Metric("loss", 0.7, step=0, timestamp=20),
            Metric("loss", math.nan, step=2, timestamp=30),
            Metric("up", math.inf, step=0, timestamp=1),
            Metric("down", -math.inf, step=0, timestamp=1),
        ],
    )
    hist = store.runs.metric_history(run.id, "loss")
    assert [m.step for m in hist] == [0, 1, 2]
    assert hist[0].value == 0.7 and math.isnan(hist[2].value)
    latest = store.runs.get(run.id).metrics
    assert math.isnan(latest["loss"])  # step 2 is the newest
    assert latest["up"] == math.inf and latest["down"] == -math.inf
    assert store.runs.get(run.id).metric_steps["loss"] == (2, 30)
    store.runs.log_metric(run.id, Metric("loss", 0.1, step=1, timestamp=99))  # older step
    assert math.isnan(store.runs.get(run.id).metrics["loss"])


def test_bad_keys_and_values_are_refused(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id)
    with pytest.raises(InvalidArgumentError, match="non-empty"):
        store.runs.log_params(run.id, {"": 1})
    with pytest.raises(InvalidArgumentError, match="characters"):
        store.runs.set_tags(run.id, {"x" * 300: "v"})
    with pytest.raises(InvalidArgumentError, match=r"\.\./etc"):
        store.runs.log_metric(run.id, Metric("../etc", 1.0))
    with pytest.raises(TypeError, match="number"):
        Metric("m", "high")  # type: ignore[arg-type]


def test_tags_overwrite_and_delete(store: Store, exp_id: int) -> None:
    run = store.runs.create(exp_id, tags={"a": "1"})
    store.runs.set_tags(run.id, {"a": "2", "b": "3"})
    store.runs.delete_tag(run.id, "b")
    assert store.runs.get(run.id).tags == {"a": "2"}
    with pytest.raises(NotFoundError, match="'b'"):
        store.runs.delete_tag(run.id, "b")


def _seed(store: Store, exp_id: int) -> dict[str, str]:
    ids = {}
    for name, model, auc, team in [
        ("r1", "rf", 0.95, "x"),
        ("r2", "rf", 0.85, "y"),
        ("r3", "gbm", 0.97, "x"),
        ("r4", "logreg", None, "x"),
    ]:
        run = store.runs.create(exp_id, name=name, tags={"team": team})
        store.runs.log_params(run.id, {"model": model})
        if auc is not None:
            store.runs.log_metric(run.id, Metric("auc", auc))
        ids[name] = run.id
    return ids


def test_search_filter_order_and_pages(store: Store, exp_id: int) -> None:
    _seed(store, exp_id)

    def names(filter_: str | None, order: str | list[str] | None = None, **kw: int) -> list[str]:
        return [r.name for r in store.runs.search([exp_id], filter_, order_by=order, **kw).runs]

    assert names("metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'x'") == ["r1"]
    assert names("metrics.auc > 0.9", "metrics.auc DESC") == ["r3", "r1"]
    assert names(None, "metrics.auc ASC") == ["r2", "r1", "r3", "r4"]  # missing sorts last
    assert names("params.model != 'rf'", "name") == ["r3", "r4"]
    assert names("params.model in ('gbm', 'logreg')", "name") == ["r3", "r4"]
    assert names("tags.team = 'y' or metrics.auc >= 0.97", "name") == ["r2", "r3"]
    assert names("attributes.name like 'r%' and status = 'RUNNING'", "name DESC")[0] == "r4"
    page = store.runs.search([exp_id], order_by="name", max_results=3)
    assert [r.name for r in page.runs] == ["r1", "r2", "r3"] and page.next_page_token
    rest = store.runs.search(
        [exp_id], order_by="name", max_results=3, page_token=page.next_page_token
    )
    assert [r.name for r in rest.runs] == ["r4"] and rest.next_page_token is None


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("metrics.auc >", "ends early"),
        ("metrics.auc = 'high'", "compare it with a number"),
        ("params.model = rf", "expected a number or a quoted string"),
        ("foo.bar = 1", "unknown field 'foo.bar'"),
        ("metrics.auc > 0.9 or", "ends early"),
        ("metrics.auc > 0.9; DROP TABLE runs", "unexpected character ';'"),
        ("(metrics.auc > 0.9", "expected ')'"),
        ("__import__('os').system('x')", "unexpected character"),
        ("__import__('os')", "expected a field"),
    ],
)
def test_malformed_filters_say_what_is_wrong(
    store: Store, exp_id: int, bad: str, fragment: str
) -> None:
    with pytest.raises(FilterSyntaxError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        store.runs.search([exp_id], bad)


def test_bad_page_token_and_limits(store: Store, exp_id: int) -> None:
    with pytest.raises(InvalidArgumentError, match="page token"):
        store.runs.search([exp_id], page_token="garbage!")
    with pytest.raises(InvalidArgumentError, match="max_results"):
        store.runs.search([exp_id], max_results=0)


def test_deleted_runs_leave_search(store: Store, exp_id: int) -> None:
    ids = _seed(store, exp_id)
    store.runs.delete(ids["r1"])
    found = [r.name for r in store.runs.search([exp_id], order_by="name").runs]
    assert found == ["r2", "r3", "r4"]
    deleted_too = store.runs.search([exp_id], include_deleted=True).runs
    assert len(deleted_too) == 4
