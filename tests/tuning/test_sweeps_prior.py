"""Re-tuning's prior knowledge (the old generation's trials seen by the new sampler), and
stored params read back without Optuna on the page path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    DiscreteUniformDistribution,
    FloatDistribution,
    IntDistribution,
    IntLogUniformDistribution,
    IntUniformDistribution,
    LogUniformDistribution,
    UniformDistribution,
    distribution_to_json,
)

import keel
from keel.store.sweeps import Trial, TrialState
from keel.tracking import TrackingClient
from keel.tuning._sweep_params import external_params
from keel.tuning._sweep_prior import FROM, PriorSampler, calibrated, prior_trials
from keel.tuning._sweep_storage import frozen
from keel.tuning._sweep_trial import open_study

SPACE = {"x": {"type": "float", "low": -4.0, "high": 4.0}}


def quad(p: dict[str, Any]) -> float:
    return (p["x"] - 1.0) ** 2


@pytest.mark.parametrize(
    ("make", "external"),
    [
        (lambda: FloatDistribution(1e-4, 1.0, log=True), 0.01),
        (lambda: FloatDistribution(0.0, 1.0, step=0.25), 0.75),
        (lambda: IntDistribution(1, 12), 7),
        (lambda: IntDistribution(1, 64, log=True), 16),
        (lambda: IntDistribution(0, 10, step=2), 4),
        (lambda: CategoricalDistribution(["rf", 1, None, 2.5, True]), None),
        (lambda: CategoricalDistribution(["rf", 1, None, 2.5, True]), 2.5),
        (lambda: UniformDistribution(0.0, 1.0), 0.5),
        (lambda: LogUniformDistribution(1e-3, 1.0), 0.1),
        (lambda: DiscreteUniformDistribution(0.0, 1.0, 0.5), 0.5),
        (lambda: IntUniformDistribution(1, 9), 3),
        (lambda: IntLogUniformDistribution(1, 8), 2),
    ],
)
def test_params_read_without_optuna_match_optunas_own_reading(make: Any, external: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the legacy distributions
        dist = make()
        trial = _stored({"p": dist.to_internal_repr(external)}, {"p": distribution_to_json(dist)})
        mine, optunas = external_params(trial), frozen(trial).params
    assert mine == optunas == {"p": external}
    assert type(mine["p"]) is type(optunas["p"])


def test_the_short_distribution_form_reads_too() -> None:
    short = {
        "a": '{"type": "int", "low": 0, "high": 3}',
        "b": '{"type": "categorical", "choices": ["x", "y"]}',
    }
    assert external_params(_stored({"a": 2.0, "b": 1.0}, short)) == {"a": 2, "b": "y"}


def test_the_sweep_page_path_does_not_import_optuna(tmp_path: Path) -> None:
    """Describe a stored sweep in a fresh interpreter: Optuna (1-3 s) stays unloaded."""
    script = textwrap.dedent(
        """
        import json, sys
        from keel.config import Settings
        from keel.store import open_store
        from keel.store.sweeps import TrialPatch, TrialState
        from keel.tuning import describe_sweep
        store = open_store(Settings.for_home(sys.argv[1]))
        pid = store.projects.get_or_create("default").id
        dist = json.dumps({"name": "CategoricalDistribution",
                           "attributes": {"choices": ["a", "b"]}})
        s = store.sweeps.create(pid, "s", directions=["minimize"])
        for i in range(4):
            store.sweeps.add_trial(pid, s.id, TrialPatch(state=TrialState.COMPLETE, values=[i],
                params={"k": float(i % 2)}, distributions={"k": dist}))
        rep = describe_sweep("s", top=2, importance="main-effects", store=store, project_id=pid)
        assert rep.best_params == [{"k": "a"}, {"k": "b"}], rep.best_params
        print("optuna" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_a_retuned_generation_samples_with_the_old_trials_as_prior(
    client: TrackingClient,
) -> None:
    first = keel.sweep(quad, SPACE, trials=8, seed=0, data=[1], name="prior", client=client)
    second = keel.sweep(quad, SPACE, trials=6, seed=0, data=[2], name="prior", client=client)
    assert second.sweep.generation == 2 and len(second.trials) == 6  # its own trials only
    assert second.count(TrialState.COMPLETE) == 6 and second.warm_started == 5
    prior = prior_trials(client, second.sweep)
    assert len(prior) == 8 and [t.number for t in prior] == list(range(-8, 0))
    assert sorted(t.user_attrs["keel.number"] for t in prior) == [t.number for t in first.trials]
    assert {t.params["x"] for t in prior} == {frozen(t).params["x"] for t in first.trials}
    study, _ = open_study(client, second.sweep, "tpe", None, 0)
    assert isinstance(study.sampler, PriorSampler)
    assert not isinstance(
        open_study(client, second.sweep, "random", None, 0)[0].sampler, PriorSampler
    )
    assert not isinstance(open_study(client, first.sweep, "tpe", None, 0)[0].sampler, PriorSampler)


def test_a_changed_space_gives_no_prior(client: TrackingClient) -> None:
    keel.sweep(quad, SPACE, trials=3, seed=0, name="moved", client=client)
    wider = {"x": {"type": "float", "low": -8.0, "high": 8.0}}
    second = keel.sweep(quad, wider, trials=2, seed=0, name="moved", client=client)
    assert second.sweep.generation == 2 and prior_trials(client, second.sweep) == []


def test_old_values_shift_by_the_median_change_of_their_re_runs() -> None:
    def ft(number: int, value: float, **attrs: Any) -> Any:
        return optuna.trial.FrozenTrial(**_fields(number, value, attrs))

    prior = [ft(-3, 0.98, **{"keel.number": 0}), ft(-2, 0.97, **{"keel.number": 1})]
    prior.append(ft(-1, 0.90, **{"keel.number": 2}))
    assert [t.values[0] for t in calibrated(prior, [])] == [0.98, 0.97, 0.90]
    reruns = [ft(0, 0.95, **{FROM: 0}), ft(1, 0.96, **{FROM: 1})]  # -0.03 and -0.01
    shifted = calibrated(prior, reruns)
    assert [round(t.values[0], 6) for t in shifted] == [0.96, 0.95, 0.88]
    assert [t.values[0] for t in prior] == [0.98, 0.97, 0.90]  # the originals stay


def _fields(number: int, value: float, attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": number,
        "state": optuna.trial.TrialState.COMPLETE,
        "value": value,
        "values": None,
        "datetime_start": None,
        "datetime_complete": None,
        "params": {"x": 0.0},
        "distributions": {"x": FloatDistribution(-1, 1)},
        "user_attrs": dict(attrs),
        "system_attrs": {},
        "intermediate_values": {},
        "trial_id": number + 100,
    }


def _stored(params: dict[str, float], dists: dict[str, str]) -> Trial:
    return Trial(
        id=1, sweep_id=1, number=0, state=TrialState.COMPLETE, values=[0.0], params=params,
        distributions=dists, intermediate={}, user_attrs={}, system_attrs={}, run_id=None,
        reason="", stale=False, started_at=None, finished_at=None,
    )  # fmt: skip


def test_the_sampler_reads_the_old_trials_only_until_it_has_enough_of_its_own() -> None:
    from keel.tuning._sweep_prior import PRIOR_UNTIL

    assert PRIOR_UNTIL is not None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    prior = [optuna.trial.FrozenTrial(**_fields(-1, 0.5, {"keel.number": 0}))]
    sampler = PriorSampler(optuna.samplers.TPESampler(seed=0), prior)
    study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=PRIOR_UNTIL - 1)
    view = sampler._view(study)
    assert view is not study and len(view._get_trials()) == PRIOR_UNTIL
    study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=1)
    assert sampler._view(study) is study
