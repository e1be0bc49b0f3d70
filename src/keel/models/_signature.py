"""Model signatures: the input and output columns a model takes, as an Arrow schema.

A signature is inferred from the input example when a model is saved, and every
``predict`` call is checked against it. Errors name the column. Safe coercions are
applied silently, and only these:

========================  =======================================================
signature type            accepted input
========================  =======================================================
float (any width)         float of any width, integer, boolean is *not* accepted
integer (any width)       integer of any width (values must fit), not float
boolean                   boolean
string                    string (object columns of text, pandas string dtype)
timestamp / date          datetime64 of any unit
========================  =======================================================

Anything else (text where numbers are expected, floats where integers are) is an error:
cast the column yourself so a silent mistake cannot change predictions.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, ModelInputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column: its name, Arrow type (as text) and the kind checks compare."""

    name: str
    type: str
    kind: str  # "float", "int", "bool", "string", "datetime", "other"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class ModelSignature:
    """Input and output columns of a model, plus the exact Arrow schema of the inputs."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()
    arrow_schema: str = ""  # base64 of the Arrow IPC-serialised input schema

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def brief(self) -> str:
        """``3 inputs → prediction``: the shape of the signature, for a repr."""
        outs = ", ".join(c.name for c in self.outputs) or "?"
        return f"{len(self.inputs)} inputs → {outs}"

    def __repr__(self) -> str:
        cols = ", ".join(f"{c.name}: {c.type}" for c in self.inputs[:6])
        more = f", …+{len(self.inputs) - 6}" if len(self.inputs) > 6 else ""
        return f"ModelSignature({cols}{more} → {', '.join(c.name for c in self.outputs)})"

    @property
    def input_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.arrow_schema)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
            "arrow_schema": self.arrow_schema,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSignature:
        def cols(items: Any) -> tuple[ColumnSpec, ...]:
            return tuple(ColumnSpec(str(c["name"]), str(c["type"]), str(c["kind"])) for c in items)

        return cls(
            cols(data.get("inputs", [])),
            cols(data.get("outputs", [])),
            str(data.get("arrow_schema", "")),
        )


def as_frame(data: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a dict of columns, a list of row dicts or an Arrow table."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame().T if data.name is None else data.to_frame()
    if hasattr(data, "to_pandas") and hasattr(data, "schema"):
        frame: pd.DataFrame = data.to_pandas()
        return frame
    if isinstance(data, Mapping):
        if all(np.ndim(v) == 0 for v in data.values()):
            return pd.DataFrame([dict(data)])
        return pd.DataFrame(dict(data))
    if isinstance(data, np.ndarray):
        arr = data.reshape(1, -1) if data.ndim == 1 else data
        names = list(columns) if columns is not None else [f"x{i}" for i in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise ModelInputError(
                f"input array has {arr.shape[1]} columns; the model takes {len(names)} "
                f"({', '.join(names[:8])}{'...' if len(names) > 8 else ''})"
            )
        return pd.DataFrame(arr, columns=names)
    if isinstance(data, list) and (not data or isinstance(data[0], Mapping)):
        return pd.DataFrame(data)
    raise InvalidArgumentError(
        f"cannot use a {type(data).__name__} as model input; pass a pandas DataFrame, a dict of "
        "columns, a list of row dicts or a pyarrow Table"
    )


def _kind(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    return "other"


def _schema_of(frame: pd.DataFrame) -> pa.Schema:
    import pyarrow as pa

    return pa.Schema.from_pandas(frame, preserve_index=False)


def _nullable_as_seen(schema: pa.Schema, frame: pd.DataFrame) -> pa.Schema:
    """A column is nullable in the signature only if the example has a null in it: serving
    refuses nulls elsewhere, so an ONNX twin never answers where the model would refuse."""
    import pyarrow as pa

    has_nulls = frame.isna().any().tolist()
    return pa.schema(
        [f.with_nullable(bool(n)) for f, n in zip(schema, has_nulls, strict=True)],
        metadata=schema.metadata,
    )


def _specs(schema: pa.Schema) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(f.name, str(f.type), _kind(f.type)) for f in schema)


def infer_signature(example: Any, output: Any = None) -> ModelSignature:
    """The signature of ``example`` (and of the model's ``output`` on it, if given)."""
    frame = as_frame(example)
    frame = frame.rename(columns=str)
    schema = _nullable_as_seen(_schema_of(frame).remove_metadata(), frame)
    encoded = base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
    outputs: tuple[ColumnSpec, ...] = ()
    if output is not None:
        outputs = _specs(_schema_of(_output_frame(output)))
    return ModelSignature(_specs(schema), outputs, encoded)


def _output_frame(output: Any) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(output, pd.DataFrame):
        return output.rename(columns=str)
    if isinstance(output, pd.Series):
        return output.to_frame(name=str(output.name or "prediction"))
    arr = np.asarray(output)
    if arr.ndim <= 1:
        return pd.DataFrame({"prediction": arr.reshape(-1)})
    return pd.DataFrame(arr, columns=[f"prediction_{i}" for i in range(arr.shape[1])])


def _actual_kind(series: pd.Series) -> str:
    import pandas as pd
    from pandas.api import types as pt

    dtype = series.dtype
    if pt.is_bool_dtype(dtype):
        return "bool"
    if pt.is_integer_dtype(dtype):
        return "int"
    if pt.is_float_dtype(dtype):
        return "float"
    if pt.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pt.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        if pt.is_object_dtype(dtype):
            inferred = pt.infer_dtype(series, skipna=True)
            return {
                "string": "string",
                "empty": "empty",
                "integer": "int",
                "floating": "float",
                "boolean": "bool",
                "mixed-integer-float": "float",
            }.get(inferred, "other")
        return "string"
    return "other"


_ACCEPTS: dict[str, frozenset[str]] = {
    "float": frozenset({"float", "int", "empty"}),
    "int": frozenset({"int", "empty"}),
    "bool": frozenset({"bool", "empty"}),
    "string": frozenset({"string", "empty"}),
    "datetime": frozenset({"datetime", "empty"}),
}


def _names(names: list[str]) -> str:
    return ", ".join(names[:10]) + ("..." if len(names) > 10 else "")


def _align(frame: pd.DataFrame, signature: ModelSignature) -> pd.DataFrame:
    """The frame's columns in signature order; errors name a missing or extra column."""
    expected = signature.input_names
    present = [str(c) for c in frame.columns]
    missing = [c for c in expected if c not in set(present)]
    extra = [c for c in present if c not in set(expected)]
    if missing:
        spec = next(s for s in signature.inputs if s.name == missing[0])
        more = (
            f" (and {len(missing) - 1} more: {', '.join(missing[1:6])})" if len(missing) > 1 else ""
        )
        raise ModelInputError(
            f"input is missing column {missing[0]!r} ({spec.type}){more}; the model takes "
            f"{len(expected)} columns: {_names(expected)}"
        )
    if extra:
        raise ModelInputError(
            f"input has column {extra[0]!r} that the model was not trained on; drop it "
            f"(the model takes {_names(expected)})"
        )
    if len(set(present)) != len(present):
        dup = next(c for c in present if present.count(c) > 1)
        raise ModelInputError(f"input has column {dup!r} more than once")
    return frame.rename(columns=str)[expected]


def enforce(
    signature: ModelSignature, data: Any, cache: set[tuple[Any, ...]] | None = None
) -> pd.DataFrame:
    """Check ``data`` against the signature; returns the frame in signature column order.

    Raises ModelInputError naming the missing, extra or mistyped column. ``cache`` (owned
    by the caller, one per signature) remembers dtype combinations that passed, so the
    per-row cost of a predictor is a tuple lookup.
    """
    frame = as_frame(data, signature.input_names)
    if frame.columns.tolist() != signature.input_names:
        frame = _align(frame, signature)
    dtypes = frame.dtypes.tolist()
    key = tuple(dtypes)
    if cache is not None and key in cache:
        return frame  # these exact dtypes passed before and need no cast
    casts: dict[str, str] = {}
    for spec, dtype in zip(signature.inputs, dtypes, strict=True):
        accepted = _ACCEPTS.get(spec.kind)
        if accepted is None:
            continue
        got = _dtype_kind(dtype) or _actual_kind(frame[spec.name])
        if got not in accepted:
            raise ModelInputError(
                f"column {spec.name!r} should hold {spec.kind} values ({spec.type}) but holds "
                f"{got} values ({dtype}); cast it before predicting"
            )
        if spec.kind == "float" and got == "int":
            casts[spec.name] = "float64"  # the documented int -> float coercion
    if casts:
        return frame.astype(casts)
    if cache is not None and len(cache) < 64 and all(_dtype_kind(d) is not None for d in dtypes):
        cache.add(key)  # object columns are never cached: their values decide
    return frame


def _dtype_kind(dtype: Any) -> str | None:
    """The kind of a column from its dtype alone; None when the values must be looked at."""
    import numpy as np

    if isinstance(dtype, np.dtype):
        return {"f": "float", "i": "int", "u": "int", "b": "bool", "M": "datetime"}.get(dtype.kind)
    return None


__all__ = ["ColumnSpec", "ModelSignature", "as_frame", "enforce", "infer_signature"]
