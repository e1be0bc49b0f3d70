"""Tabular input (Arrow, pandas, a dict of arrays) seen one column at a time.

The drift engine never materialises a whole table in another form: each column is converted
when it is profiled and dropped after, so memory stays one column above the input itself.
Numbers come out as float64 NumPy arrays with NaN for missing values; strings, booleans and
dictionaries as Arrow arrays; everything else (dates, lists, structs) as ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from keel.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

Kind = Literal["numeric", "categorical", "other"]

#: NumPy dtype name -> Arrow type name, so dtypes read the same whatever the input library.
_NUMPY_TO_ARROW = {
    "float64": "double",
    "float32": "float",
    "float16": "halffloat",
    "bool": "bool",
    **{f"int{b}": f"int{b}" for b in (8, 16, 32, 64)},
    **{f"uint{b}": f"uint{b}" for b in (8, 16, 32, 64)},
}


_DICTIONARY = re.compile(r"^dictionary<values=(?P<values>.+), indices=\w+, ordered=\d>$")
_STORAGE_ONLY = re.compile(r"\blarge_|_view\b")


def logical_type(dtype: str) -> str:
    """An Arrow type name without its storage choices: ``large_string``, ``string_view``
    and a dictionary of strings are all ``string`` (pandas 3 profiles text as
    ``large_string``; Parquet written elsewhere reads back as ``string``)."""
    m = _DICTIONARY.match(dtype)
    if m is not None:
        dtype = m.group("values")
    dtype = _STORAGE_ONLY.sub("", dtype)
    return {"utf8": "string"}.get(dtype, dtype)


@dataclass(frozen=True, eq=False, slots=True)
class Column:
    """One column ready to profile: ``values`` for numbers, ``arrow`` for the rest."""

    name: str
    kind: Kind
    dtype: str
    length: int
    values: np.ndarray | None = None
    arrow: pa.Array | None = None


def column_names(data: Any) -> list[str]:
    """The column names of any supported input, in order."""
    if _is_arrow(data):
        return [str(n) for n in data.schema.names]
    if _is_pandas(data):
        return [str(c) for c in data.columns]
    if isinstance(data, Mapping):
        return [str(k) for k in data]
    raise _unsupported(data)


def iter_columns(data: Any, names: list[str] | None = None) -> Iterator[Column]:
    """Each column (or only ``names``) of ``data``, converted lazily one at a time."""
    wanted = column_names(data) if names is None else names
    if _is_arrow(data):
        for name in wanted:
            yield from_arrow(name, data.column(name))
    elif _is_pandas(data):
        for name in wanted:
            yield _from_pandas(name, data[name])
    elif isinstance(data, Mapping):
        for name in wanted:
            yield _from_sequence(name, data[name])
    else:
        raise _unsupported(data)


def num_rows(data: Any) -> int:
    if _is_arrow(data) or _is_pandas(data):
        return len(data)
    if isinstance(data, Mapping):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise InvalidArgumentError(
                f"the columns of the dict have different lengths {sorted(lengths)}; "
                "give every column the same number of rows"
            )
        return lengths.pop() if lengths else 0
    raise _unsupported(data)


def from_arrow(name: str, arr: pa.Array | pa.ChunkedArray) -> Column:
    """Classify an Arrow column and convert numbers to float64 with NaN for nulls."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    kind = arr.type
    dtype = str(kind)
    if pa.types.is_dictionary(kind):
        return Column(name, "categorical", dtype, len(arr), arrow=arr.dictionary_decode())
    if pa.types.is_boolean(kind) or _is_string(kind):
        return Column(name, "categorical", dtype, len(arr), arrow=arr)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = _arrow_to_float(arr)
        return Column(name, "numeric", dtype, len(arr), values=values)
    if pa.types.is_null(kind):
        return Column(name, "other", dtype, len(arr), arrow=arr)
    return Column(name, "other", dtype, len(arr), arrow=arr)


def _arrow_to_float(arr: pa.Array) -> np.ndarray:
    import numpy as np
    import pyarrow as pa

    if pa.types.is_decimal(arr.type) or not pa.types.is_float64(arr.type):
        arr = arr.cast(pa.float64(), safe=False)
    if arr.null_count == 0:
        return arr.to_numpy(zero_copy_only=False)
    return np.asarray(arr.fill_null(float("nan")).to_numpy(zero_copy_only=False))


def _is_string(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _from_pandas(name: str, series: Any) -> Column:
    import numpy as np

    dtype = series.dtype
    kind_char = getattr(dtype, "kind", "O")
    if kind_char in "fiu" and isinstance(dtype, np.dtype):
        values = series.to_numpy(dtype=np.float64, copy=False)
        return Column(
            name, "numeric", _NUMPY_TO_ARROW.get(dtype.name, dtype.name), len(values), values=values
        )
    import pyarrow as pa

    try:
        arr = pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidArgumentError(
            f"column {name!r} mixes types ({exc}); give it one type, e.g. df[{name!r}].astype(str)"
        ) from exc
    return from_arrow(name, arr)


def _from_sequence(name: str, seq: Any) -> Column:
    import numpy as np

    arr = seq if isinstance(seq, np.ndarray) else None
    if arr is None and _is_arrow_array(seq):
        return from_arrow(name, seq)
    if arr is None:
        try:
            arr = np.asarray(seq)
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(f"column {name!r} is not array-like: {exc}") from exc
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"column {name!r} has shape {arr.shape}; each column must be one-dimensional"
        )
    if arr.dtype.kind in "fiu":
        values = arr.astype(np.float64, copy=False)
        dtype = _NUMPY_TO_ARROW.get(arr.dtype.name, arr.dtype.name)
        return Column(name, "numeric", dtype, len(values), values=values)
    import pyarrow as pa

    try:
        pa_arr = pa.array(arr if arr.dtype.kind != "O" else list(arr), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidArgumentError(f"column {name!r} mixes types: {exc}") from exc
    return from_arrow(name, pa_arr)


def _is_arrow(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("pyarrow") and hasattr(data, "schema") and hasattr(data, "column")


def _is_arrow_array(data: Any) -> bool:
    return type(data).__module__.startswith("pyarrow") and hasattr(data, "type")


def _is_pandas(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _unsupported(data: Any) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"cannot profile a {type(data).__name__}; pass a pandas DataFrame, a pyarrow Table "
        "or RecordBatch, or a dict of column name -> array"
    )
