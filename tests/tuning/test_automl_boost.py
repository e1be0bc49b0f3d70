"""AutoML's LightGBM/XGBoost members and its Dask runner: the winner is an ordinary signed
package that loads under keel's default trust, tampered booster bytes are refused, boosters
stop early, and candidates are cross-validated on a real Dask LocalCluster."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from keel.exceptions import ConfigError, InvalidArgumentError, UnsafeModelError
from keel.tracking import TrackingClient
from keel.tuning import automl

pytest.importorskip("lightgbm")
pytest.importorskip("xgboost")


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "kind": rng.choice(["x", "y", "z"], n),
        }
    )
    score = frame.a * 2 - frame.b + (frame.kind == "x") * 1.5
    frame["label"] = np.where(score + rng.normal(scale=0.5, size=n) > 0, "pos", "neg")
    return frame


def test_a_booster_winner_is_signed_and_loads_under_default_trust(client: TrackingClient) -> None:
    from keel.models import load

    out = automl(
        _frame(),
        "label",
        budget="8s",
        families=("lightgbm", "xgboost"),
        folds=3,
        register_as="boosted",
        client=client,
    )
    members = {key.split("#")[0] for key in out.ensemble}
    assert members <= {"lightgbm", "xgboost"} and members
    assert out.version is not None and out.version.signer  # signed like any keel model
    model = load("models:/boosted@1", store=client.store, project=client.project.name)
    fresh = _frame(40, seed=5).drop(columns=["label"])
    assert np.array_equal(np.asarray(model.predict(fresh)), out.model.predict(fresh))


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
def test_boosters_stop_early_and_round_trip_as_data(kind: str) -> None:
    from keel.models._native_boost import NativeBoosterClassifier

    frame = _frame(400)
    X, y = frame[["a", "b"]].to_numpy(), frame.label.to_numpy()
    params = {"n_estimators": 400, "learning_rate": 0.3}
    model = NativeBoosterClassifier(kind, params, early_stopping_rounds=5).fit(X, y)
    assert 1 <= model.n_iter_ < 400
    back = pickle.loads(pickle.dumps(model))
    assert back.raw_.dtype == np.uint8
    np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X))
    assert set(back.predict(X)) <= {"neg", "pos"}


def test_tampered_booster_bytes_are_refused_at_load() -> None:
    from keel.models._native_boost import NativeBoosterRegressor

    frame = _frame(100)
    model = NativeBoosterRegressor("lightgbm", {"n_estimators": 5})
    model.fit(frame[["a", "b"]].to_numpy(), frame.a.to_numpy())
    state = model.__getstate__()
    state["raw_"] = np.frombuffer(b"tree\n\x00\x00\x00", dtype=np.uint8)
    with pytest.raises(UnsafeModelError, match="NUL bytes"):
        NativeBoosterRegressor.__new__(NativeBoosterRegressor).__setstate__(state)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    from keel.tuning._automl_families import import_families

    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(local) as warm:  # a cluster that has worked before: libraries loaded
        warm.run(import_families, ["linear", "hist_gb", "lightgbm"])
    yield local
    local.close()


def test_candidates_run_in_parallel_on_a_dask_cluster(client: TrackingClient, cluster: Any) -> None:
    import distributed

    watcher = distributed.Client(cluster)
    with distributed.get_task_stream(watcher) as stream:
        out = automl(
            _frame(),
            "label",
            budget="20s",
            families=("linear", "hist_gb", "lightgbm"),
            folds=3,
            register=False,
            runner="dask",
            address=cluster.scheduler_address,
            client=client,
        )
    watcher.close()
    ran = [t for t in stream.data if t["key"].startswith("cross_validate")]
    assert len(ran) >= len(out.leaderboard) >= 2
    assert len({t["worker"] for t in ran}) == 2  # both workers cross-validated candidates
    parent = client.get_run(out.parent_run_id)
    assert parent.params["runner"] == "dask" and parent.params["parallel"] == "2"


def test_a_bad_runner_is_one_clear_line(client: TrackingClient) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown runner 'spark'"):
        automl(_frame(), "label", runner="spark", register=False, client=client)
    with pytest.raises(ConfigError, match="needs a scheduler address"):
        automl(_frame(), "label", runner="dask", register=False, client=client)
