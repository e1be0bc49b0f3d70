"""The model families AutoML searches, each with a cheap start and a way to propose the next config.

A family's first config is its cheapest sensible one (FLAML's cost-frugal start); later
proposals either step locally around the family's best config so far or sample afresh, and
tree ensembles grow their size only once small ones have proven themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Config = dict[str, Any]


@dataclass(frozen=True)
class Param:
    """One hyper-parameter: a range (log-scaled if ``log``), integer or not, or choices."""

    low: float = 0.0
    high: float = 1.0
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def sample(self, rng: np.random.Generator) -> Any:
        if self.choices:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return self._cast(value)

    def step(self, value: Any, rng: np.random.Generator, scale: float) -> Any:
        """A neighbour of ``value``: a jump of ``scale`` of the range, in log space if log."""
        if self.choices:
            return self.sample(rng) if rng.random() < scale else value
        if self.log:
            span = math.log(self.high) - math.log(self.low)
            moved = math.exp(math.log(value) + rng.normal(0.0, scale * span))
        else:
            moved = value + rng.normal(0.0, scale * (self.high - self.low))
        return self._cast(min(max(moved, self.low), self.high))

    def _cast(self, value: float) -> Any:
        return round(value) if self.integer else float(value)


@dataclass(frozen=True)
class Family:
    """A model family: its estimator factory, search space, cheap start and cost driver.

    ``size`` names the parameter that drives fit cost (trees), grown by halving rounds.
    """

    name: str
    tasks: tuple[str, ...]
    space: dict[str, Param]
    start: Config
    build: Callable[[str, Config, int], Any]
    size: str | None = None

    def propose(self, best: Config | None, rng: np.random.Generator, round_: int) -> Config:
        """The next config: local step around ``best`` (or a fresh sample), size grown by round."""
        if best is None or rng.random() < 0.35:
            config = {k: p.sample(rng) for k, p in self.space.items()}
        else:
            scale = 0.15 / math.sqrt(1 + round_)
            config = {
                k: p.step(best.get(k, p.sample(rng)), rng, scale) for k, p in self.space.items()
            }
        if self.size is not None:
            config[self.size] = min(self.start[self.size] * 2 ** min(round_, 4), 800)
        return config


def _linear(task: str, c: Config, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        return Ridge(alpha=1.0 / c["C"])
    return LogisticRegression(C=c["C"], max_iter=300)


def _forest(extra: bool) -> Callable[[str, Config, int], Any]:
    def build(task: str, c: Config, seed: int) -> Any:
        from sklearn import ensemble

        name = ("ExtraTrees" if extra else "RandomForest") + (
            "Regressor" if task == "regression" else "Classifier"
        )
        return getattr(ensemble, name)(
            n_estimators=c["n_estimators"],
            max_features=c["max_features"],
            min_samples_leaf=c["min_samples_leaf"],
            n_jobs=1,
            random_state=seed,
        )

    return build


def _hgb(task: str, c: Config, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    return cls(
        max_iter=c["n_estimators"],
        learning_rate=c["learning_rate"],
        max_leaf_nodes=c["num_leaves"],
        min_samples_leaf=c["min_samples_leaf"],
        l2_regularization=c["l2"],
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=seed,
    )


#: Boosting rounds without improvement on the held-out 10% before a booster stops.
EARLY_STOPPING_ROUNDS = 20


def _booster(kind: str, **own: str) -> Callable[[str, Config, int], Any]:
    """A LightGBM/XGBoost model keel packages as data (its model text / UBJSON bytes):
    the boosting parameters both take, and ``own``, the library's own parameter -> the
    config key it is set from."""

    def build(task: str, c: Config, seed: int) -> Any:
        from keel.models._native_boost import NativeBoosterClassifier, NativeBoosterRegressor

        params = {
            "n_estimators": c["n_estimators"],
            "learning_rate": c["learning_rate"],
            **{name: c[key] for name, key in own.items()},
            "subsample": c["subsample"],
            "colsample_bytree": c["colsample"],
            "reg_lambda": c["l2"],
        }
        if kind == "lightgbm":
            params["subsample_freq"] = 1  # LightGBM subsamples only with a frequency
        cls = NativeBoosterRegressor if task == "regression" else NativeBoosterClassifier
        return cls(kind, params, early_stopping_rounds=EARLY_STOPPING_ROUNDS, random_state=seed)

    return build


_ALL = ("binary", "multiclass", "regression")
_BOOST = {
    "learning_rate": Param(0.01, 0.5, log=True),
    "subsample": Param(0.5, 1.0),
    "colsample": Param(0.4, 1.0),
    "l2": Param(1e-3, 10.0, log=True),
}
_FOREST = {
    "max_features": Param(0.1, 1.0),
    "min_samples_leaf": Param(1, 20, log=True, integer=True),
}

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("linear", _ALL, {"C": Param(1e-3, 1e3, log=True)}, {"C": 1.0}, _linear),
        Family(
            "hist_gb",
            _ALL,
            {
                "learning_rate": Param(0.02, 0.5, log=True),
                "num_leaves": Param(4, 128, log=True, integer=True),
                "min_samples_leaf": Param(2, 60, log=True, integer=True),
                "l2": Param(1e-3, 10.0, log=True),
            },
            {"n_estimators": 50, "learning_rate": 0.1, "num_leaves": 15,
             "min_samples_leaf": 20, "l2": 0.01},
            _hgb,
            size="n_estimators",
        ),
        *(
            Family(
                name,
                _ALL,
                _FOREST,
                {"n_estimators": 25, "max_features": 0.5, "min_samples_leaf": 1},
                _forest(extra=extra),
                size="n_estimators",
            )
            for name, extra in (("random_forest", False), ("extra_trees", True))
        ),
        Family(
            "lightgbm",
            _ALL,
            {**_BOOST, "num_leaves": Param(4, 128, log=True, integer=True),
             "min_samples_leaf": Param(2, 60, log=True, integer=True)},
            {"n_estimators": 25, "learning_rate": 0.1, "num_leaves": 15, "min_samples_leaf": 20,
             "subsample": 1.0, "colsample": 1.0, "l2": 0.01},
            _booster("lightgbm", num_leaves="num_leaves", min_child_samples="min_samples_leaf"),
            size="n_estimators",
        ),
        Family(
            "xgboost",
            _ALL,
            {**_BOOST, "max_depth": Param(2, 10, integer=True),
             "min_child_weight": Param(0.5, 20.0, log=True)},
            {"n_estimators": 25, "learning_rate": 0.1, "max_depth": 4, "min_child_weight": 1.0,
             "subsample": 1.0, "colsample": 1.0, "l2": 1.0},
            _booster("xgboost", max_depth="max_depth", min_child_weight="min_child_weight"),
            size="n_estimators",
        ),
    )
}  # fmt: skip

DEFAULT_FAMILIES = tuple(FAMILIES)


def resolve_families(names: tuple[str, ...] | list[str] | None) -> list[Family]:
    """The families called ``names`` (default: all whose library imports)."""
    from keel.exceptions import InvalidArgumentError

    chosen = list(names) if names else list(DEFAULT_FAMILIES)
    unknown = [n for n in chosen if n not in FAMILIES]
    if unknown:
        raise InvalidArgumentError(
            f"unknown model family {unknown[0]!r}; choose from {', '.join(FAMILIES)}"
        )
    available = [FAMILIES[n] for n in chosen if _importable(n)]
    if not available:
        raise InvalidArgumentError(f"none of the families {', '.join(chosen)} can be imported")
    return available


#: The module each family's estimators come from (imported ahead by :func:`import_families`).
_MODULES = {
    "linear": "sklearn.linear_model",
    "hist_gb": "sklearn.ensemble",
    "random_forest": "sklearn.ensemble",
    "extra_trees": "sklearn.ensemble",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
}


def import_families(names: list[str]) -> None:
    """Import the families' libraries now (a fresh worker process pays it before its first
    candidate, not inside that candidate's fit time)."""
    import importlib

    importlib.import_module("keel.models._native_boost")
    for name in names:
        importlib.import_module(_MODULES[name])


def _importable(name: str) -> bool:
    import importlib.util

    module = {"lightgbm": "lightgbm", "xgboost": "xgboost"}.get(name)
    return module is None or importlib.util.find_spec(module) is not None


__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "Config",
    "Family",
    "Param",
    "import_families",
    "resolve_families",
]
