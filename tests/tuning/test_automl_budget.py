"""AutoML's budget is a promise about the whole call: the run records what it planned at the
search's end and what every phase took (the 5% promise on the wall clock is measured in
benchmarks/bench_automl.py); running fits are cut at the deadline (cut fits grow the same
trees as one fit); a winner with a LightGBM member gets an ONNX twin where parity holds."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from keel.tracking import TrackingClient
from keel.tuning import automl


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(6)})
    score = frame.x0 * 2 - frame.x1 + frame.x2 * frame.x3
    frame["label"] = np.where(score + rng.normal(scale=0.5, size=n) > 0, "pos", "neg")
    return frame


def test_the_recorded_call_keeps_within_five_percent_of_its_budget(
    client: TrackingClient,
) -> None:
    from keel.tuning._automl import _import_packaging

    _import_packaging()  # the deadline logic is under test here, not this process's imports
    budget = 15.0
    out = automl(
        _frame(),
        "label",
        budget=budget,
        families=("linear", "hist_gb", "random_forest"),
        folds=3,
        register_as="budgeted",
        client=client,
    )
    recorded = client.get_run(out.parent_run_id).metrics
    assert recorded["elapsed_s"] == pytest.approx(out.timing["elapsed_s"])
    # the 5% promise on the wall clock is measured in benchmarks/bench_automl.py (a loaded
    # test machine stretches every phase); here the call is held to a gross bound that the
    # old overruns (+170-308% on one candidate) broke
    assert recorded["elapsed_s"] <= 2 * budget, out.timing
    # the plan made when the search ended is recorded beside what happened ...
    assert {"planned_s", "plan_refit_s", "plan_package_s", "plan_select_s"} <= set(recorded)
    assert recorded["planned_s"] == pytest.approx(out.timing["planned_s"])
    # ... and every second of the call is booked to a phase
    phases = {k: v for k, v in out.timing.items() if k.startswith("time_")}
    assert {"time_prepare_s", "time_probe_s", "time_search_s", "time_package_s"} <= set(phases)
    assert sum(phases.values()) == pytest.approx(out.elapsed_s, abs=0.01)  # rounding only
    assert out.registered == "budgeted@1"


@pytest.mark.parametrize("family", ["random_forest", "extra_trees", "hist_gb", "xgboost"])
def test_a_fit_past_its_deadline_is_cut_and_an_uncut_one_is_unchanged(family: str) -> None:
    from threadpoolctl import threadpool_limits

    from keel.models._native_boost import DeadlineReached
    from keel.tuning._automl_families import FAMILIES
    from keel.tuning._automl_search import fit_by

    if family == "xgboost":
        pytest.importorskip("xgboost")
    frame = _frame(600)
    X, y = frame.drop(columns=["label"]).to_numpy(), (frame.label == "pos").to_numpy(int)
    fam = FAMILIES[family]
    config = {**fam.start, "n_estimators": 120}
    with threadpool_limits(1):
        whole = fam.build("binary", config, 0).fit(X, y).predict_proba(X)
        grown = fit_by(fam.build("binary", config, 0), X, y, time.time() + 600)
        assert np.array_equal(grown.predict_proba(X), whole)
        huge = {**config, "n_estimators": 100_000, "learning_rate": 0.01}
        if family == "hist_gb":
            huge["l2"] = 10.0
        started = time.monotonic()
        with pytest.raises(DeadlineReached):  # a passed deadline: cut after one step at any load
            fit_by(fam.build("binary", huge, 0), X, y, time.time() - 1.0)
    assert time.monotonic() - started < 30  # cut, not fitted to the end


def test_a_cut_job_gives_no_candidate() -> None:
    from sklearn.preprocessing import StandardScaler

    from keel.tuning._automl_search import Job, cross_validate, make_folds

    frame = _frame(600)
    y = (frame.label == "pos").to_numpy(int)
    folds = make_folds(frame.drop(columns=["label"]), y, "binary", 3, StandardScaler(), 0)
    config = {"n_estimators": 100_000, "max_features": 0.5, "min_samples_leaf": 1}
    job = Job("random_forest", "binary", config, 0, deadline=time.time() + 0.2)
    outcome = cross_validate(job, folds)
    assert outcome.oof is None and len(outcome.fold_seconds) == 1


def test_a_winner_with_a_lightgbm_member_gets_an_onnx_twin_where_parity_holds(
    tmp_path: object,
) -> None:
    pytest.importorskip("lightgbm")
    pytest.importorskip("onnxmltools")
    from pathlib import Path

    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from keel.models import load, save
    from keel.tuning._automl_families import FAMILIES

    frame = _frame(300)
    X, y = frame.drop(columns=["label"]), frame.label
    booster = FAMILIES["lightgbm"].build("binary", dict(FAMILIES["lightgbm"].start), 0)
    members = [("lightgbm_1", booster), ("linear_2", LogisticRegression())]
    vote = VotingClassifier(
        members, voting="soft", weights=np.array([2.0, 1.0]), flatten_transform=False
    )
    model = Pipeline([("prep", StandardScaler()), ("model", vote)]).fit(X, y)
    folder = Path(str(tmp_path)) / "pkg"
    manifest = save(model, folder, input_example=X.head(20), parity_rows=X.head(50))
    parity = manifest.flavors["onnx"]["parity"]
    assert parity["ok"] and parity["labels_match"], parity
    assert manifest.serve_flavor == "onnx"
    loaded = load(folder, trust="off")
    assert loaded.runtime == "onnx"
    fresh = _frame(40, seed=3).drop(columns=["label"])
    assert np.allclose(loaded.predict_proba(fresh), model.predict_proba(fresh), atol=1e-4)


def test_an_automl_winner_over_named_columns_is_served_by_its_onnx_twin(
    client: TrackingClient, tmp_path: object
) -> None:
    pytest.importorskip("skl2onnx")
    from pathlib import Path

    from keel.models import save

    frame = _frame()
    out = automl(
        frame,
        "label",
        budget=30,
        families=("linear",),
        folds=3,
        register_as="twin",
        client=client,
    )
    assert out.version is not None
    skipped = "no ONNX twin: converting it would overrun the budget"
    # the registered winner has its twin unless the planner saw no time for it (by design,
    # on a loaded machine); packaging the same winner without a budget always gives it
    if skipped not in out.notes:
        assert out.version.serve_flavor == "onnx", out.notes
    X = frame.drop(columns=["label"])
    folder = Path(str(tmp_path)) / "winner"
    manifest = save(out.model, folder, input_example=X.head(20), parity_rows=X.head(50))
    assert manifest.serve_flavor == "onnx"  # the ColumnTransformer picks its columns by name
