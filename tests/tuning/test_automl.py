"""keel.automl end to end on small frames: tracked candidates, a registered loadable winner,
preprocessing inside the Pipeline, and a clear one-line error for every kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keel.exceptions import InvalidArgumentError
from keel.tracking import TrackingClient
from keel.tuning import AutoMLResult, automl

FAST = ("linear", "hist_gb")


def _customers(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Churn-like data with every column kind: numbers with gaps, a category, a date,
    an all-missing column and a constant one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n),
            "monthly": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "signup": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "empty": np.nan,
            "const": 7,
        }
    )
    logit = -0.5 + 0.06 * (frame.monthly - 70) - 0.05 * (frame.tenure - 36)
    logit += (frame.plan == "basic") * 1.0
    frame["churned"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame.loc[rng.random(n) < 0.1, "monthly"] = np.nan
    return frame


@pytest.fixture(scope="module")
def result(client: TrackingClient) -> AutoMLResult:
    return automl(
        _customers(),
        "churned",
        metric="roc_auc",
        budget="6s",
        families=FAST,
        folds=3,
        register_as="churn",
        client=client,
    )


def test_detects_the_task_and_reports_dropped_columns(result: AutoMLResult) -> None:
    assert result.task == "binary"
    assert result.metric == "roc_auc"
    assert result.dropped_columns == {"empty": "all values missing", "const": "constant"}
    assert 0.5 < result.test_score <= 1.0 and 0.5 < result.cv_score <= 1.0


def test_every_candidate_is_a_child_run_of_one_parent(
    result: AutoMLResult, client: TrackingClient
) -> None:
    families = {row.family for row in result.leaderboard}
    assert "linear" in families and families <= set(FAST)  # the cheapest family runs first
    children = [client.get_run(row.run_id) for row in result.leaderboard if row.run_id]
    assert len(children) == len(result.leaderboard)
    assert {c.info.parent_id for c in children} == {result.parent_run_id}
    assert all("cv_roc_auc" in c.metrics for c in children)
    scores = [row.cv_score for row in result.leaderboard]
    assert scores == sorted(scores, reverse=True)


def test_the_winner_is_registered_with_a_card_and_loads_verified(
    result: AutoMLResult, client: TrackingClient
) -> None:
    from keel.models import load

    assert result.registered == "churn@1"
    assert result.version is not None
    card = result.version.card["automl"]
    assert card["budget_s"] == 6.0 and card["metric"] == "roc_auc"
    assert card["data"].startswith("DataFrame[240x")
    assert len(card["leaderboard"]) == min(20, len(result.leaderboard))
    assert sum(result.ensemble.values()) == sum(r.in_ensemble for r in result.leaderboard)
    model = load("models:/churn@1", store=client.store, project=client.project.name)
    fresh = _customers(30, seed=9).drop(columns=["churned"])
    fresh.loc[0, "plan"] = "enterprise"  # a category never seen in training
    labels = model.predict(fresh)
    assert set(np.asarray(labels)) <= {"yes", "no"}
    assert len(labels) == 30


def test_the_pipeline_holds_its_preprocessing(result: AutoMLResult) -> None:
    prep = result.model.named_steps["prep"]
    kinds = {name: cols for name, _t, cols in prep.transformers}
    assert kinds == {
        "numeric": ["tenure", "monthly"],
        "categorical": ["plan"],
        "dates": ["signup"],
    }


def test_a_dataset_reference_is_read_and_linked(client: TrackingClient) -> None:
    from keel.data import DatasetClient

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=120), "z": rng.normal(size=120)})
    frame["y"] = 3 * frame.x - frame.z + rng.normal(scale=0.1, size=120)
    version = DatasetClient(client.store, client.project).log("houses", frame)
    out = automl(
        version.ref,
        "y",
        budget=2,
        families=("linear",),
        folds=3,
        register=False,
        client=client,
    )
    assert out.task == "regression" and out.metric == "r2" and out.data == version.ref
    assert out.test_score > 0.9 and out.registered is None
    parent = client.get_run(out.parent_run_id)
    assert parent.params["data"] == version.ref


def test_multiclass_is_detected_from_a_small_integer_target(client: TrackingClient) -> None:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    out = automl(
        frame, "target", budget=2, families=("linear",), folds=3, register=False, client=client
    )
    assert out.task == "multiclass" and out.metric == "accuracy"
    assert out.test_score > 0.8


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (_customers().assign(churned="yes"), {}, "has one value ('yes') in every row"),
        (_customers(), {"metric": "auc_pr"}, "unknown metric 'auc_pr'; choose one of roc_auc"),
        (_customers(), {"metric": "rmse"}, "metric 'rmse' does not apply to a binary target"),
        (_customers(), {"budget": "0.2s"}, "budget 0.2s is shorter than one model fit"),
        (_customers(), {"budget": "soon"}, "budget 'soon' is not a duration"),
        (_customers(12), {}, "12 rows with a target is too few"),
        (_customers()[["empty", "const", "churned"]], {}, "every feature column is empty"),
        (_customers(), {"target": "nope"}, "no column 'nope' in the data"),
        (_customers(), {"families": ["catboost"]}, "unknown model family 'catboost'"),
    ],
)
def test_bad_input_fails_before_any_run_with_one_clear_line(
    client: TrackingClient, frame: pd.DataFrame, kwargs: dict[str, object], message: str
) -> None:
    before = len(client.search_runs("", experiments=["automl"]).runs)
    target = str(kwargs.pop("target", "churned"))
    with pytest.raises(InvalidArgumentError) as info:
        automl(frame, target, client=client, register=False, **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert len(client.search_runs("", experiments=["automl"]).runs) == before


def test_a_class_too_rare_for_the_folds_is_named(client: TrackingClient) -> None:
    frame = _customers()
    frame.loc[0, "churned"] = "maybe"
    with pytest.raises(InvalidArgumentError, match="class 'maybe' of the target has 1 row"):
        automl(frame, "churned", client=client, register=False)


def test_a_budget_shorter_than_one_fit_still_ends_with_a_model(client: TrackingClient) -> None:
    """The documented fallback: the first candidate always runs, so the result is usable."""
    out = automl(
        _customers(),
        "churned",
        budget=1,
        families=("random_forest",),
        folds=3,
        register=False,
        client=client,
    )
    assert len(out.leaderboard) >= 1
    assert out.model.predict(_customers(5).drop(columns=["churned"])).shape == (5,)


def test_the_public_surface_is_pinned() -> None:
    import keel
    import keel.tuning

    mine = {"AutoMLResult", "CurvePoint", "LeaderboardRow", "Option", "ROIReport", "automl", "roi"}
    assert mine <= set(keel.tuning.__all__)
    assert keel.automl is automl and keel.roi is keel.tuning.roi
