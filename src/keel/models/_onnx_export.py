"""Export scikit-learn, XGBoost and LightGBM models to ONNX and measure parity.

A scikit-learn Pipeline may hold keel's LightGBM/XGBoost estimators (an AutoML winner's
members): onnxmltools' converters for them are registered into skl2onnx first
(:mod:`keel.models._onnx_native`).

Parity is measured on the rows given (the input example by default): the largest
absolute difference between the native and the ONNX outputs (probabilities for
classifiers, predictions otherwise) and whether the predicted labels agree. The ONNX
copy is served only when both hold.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.models._flavor_base import Backend
from keel.models._flavor_onnx import FILE, OnnxBackend, describe, session

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    labels_match: bool
    rows: int
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.labels_match and self.max_abs_diff <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_abs_diff": float(self.max_abs_diff),
            "labels_match": self.labels_match,
            "rows": self.rows,
            "tolerance": self.tolerance,
            "ok": self.ok,
        }


def _initial_types(
    frame: pd.DataFrame, tensor_types: Any, by_name: bool = False
) -> list[tuple[str, Any]]:
    """One float tensor for an all-numeric frame, else one input per column; ``by_name``
    (the model selects columns by name, as a ColumnTransformer does) always one per column,
    numbers as floats."""
    from pandas.api import types as pt

    float_t, string_t, int_t = tensor_types
    numeric = all(
        pt.is_numeric_dtype(frame[c]) or pt.is_bool_dtype(frame[c]) for c in frame.columns
    )
    if numeric and by_name:
        return [(str(c), float_t([None, 1])) for c in frame.columns]
    if numeric:
        return [("input", float_t([None, frame.shape[1]]))]
    out = []
    for c in frame.columns:
        if pt.is_float_dtype(frame[c]):
            out.append((str(c), float_t([None, 1])))
        elif pt.is_integer_dtype(frame[c]):
            out.append((str(c), int_t([None, 1])))
        else:
            out.append((str(c), string_t([None, 1])))
    return out


def to_onnx(model: Any, flavor: str, example: pd.DataFrame) -> bytes:
    """The ONNX bytes of ``model``; ConfigError when the converter is not installed."""
    try:
        if flavor == "sklearn":
            return _sklearn(model, example)
        if flavor in ("xgboost", "lightgbm"):
            return _boost(model, flavor, example)
    except ImportError as exc:
        raise ConfigError(
            f"ONNX export needs its converters: pip install 'keel[onnx]' ({exc})"
        ) from exc
    raise InvalidArgumentError(f"keel cannot export {flavor} models to ONNX")


def _sklearn(model: Any, example: pd.DataFrame) -> bytes:
    from skl2onnx import to_onnx as skl_to_onnx
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    from keel.models._onnx_native import native_kinds, native_opset, register

    types = _initial_types(
        example, (FloatTensorType, StringTensorType, Int64TensorType), _selects_by_name(model)
    )
    from sklearn.base import is_classifier

    kinds = native_kinds(model)
    opset: Any = None
    if kinds:
        register(kinds)  # keel's LightGBM/XGBoost estimators, alone or inside a Pipeline
        opset = native_opset()

    options = {"zipmap": False} if is_classifier(model) else None
    proto = skl_to_onnx(model, initial_types=types, options=options, target_opset=opset)
    return bytes(proto.SerializeToString())


def _selects_by_name(model: Any) -> bool:
    """Whether ``model`` starts with a ColumnTransformer picking columns by name."""
    from sklearn.compose import ColumnTransformer

    first = model.steps[0][1] if hasattr(model, "steps") else model
    if not isinstance(first, ColumnTransformer):
        return False
    return any(
        isinstance(cols, str) or (len(cols) > 0 and isinstance(next(iter(cols)), str))
        for _name, _t, cols in first.transformers
        if not callable(cols)
    )


def _boost(model: Any, flavor: str, example: pd.DataFrame) -> bytes:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("input", FloatTensorType([None, example.shape[1]]))]
    if flavor == "lightgbm":
        proto = onnxmltools.convert_lightgbm(model, initial_types=types, zipmap=False)
    else:
        proto = onnxmltools.convert_xgboost(_anonymous_xgb(model), initial_types=types)
    return bytes(proto.SerializeToString())


def _anonymous_xgb(model: Any) -> Any:
    """A copy whose booster has no feature names (onnxmltools wants f0, f1, ...)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.ubj"
        model.save_model(path)
        clone = copy.copy(model).__class__()
        clone.load_model(path)
    clone.get_booster().feature_names = None
    return clone


def export(
    model: Any,
    flavor: str,
    native: Backend,
    folder: Path,
    rows: pd.DataFrame,
    *,
    task: str,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[dict[str, Any], Parity]:
    """Write ``model.onnx`` into ``folder``; returns its manifest section and its parity."""
    data = to_onnx(model, flavor, rows)
    (folder / FILE).write_bytes(data)
    config = describe(session(data))
    config["exported_from"] = flavor
    result = check_parity(native, OnnxBackend(session(data), config), rows, task, tolerance)
    config["parity"] = result.to_dict()
    return config, result


def check_parity(
    native: Backend, onnx: Backend, rows: pd.DataFrame, task: str, tolerance: float
) -> Parity:
    import numpy as np

    labels_a = np.asarray(native.predict(rows)).ravel()
    labels_b = np.asarray(onnx.predict(rows)).ravel()
    if task == "classification":
        labels_match = bool(np.array_equal(labels_a.astype(str), labels_b.astype(str)))
        try:
            a, b = native.predict_proba(rows), onnx.predict_proba(rows)
        except InvalidArgumentError:
            a, b = labels_a.astype(float), labels_b.astype(float)
    else:
        labels_match = True
        a, b = labels_a, labels_b
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.shape != b_arr.shape:
        return Parity(float("inf"), False, len(rows), tolerance)
    diff = float(np.max(np.abs(a_arr - b_arr))) if a_arr.size else 0.0
    return Parity(diff, labels_match, len(rows), tolerance)


__all__ = ["DEFAULT_TOLERANCE", "Parity", "check_parity", "export", "to_onnx"]
