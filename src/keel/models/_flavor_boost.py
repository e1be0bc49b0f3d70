"""XGBoost (UBJSON) and LightGBM (text) models, in their libraries' own formats.

Both libraries are extras (``keel[xgboost]``, ``keel[lightgbm]``) imported only here.
The class to rebuild is looked up in a fixed table, never imported by a name read from
the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConfigError, InvalidArgumentError, UnsafeModelError
from keel.models._flavor_base import LoadOptions, NoProba, Saved, pins, task_of_name, versions
from keel.models._parse_guard import parse_within_deadline

if TYPE_CHECKING:
    import pandas as pd

XGB_FILE = "model.ubj"
LGB_FILE = "model.txt"
_XGB_CLASSES = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


def _import(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"this model needs {module}; install it with `pip install 'keel[{extra}]'`"
        ) from exc


class XGBoostBackend:
    def __init__(self, model: Any, booster_only: bool) -> None:
        self.raw = model
        self._booster_only = booster_only

    def predict(self, frame: pd.DataFrame) -> Any:
        if self._booster_only:
            xgb = _import("xgboost", "xgboost")
            return self.raw.predict(xgb.DMatrix(frame))
        return self.raw.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        if self._booster_only or not hasattr(self.raw, "predict_proba"):
            raise InvalidArgumentError("this XGBoost model does not predict probabilities")
        return self.raw.predict_proba(frame)


class XGBoostFlavor:
    name = "xgboost"

    def matches(self, model: Any) -> bool:
        return type(model).__module__.startswith("xgboost.")

    def save(self, model: Any, folder: Path, example: pd.DataFrame) -> Saved:
        cls = type(model).__name__
        if cls not in (*_XGB_CLASSES, "Booster"):
            raise InvalidArgumentError(f"keel cannot store an xgboost {cls}; save its Booster")
        model.save_model(folder / XGB_FILE)
        frameworks = versions("xgboost-cpu", "xgboost", "numpy")
        task = task_of_name(cls)
        return Saved({"file": XGB_FILE, "class": cls}, frameworks, pins(frameworks), task)

    def load(self, folder: Path, config: dict[str, Any], options: LoadOptions) -> XGBoostBackend:
        xgb = _import("xgboost", "xgboost")
        cls = str(config.get("class", "Booster"))
        if cls not in (*_XGB_CLASSES, "Booster"):
            raise InvalidArgumentError(f"unknown xgboost class {cls!r} in the manifest")
        model = getattr(xgb, cls)()
        source = options.source(folder, str(config.get("file", XGB_FILE)))
        parse_within_deadline("xgboost", source, label=str(config.get("file", XGB_FILE)))
        model.load_model(bytearray(source) if isinstance(source, bytes) else source)
        return XGBoostBackend(model, booster_only=cls == "Booster")


class LightGBMBackend(NoProba):
    def __init__(self, booster: Any, classes: list[Any] | None, task: str) -> None:
        self.raw = booster
        self._classes = classes
        self._task = task

    def _scores(self, frame: pd.DataFrame) -> Any:
        return self.raw.predict(frame.to_numpy(dtype="float64"))

    def predict(self, frame: pd.DataFrame) -> Any:
        import numpy as np

        scores = self._scores(frame)
        if self._task != "classification" or self._classes is None:
            return scores
        classes = np.asarray(self._classes)
        if scores.ndim == 1:
            return classes[(scores >= 0.5).astype(int)]
        return classes[np.argmax(scores, axis=1)]

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        import numpy as np

        if self._task != "classification":
            return super().predict_proba(frame)
        scores = self._scores(frame)
        return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores


class LightGBMFlavor:
    name = "lightgbm"

    def matches(self, model: Any) -> bool:
        return type(model).__module__.startswith("lightgbm.")

    def save(self, model: Any, folder: Path, example: pd.DataFrame) -> Saved:
        booster = getattr(model, "booster_", model)
        if type(booster).__name__ != "Booster":
            raise InvalidArgumentError("keel stores fitted LightGBM models; call fit() first")
        booster.save_model(str(folder / LGB_FILE))
        cls = type(model).__name__
        task = task_of_name(cls) if cls != "Booster" else _task_of_objective(booster)
        classes = getattr(model, "classes_", None)
        config: dict[str, Any] = {"file": LGB_FILE, "class": cls}
        if classes is not None:
            config["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
        frameworks = versions("lightgbm", "numpy")
        return Saved(config, frameworks, pins(frameworks), task)

    def load(self, folder: Path, config: dict[str, Any], options: LoadOptions) -> LightGBMBackend:
        lgb = _import("lightgbm", "lightgbm")
        source = options.source(folder, str(config.get("file", LGB_FILE)))
        data = source if isinstance(source, bytes) else source.read_bytes()
        check_lightgbm_text(data, source)
        parse_within_deadline("lightgbm", data, label=str(config.get("file", LGB_FILE)))
        booster = lgb.Booster(model_str=data.decode("utf-8"))
        classes = config.get("classes")
        task = (
            task_of_name(str(config.get("class", ""))) if classes else _task_of_objective(booster)
        )
        if task == "classification" and classes is None:
            n = int(booster.num_model_per_iteration())
            classes = list(range(max(n, 2)))
        return LightGBMBackend(booster, classes, task)


def check_lightgbm_text(data: bytes, where: object) -> None:
    """Refuse what LightGBM's text parser cannot be trusted with (NULs make it spin)."""
    name = getattr(where, "name", "model.txt")
    if b"\x00" in data:
        raise UnsafeModelError(f"{name} holds NUL bytes; a LightGBM text model never does")
    if not data.startswith(b"tree\n"):
        raise UnsafeModelError(f"{name} does not start like a LightGBM text model ('tree')")


def _task_of_objective(booster: Any) -> str:
    objective = str(booster.params.get("objective", "")) if hasattr(booster, "params") else ""
    if not objective:
        dump = booster.model_to_string(num_iteration=0)
        for line in dump.splitlines():
            if line.startswith("objective="):
                objective = line.split("=", 1)[1]
                break
    if objective.startswith(("binary", "multiclass", "cross_entropy")):
        return "classification"
    if objective.startswith(("lambdarank", "rank_xendcg")):
        return "ranking"
    return "regression" if objective else "other"


__all__ = ["LightGBMFlavor", "XGBoostFlavor"]
