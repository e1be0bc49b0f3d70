"""The flavor table: which flavor stores a model, and live backends for fitted models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.models._flavor_base import Backend, Flavor
from keel.models._flavor_boost import LightGBMBackend, LightGBMFlavor, XGBoostBackend, XGBoostFlavor
from keel.models._flavor_onnx import OnnxBackend, OnnxFlavor, describe
from keel.models._flavor_python import PythonBackend, PythonFlavor
from keel.models._flavor_sklearn import SklearnBackend, SklearnFlavor
from keel.models._flavor_torch import TorchBackend, TorchFlavor

FLAVORS = ("sklearn", "xgboost", "lightgbm", "onnx", "python", "torch")


def flavor_named(
    name: str,
    *,
    code_paths: Sequence[str | Path] | None = None,
    artifacts: Mapping[str, str | Path] | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    task: str | None = None,
) -> Flavor:
    if name == "sklearn":
        return SklearnFlavor()
    if name == "xgboost":
        return XGBoostFlavor()
    if name == "lightgbm":
        return LightGBMFlavor()
    if name == "onnx":
        return OnnxFlavor()
    if name == "python":
        return PythonFlavor(code_paths, artifacts)
    if name == "torch":
        return TorchFlavor(code_paths, model_kwargs, task)
    raise InvalidArgumentError(f"unknown flavor {name!r}; use one of {', '.join(FLAVORS)}")


def flavor_for(model: Any, **kwargs: Any) -> Flavor:
    """The flavor that stores ``model`` (by its type; never by trying to pickle it)."""
    # xgboost/lightgbm estimators are sklearn-compatible: look at them before sklearn.
    for name in ("xgboost", "lightgbm", "onnx", "torch", "python", "sklearn"):
        flavor = flavor_named(name, **kwargs)
        if flavor.matches(model):
            return flavor
    raise InvalidArgumentError(
        f"keel does not know how to package a {type(model).__module__}.{type(model).__name__}; "
        "wrap it in a keel.models.PythonModel subclass (flavor='python')"
    )


def live_backend(flavor: str, model: Any, config: dict[str, Any], task: str) -> Backend:
    """A backend around an in-memory model, for output signatures and parity at save time."""
    if flavor == "sklearn":
        return SklearnBackend(model)
    if flavor == "xgboost":
        return XGBoostBackend(model, booster_only=type(model).__name__ == "Booster")
    if flavor == "lightgbm":
        booster = getattr(model, "booster_", model)
        return LightGBMBackend(booster, config.get("classes"), task)
    if flavor == "onnx":
        from keel.models._flavor_onnx import session

        data = model.SerializeToString()
        return OnnxBackend(session(data), describe(session(data)))
    if flavor == "torch":
        return TorchBackend(model, task)
    return PythonBackend(model)


__all__ = ["FLAVORS", "flavor_for", "flavor_named", "live_backend"]
