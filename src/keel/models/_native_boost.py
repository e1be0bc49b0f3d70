"""LightGBM and XGBoost inside a scikit-learn Pipeline, stored as data rather than as objects.

A fitted ``LGBMClassifier`` saved by skops (or pickle) is an object graph whose loading
calls into LightGBM with whatever the file holds, so keel's allowlist refuses it. These
estimators keep the trained booster in the library's own *data* format instead — LightGBM's
model text, XGBoost's UBJSON — as a ``uint8`` array beside plain parameters, so a Pipeline
that holds them is an ordinary skops file of allowlisted types. Loading hands the bytes to
the same checks the LightGBM and XGBoost flavors apply to their files (no NUL bytes in a
LightGBM text, the library's parser run first in a child process under a deadline) before
the booster is parsed in-process.

``early_stopping_rounds`` holds out 10% of the training rows (stratified for classes) and
keeps the iteration that scored best on them. Inside :func:`stop_at` a fit checks the clock
after every boosting round and raises :class:`DeadlineReached` once it has passed (AutoML
cuts a candidate that would overrun its budget this way).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from keel.exceptions import InvalidArgumentError

KINDS = ("lightgbm", "xgboost")
#: Fewest training rows for which early stopping holds out a validation part.
MIN_ROWS_FOR_EARLY_STOP = 60

_DEADLINE: ContextVar[float | None] = ContextVar("keel_booster_deadline", default=None)


class DeadlineReached(Exception):
    """A fit inside :func:`stop_at` ran past its deadline and was stopped."""


@contextmanager
def stop_at(deadline: float) -> Iterator[None]:
    """Fits in this block stop with :class:`DeadlineReached` once ``time.time()`` passes
    ``deadline`` (checked after every boosting round)."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class _NativeBooster(BaseEstimator):
    """Shared fit, persistence and raw prediction of the two estimators below."""

    _classifier = False

    def __init__(
        self,
        kind: str = "lightgbm",
        params: dict[str, Any] | None = None,
        early_stopping_rounds: int = 0,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.params = params
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> _NativeBooster:
        if self.kind not in KINDS:
            raise InvalidArgumentError(f"unknown booster kind {self.kind!r}; use {KINDS}")
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if self._classifier:
            self.classes_, y = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        model = _library_estimator(
            self.kind, self._classifier, dict(self.params or {}), self.random_state
        )
        fit_idx, val_idx = self._holdout(y)
        deadline = _DEADLINE.get()
        if deadline is not None and self.kind == "xgboost":
            model.set_params(callbacks=[_xgb_deadline(deadline)])
        if val_idx is None:
            if self.kind == "lightgbm" and deadline is not None:
                model.fit(X, y, callbacks=[_lgb_deadline(deadline)])
            else:
                model.fit(X, y)
            self.n_iter_ = int(model.n_estimators)
        else:
            self.n_iter_ = _fit_early(
                self.kind, model, X, y, fit_idx, val_idx, self.early_stopping_rounds
            )
        self._booster = _trimmed_booster(self.kind, model, self.n_iter_)
        return self

    def _holdout(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        everything = np.arange(len(y))
        if self.early_stopping_rounds <= 0 or len(y) < MIN_ROWS_FOR_EARLY_STOP:
            return everything, None
        from sklearn.model_selection import train_test_split

        strat = y if self._classifier and np.bincount(y).min() >= 2 else None
        fit_idx, val_idx = train_test_split(
            everything, test_size=0.1, random_state=self.random_state, stratify=strat
        )
        return fit_idx, val_idx

    def _raw_predict(self, X: Any) -> np.ndarray:
        booster = self.__dict__.get("_booster")
        if booster is None:
            booster = self._booster = _parse(self.kind, bytes(self.raw_))
        X = np.asarray(X, dtype=np.float64)
        if self.kind == "lightgbm":
            return np.asarray(booster.predict(X), dtype=np.float64)
        return np.asarray(booster.inplace_predict(X), dtype=np.float64)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        booster = state.pop("_booster", None)
        if booster is not None:
            state["raw_"] = np.frombuffer(_serialize(self.kind, booster), dtype=np.uint8).copy()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        raw = state.get("raw_")
        if raw is not None:  # parse now (checked), so a bad file fails at load, not at predict
            self._booster = _parse(self.kind, np.asarray(raw, dtype=np.uint8).tobytes())


class NativeBoosterClassifier(ClassifierMixin, _NativeBooster):
    """A LightGBM/XGBoost classifier stored as its library's data format (see the module)."""

    _classifier = True

    def predict_proba(self, X: Any) -> np.ndarray:
        raw = self._raw_predict(X)
        if raw.ndim == 1:  # binary objectives give the positive class only
            return np.column_stack([1.0 - raw, raw])
        return raw

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]


class NativeBoosterRegressor(RegressorMixin, _NativeBooster):
    """A LightGBM/XGBoost regressor stored as its library's data format (see the module)."""

    def predict(self, X: Any) -> np.ndarray:
        return self._raw_predict(X)


def _library_estimator(kind: str, classifier: bool, params: dict[str, Any], seed: int) -> Any:
    if kind == "lightgbm":
        import lightgbm

        cls = lightgbm.LGBMClassifier if classifier else lightgbm.LGBMRegressor
        return cls(**params, n_jobs=1, random_state=seed, verbose=-1)
    import xgboost

    xcls = xgboost.XGBClassifier if classifier else xgboost.XGBRegressor
    return xcls(**params, tree_method="hist", n_jobs=1, random_state=seed, verbosity=0)


def _fit_early(
    kind: str,
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    fit: np.ndarray,
    val: np.ndarray,
    rounds: int,
) -> int:
    """Fit on ``fit`` rows, stop when ``val`` rows have not improved for ``rounds``; the best
    iteration count."""
    eval_set = [(X[val], y[val])]
    if kind == "lightgbm":
        import inspect

        import lightgbm

        stop = [lightgbm.early_stopping(rounds, verbose=False)]
        deadline = _DEADLINE.get()
        if deadline is not None:
            stop.append(_lgb_deadline(deadline))
        if "eval_X" in inspect.signature(model.fit).parameters:  # LightGBM >= 4.7
            model.fit(X[fit], y[fit], eval_X=(X[val],), eval_y=(y[val],), callbacks=stop)
        else:
            model.fit(X[fit], y[fit], eval_set=eval_set, callbacks=stop)
        return int(model.best_iteration_ or model.n_estimators)
    model.set_params(early_stopping_rounds=rounds)
    model.fit(X[fit], y[fit], eval_set=eval_set, verbose=False)
    return int(model.best_iteration) + 1


def _lgb_deadline(deadline: float) -> Any:
    def check(env: Any) -> None:
        if time.time() > deadline:
            raise DeadlineReached(f"lightgbm stopped after {env.iteration + 1} rounds")

    return check


def _xgb_deadline(deadline: float) -> Any:
    import xgboost

    class Deadline(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if time.time() > deadline:
                raise DeadlineReached(f"xgboost stopped after {epoch + 1} rounds")
            return False

    return Deadline()


def _trimmed_booster(kind: str, model: Any, n_iter: int) -> Any:
    """The library booster holding only the first ``n_iter`` iterations."""
    if kind == "lightgbm":
        import lightgbm

        return lightgbm.Booster(model_str=model.booster_.model_to_string(num_iteration=n_iter))
    booster = model.get_booster()
    return booster[:n_iter] if n_iter < booster.num_boosted_rounds() else booster


def _serialize(kind: str, booster: Any) -> bytes:
    if kind == "lightgbm":
        return str(booster.model_to_string()).encode("utf-8")
    return bytes(booster.save_raw("ubj"))


def _parse(kind: str, data: bytes) -> Any:
    """The booster in ``data``, after the checks keel's LightGBM/XGBoost flavors apply."""
    from keel.models._flavor_boost import check_lightgbm_text
    from keel.models._parse_guard import parse_within_deadline

    if kind not in KINDS:
        raise InvalidArgumentError(f"unknown booster kind {kind!r}; use {KINDS}")
    label = f"{kind} booster in a Pipeline"
    if kind == "lightgbm":
        check_lightgbm_text(data, None)
        parse_within_deadline("lightgbm", data, label=label)
        import lightgbm

        return lightgbm.Booster(model_str=data.decode("utf-8"))
    parse_within_deadline("xgboost", data, label=label)
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(data))
    booster.set_param({"nthread": 1})
    return booster


__all__ = [
    "KINDS",
    "DeadlineReached",
    "NativeBoosterClassifier",
    "NativeBoosterRegressor",
    "stop_at",
]
