"""ONNX for keel's LightGBM/XGBoost estimators, also inside a Pipeline or a voting ensemble.

skl2onnx converts a scikit-learn Pipeline step by step and asks its registry for each
step's converter. :func:`register` adds one for :class:`NativeBoosterClassifier` and
:class:`NativeBoosterRegressor` that hands the booster to onnxmltools' own LightGBM and
XGBoost converters (the way onnxmltools documents registering them into skl2onnx), so an
AutoML winner with a booster member gets an ONNX twin like any other Pipeline — served only
where the parity check holds.
"""

from __future__ import annotations

from typing import Any

from keel.models._native_boost import (
    NativeBoosterClassifier,
    NativeBoosterRegressor,
    _NativeBooster,
)

_registered: set[str] = set()  # "estimators" once the converters are in skl2onnx's registry


def native_kinds(model: Any) -> set[str]:
    """The booster kinds (``lightgbm``, ``xgboost``) held anywhere inside ``model``."""
    found = {model.kind} if isinstance(model, _NativeBooster) else set()
    if hasattr(model, "get_params"):
        params = model.get_params(deep=True).values()
        found |= {v.kind for v in params if isinstance(v, _NativeBooster)}
    return found


def register(kinds: set[str]) -> None:
    """Teach skl2onnx to convert keel's boosters (once per process); ``kinds``' converters
    are imported now, so a missing onnxmltools is a clear ImportError."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    for kind in kinds:
        _converter(kind)
    if "estimators" in _registered:
        return
    update_registered_converter(
        NativeBoosterClassifier,
        "KeelNativeBoosterClassifier",
        calculate_linear_classifier_output_shapes,
        _convert,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        NativeBoosterRegressor,
        "KeelNativeBoosterRegressor",
        calculate_linear_regressor_output_shapes,
        _convert,
    )
    _registered.add("estimators")


def native_opset() -> dict[str, int]:
    """The opsets a Pipeline with boosters converts to: onnxmltools' tree converters would
    use a newer ``ai.onnx.ml`` than skl2onnx assembles, so it is pinned to 3."""
    from skl2onnx import get_latest_tested_opset_version

    return {"": get_latest_tested_opset_version(), "ai.onnx.ml": 3}


def _converter(kind: str) -> Any:
    if kind == "lightgbm":
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        return convert_lightgbm
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

    return convert_xgboost


def _convert(scope: Any, operator: Any, container: Any) -> None:
    """Convert with onnxmltools' converter for the estimator's library, shown the library's
    own model object for the length of the call."""
    est = operator.raw_operator
    operator.raw_operator = _library_view(est)
    try:
        _converter(est.kind)(scope, operator, container)
    finally:
        operator.raw_operator = est


def _library_view(est: _NativeBooster) -> Any:
    """What onnxmltools' converter reads: a LightGBM booster wrapper, or an XGBoost
    estimator loaded from the booster's bytes (no feature names: it wants f0, f1, ...)."""
    booster = est._booster if "_booster" in est.__dict__ else None
    if booster is None:
        est._raw_predict([[0.0] * est.n_features_in_])  # parses the checked bytes once
        booster = est._booster
    classifier = isinstance(est, NativeBoosterClassifier)
    if est.kind == "lightgbm":
        from onnxmltools.convert.lightgbm._parse import WrappedBooster

        view = WrappedBooster(booster)
        if classifier:
            view.classes_ = est.classes_
        return view
    import xgboost

    model = (xgboost.XGBClassifier if classifier else xgboost.XGBRegressor)()
    model.load_model(bytearray(booster.save_raw("ubj")))
    model.get_booster().feature_names = None
    if classifier:
        model.n_classes_ = len(est.classes_)  # its classes_ are 0..n-1, as inside a Pipeline
    return model


__all__ = ["native_kinds", "native_opset", "register"]
