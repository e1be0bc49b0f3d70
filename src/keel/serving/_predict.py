"""The one prediction path: signature check, declared transforms, predictor, postprocess.

Online serving (each micro-batch), batch prediction (``keel predict``, local and on Dask)
and stream workers all score a frame with :func:`predict_frame`, so a model answers the
same input the same way whichever door it came in by, and refuses it the same way too.
JSON requests are checked against the schema while they are parsed
(:class:`~keel.serving._schema.InputSchema` names the row and value) and pass
``checked=True``; frames read from files are checked here.

The schema decides what a column takes: a number column refuses booleans, and refuses
nulls unless the signature allows them (a model saved with an input example that had
nulls in that column), whatever the runtime: an ONNX twin never answers where the model
it was exported from would refuse.

A caller may ask for more than the model's answer: ``extra={PROBABILITIES}`` adds the class
probabilities (``predict_proba``, one row of ``n_classes`` per input row) computed on the same
transformed frame, so a v2 request naming the ``probabilities`` output gets them through the
same checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.exceptions import InvalidArgumentError, ModelInputError
from keel.serving._codec import normalize_outputs
from keel.serving._schema import InputSchema, Kind, Rows, null_refused
from keel.serving._transforms import Transforms

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from keel.serving._source import LoadedModel

NO_TRANSFORMS = Transforms()
#: The requestable output holding class probabilities (v2 ``outputs: [{"name": ...}]``).
PROBABILITIES = "probabilities"
#: Outputs computed only when asked for.
EXTRA_OUTPUTS = frozenset({PROBABILITIES})


def request_schema(
    model: LoadedModel, transforms: Transforms = NO_TRANSFORMS
) -> InputSchema | None:
    """What inputs are checked against: the model's schema, or the first pre step's own."""
    if not transforms.pre:
        return model.schema
    return InputSchema.coerce(getattr(transforms.pre[0], "input_schema", None))


def predict_frame(
    model: LoadedModel,
    frame: pd.DataFrame,
    transforms: Transforms = NO_TRANSFORMS,
    *,
    schema: InputSchema | None = None,
    checked: bool = False,
    extra: frozenset[str] = frozenset(),
) -> dict[str, np.ndarray]:
    """``{output name: array}`` for every row of ``frame``.

    ``schema`` defaults to :func:`request_schema`; ``checked`` skips the frame check for
    rows that were validated as they were parsed; ``extra`` names outputs computed only on
    request (:data:`EXTRA_OUTPUTS`).
    """
    if not checked:
        frame = check_frame(schema or request_schema(model, transforms), frame)
    n = len(frame)
    if not transforms.empty:
        frame = transforms.before(frame)
    result = model.predictor.predict(frame)
    proba = _probabilities(model, frame, n) if PROBABILITIES in extra else None
    if not transforms.empty:
        result = transforms.after(result, frame)
    outs = normalize_outputs(result, n)
    if proba is not None:
        outs[PROBABILITIES] = proba
    return outs


def _probabilities(model: LoadedModel, frame: pd.DataFrame, n: int) -> np.ndarray:
    import numpy as np

    predict_proba = getattr(model.predictor, "predict_proba", None)
    if predict_proba is None:
        raise InvalidArgumentError(
            f"model {model.key} does not predict class probabilities; "
            f"do not ask for the {PROBABILITIES!r} output"
        )
    proba = predict_proba(frame)
    # float64 whichever runtime answered (an ONNX twin gives float32), as metadata says
    arr = np.asarray(proba.to_numpy() if hasattr(proba, "to_numpy") else proba, dtype=np.float64)
    if arr.ndim != 2 or len(arr) != n:
        raise InvalidArgumentError(
            f"model {model.key} answered probabilities of shape {arr.shape}, "
            f"not one row per input row ({n})"
        )
    return arr


def predict_rows(
    model: LoadedModel,
    rows: Rows,
    transforms: Transforms = NO_TRANSFORMS,
    *,
    schema: InputSchema | None = None,
    extra: frozenset[str] = frozenset(),
) -> dict[str, np.ndarray]:
    """:func:`predict_frame` for rows already checked against ``schema`` (JSON requests)."""
    schema = schema or request_schema(model, transforms)
    frame = rows.to_frame(schema)
    return predict_frame(model, frame, transforms, schema=schema, checked=True, extra=extra)


def check_frame(schema: InputSchema | None, frame: pd.DataFrame) -> pd.DataFrame:
    """The schema's columns of ``frame`` in order; ModelInputError names what does not fit."""
    if schema is None:
        return frame
    names = schema.names
    present = {str(c) for c in frame.columns}
    missing = [c for c in names if c not in present]
    if missing:
        raise ModelInputError(
            f"the input has no column(s) {missing[:10]}; the model takes {names[:30]}"
        )
    if list(frame.columns) != names:
        frame = frame[names]
    for col in schema.columns:
        if col.kind is Kind.FLOAT or col.kind is Kind.INT:
            _check_number_column(col.name, col.kind, col.nullable, frame[col.name])
    return frame


def _check_number_column(name: str, kind: Kind, nullable: bool, series: pd.Series) -> None:
    from pandas.api import types as pt

    what = "a number" if kind is Kind.FLOAT else "an integer"
    if pt.is_bool_dtype(series.dtype):
        raise ModelInputError(
            f"column {name!r} expects {what} but holds booleans ({series.dtype}); cast it to "
            "numbers before predicting"
        )
    if pt.is_object_dtype(series.dtype):
        for i, v in enumerate(series.tolist()):
            if isinstance(v, bool):
                raise ModelInputError(
                    f"column {name!r} expects {what} but row {i} has {v!r} (bool); booleans are "
                    "not numbers here"
                )
    if not nullable:
        nulls = series.isna().to_numpy()
        if nulls.any():
            raise null_refused(name, int(nulls.argmax()))


__all__ = ["check_frame", "null_refused", "predict_frame", "predict_rows", "request_schema"]
