"""``keel.autolog()``: record scikit-learn estimators' params and training metrics."""

from __future__ import annotations

import functools
import threading
from typing import Any

from keel.exceptions import ParamConflictError

_PATCHED = "_keel_autolog_original"
_local = threading.local()
_enabled = False


def autolog(*, disable: bool = False, log_training_metrics: bool = True) -> None:
    """Log every top-level scikit-learn ``fit``: params, training metrics, estimator class.

    Inside an active run the fit logs into it (or into a child run when the run already
    holds other values for the same params, as in a loop over models); outside one, each
    fit gets its own run.
    """
    global _enabled
    from sklearn.utils import all_estimators

    _enabled = not disable
    for _name, cls in all_estimators():
        fit = cls.__dict__.get("fit")
        if fit is None:
            continue
        if disable:
            original = getattr(fit, _PATCHED, None)
            if original is not None:
                cls.fit = original
        elif not hasattr(fit, _PATCHED):
            cls.fit = _wrap(fit, log_training_metrics)


def _wrap(fit: Any, log_metrics: bool) -> Any:
    @functools.wraps(fit)
    def fit_and_log(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _enabled or getattr(_local, "depth", 0) > 0:
            return fit(self, *args, **kwargs)
        _local.depth = 1
        try:
            return _fit_logged(fit, self, args, kwargs, log_metrics)
        finally:
            _local.depth = 0

    setattr(fit_and_log, _PATCHED, fit)
    return fit_and_log


def _fit_logged(
    fit: Any, est: Any, args: tuple[Any, ...], kwargs: dict[str, Any], log_metrics: bool
) -> Any:
    from keel.store import RunStatus
    from keel.tracking._active import active_run, start_run

    outer = active_run()
    run = outer or start_run(name=type(est).__name__, capture_env=True)
    try:
        result = fit(est, *args, **kwargs)
    except BaseException:
        if outer is None:
            run.end(RunStatus.FAILED)
        raise
    params = {k: _short(v) for k, v in est.get_params(deep=False).items()}
    tags = {"keel.autolog.estimator": f"{type(est).__module__}.{type(est).__name__}"}
    target = run
    try:
        run.log_batch(params=params, tags=tags)
    except ParamConflictError:
        target = start_run(name=type(est).__name__, nested=True, capture_env=False)
        target.log_batch(params=params, tags=tags)
    if log_metrics:
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if X is not None and y is not None:
            metrics = training_metrics(est, X, y)
            if metrics:
                target.log_metrics(metrics)
    if target is not run:
        target.end()
    if outer is None:
        run.end()
    return result


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:500]


def training_metrics(est: Any, X: Any, y: Any) -> dict[str, float]:
    """Standard training metrics for classifiers and regressors (empty for other estimators)."""
    from sklearn import metrics as skm
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    try:
        if is_classifier(est):
            pred = est.predict(X)
            out["training_accuracy"] = float(skm.accuracy_score(y, pred))
            out["training_f1"] = float(skm.f1_score(y, pred, average="weighted"))
            out["training_precision"] = float(
                skm.precision_score(y, pred, average="weighted", zero_division=0)
            )
            out["training_recall"] = float(skm.recall_score(y, pred, average="weighted"))
            if hasattr(est, "predict_proba"):
                proba = est.predict_proba(X)
                out["training_log_loss"] = float(skm.log_loss(y, proba, labels=est.classes_))
                if proba.shape[1] == 2:
                    out["training_roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
        elif is_regressor(est):
            pred = est.predict(X)
            out["training_mse"] = float(skm.mean_squared_error(y, pred))
            out["training_mae"] = float(skm.mean_absolute_error(y, pred))
            out["training_r2"] = float(skm.r2_score(y, pred))
    except Exception:  # a metric that does not apply (multi-output, odd targets) is skipped
        return out
    return out
