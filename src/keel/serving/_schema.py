"""The input schema a served model expects, and request rows checked against it.

Requests arrive as JSON rows or columns; :class:`InputSchema` turns them into
:class:`Rows` (one float matrix when every column is numeric, else one array per column)
and names the column, row and value whenever something does not fit: a missing or extra
column, a string where a number belongs, a null in an integer column. Safe coercions are
applied: int -> float, integral float -> int. The column permutation of each request
layout is computed once and cached, so the steady state does no per-request planning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.exceptions import ModelInputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_MAX_CACHED_LAYOUTS = 64


class Kind(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STR = "str"
    DATETIME = "datetime"
    ANY = "any"


_V2_TYPES = {
    Kind.FLOAT: "FP64",
    Kind.INT: "INT64",
    Kind.BOOL: "BOOL",
    Kind.STR: "BYTES",
    Kind.DATETIME: "BYTES",
    Kind.ANY: "BYTES",
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    dtype: str = "float64"  # the numpy dtype the model gets
    nullable: bool = True

    @property
    def v2_datatype(self) -> str:
        if self.kind is Kind.FLOAT and self.dtype == "float32":
            return "FP32"
        return _V2_TYPES[self.kind]


@dataclass(frozen=True)
class Rows:
    """Validated request rows: a float ``matrix`` (n x k, schema order) or ``columns``."""

    n: int
    matrix: np.ndarray | None = None
    columns: dict[str, Any] | None = None

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        """One batch from several requests' rows (all validated by the same schema)."""
        if len(parts) == 1:
            return parts[0]
        n = sum(p.n for p in parts)
        if all(p.matrix is not None for p in parts):
            return Rows(n, matrix=np.concatenate([p.matrix for p in parts]))
        cols = [p.as_columns() for p in parts]
        names = list(cols[0])
        if any(list(c) != names for c in cols[1:]):  # schema-less requests with other columns
            import pandas as pd

            frames = [pd.DataFrame(c) for c in cols]
            merged = pd.concat(frames, ignore_index=True)
            return Rows(n, columns={k: merged[k].to_numpy() for k in merged.columns})
        return Rows(n, columns={k: _concat_values([c[k] for c in cols]) for k in names})

    def as_columns(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        if self.columns is not None:
            return self.columns
        assert self.matrix is not None
        keys = names if names is not None else [f"c{i}" for i in range(self.matrix.shape[1])]
        return {k: self.matrix[:, i] for i, k in enumerate(keys)}

    def to_frame(self, schema: InputSchema | None) -> pd.DataFrame:
        import pandas as pd

        if self.matrix is not None and schema is not None:
            frame = pd.DataFrame(self.matrix, columns=schema.index, copy=False)
            if schema.float32:
                frame = frame.astype("float32")
            return frame
        return pd.DataFrame(self.as_columns(schema.names if schema else None), copy=False)


def _concat_values(values: list[Any]) -> Any:
    if all(isinstance(v, np.ndarray) for v in values):
        return np.concatenate(values)
    out: list[Any] = []
    for v in values:
        out.extend(v.tolist() if isinstance(v, np.ndarray) else v)
    return out


@dataclass(frozen=True)
class InputSchema:
    """Ordered, typed input columns; ``numeric`` schemas take the float-matrix fast path."""

    columns: tuple[Column, ...]
    _layouts: dict[tuple[str, ...], np.ndarray | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ModelInputError(f"the model signature repeats a column name: {names}")

    @property
    def names(self) -> list[str]:
        return list(self._names)

    # Derived once per schema (they are read on every request; the schema never changes).
    @cached_property
    def _names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def index(self) -> Any:
        """The column labels as a pandas Index, built once (frames reuse it)."""
        cached = self._layouts.get(("__index__",))
        if cached is None:
            import pandas as pd

            cached = pd.Index(self.names)
            self._layouts[("__index__",)] = cached
        return cached

    @cached_property
    def numeric(self) -> bool:
        return bool(self.columns) and all(c.kind is Kind.FLOAT for c in self.columns)

    @cached_property
    def float32(self) -> bool:
        return self.numeric and all(c.dtype == "float32" for c in self.columns)

    @classmethod
    def from_arrow(cls, schema: pa.Schema) -> InputSchema:
        return cls(tuple(_column_from_arrow(f) for f in schema))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> InputSchema:
        import pyarrow as pa

        return cls.from_arrow(pa.Schema.from_pandas(frame, preserve_index=False))

    @classmethod
    def coerce(cls, value: Any) -> InputSchema | None:
        """An input schema from what a model package carries (Arrow schema, frame, dict)."""
        if value is None or isinstance(value, InputSchema):
            return value
        import pyarrow as pa

        if isinstance(value, pa.Schema):
            return cls.from_arrow(value)
        for attr in ("input_schema", "inputs", "arrow_schema", "schema"):
            inner = getattr(value, attr, None)
            if inner is not None and inner is not value:
                return cls.coerce(inner)
        if isinstance(value, Mapping):
            return cls(tuple(Column(str(k), Kind(str(v))) for k, v in value.items()))
        if hasattr(value, "dtypes") and hasattr(value, "columns"):
            return cls.from_frame(value)
        return None

    # -- request layouts -------------------------------------------------------------------

    def rows_from_matrix(self, columns: Sequence[str] | None, data: Any) -> Rows:
        """Rows from ``dataframe_split``/``inputs``-style data: a list of row lists."""
        if not isinstance(data, list):
            raise ModelInputError(f"'data' must be a list of rows, got {type(data).__name__}")
        if not data:
            raise ModelInputError("empty batch: the request has no rows; send at least one row")
        cols = tuple(columns) if columns is not None else self._names
        order = self._layout(cols)
        if self.numeric:
            matrix = _float_matrix(data, len(cols))
            if matrix is not None:
                return Rows(len(data), matrix=matrix if order is None else matrix[:, order])
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(cols):
                got = len(row) if isinstance(row, list) else type(row).__name__
                raise ModelInputError(
                    f"row {i} has {got} values but the request names {len(cols)} columns"
                )
        by_name = {c: [row[j] for row in data] for j, c in enumerate(cols)}
        return self.rows_from_columns(by_name)

    def rows_from_records(self, records: Any) -> Rows:
        """Rows from a list of ``{column: value}`` objects."""
        if isinstance(records, Mapping):
            records = [records]
        if not isinstance(records, list):
            raise ModelInputError(
                f"records must be a list of objects, got {type(records).__name__}"
            )
        if not records:
            raise ModelInputError("empty batch: the request has no rows; send at least one row")
        for i, rec in enumerate(records):
            if not isinstance(rec, Mapping):
                raise ModelInputError(f"record {i} must be an object, got {type(rec).__name__}")
        first = tuple(records[0])
        self._layout(first)
        names = self.names
        if self.numeric and all(len(r) == len(names) for r in records):
            try:
                data = [[r[c] for c in names] for r in records]
            except KeyError:
                data = None
            if data is not None:
                matrix = _float_matrix(data, len(names))
                if matrix is not None:
                    return Rows(len(records), matrix=matrix)
        for i, rec in enumerate(records):
            if rec.keys() != records[0].keys():
                self._check_names(tuple(rec), where=f"record {i}")
        return self.rows_from_columns({c: [r.get(c) for r in records] for c in first})

    def rows_from_columns(self, columns: Mapping[str, Any]) -> Rows:
        """Rows from ``{column: [values]}``; checks every column's values against its kind."""
        self._check_names(tuple(columns))
        lengths = {len(v) if isinstance(v, list | np.ndarray) else -1 for v in columns.values()}
        if -1 in lengths:
            bad = next(k for k, v in columns.items() if not isinstance(v, list | np.ndarray))
            raise ModelInputError(f"column {bad!r} must be a list of values")
        if len(lengths) > 1:
            sizes = {k: len(v) for k, v in columns.items()}
            raise ModelInputError(f"columns have different lengths: {sizes}")
        n = lengths.pop() if lengths else 0
        if n == 0:
            raise ModelInputError("empty batch: the request has no rows; send at least one row")
        arrays = {c.name: _coerce(c, columns[c.name]) for c in self.columns}
        if self.numeric:
            return Rows(n, matrix=np.column_stack([arrays[c] for c in self.names]))
        return Rows(n, columns=arrays)

    def _layout(self, cols: tuple[str, ...]) -> np.ndarray | None:
        """The permutation from a request's column order to the schema order (cached)."""
        try:
            return self._layouts[cols]
        except KeyError:
            pass
        self._check_names(cols)
        names = self.names
        order = None if list(cols) == names else np.array([cols.index(c) for c in names])
        if len(self._layouts) < _MAX_CACHED_LAYOUTS:
            self._layouts[cols] = order
        return order

    def _check_names(self, cols: tuple[str, ...], *, where: str = "the request") -> None:
        expected = self.names
        missing = [c for c in expected if c not in cols]
        extra = [c for c in cols if c not in set(expected)]
        if len(set(cols)) != len(cols):
            dup = sorted({c for c in cols if cols.count(c) > 1})
            raise ModelInputError(f"{where} repeats column(s) {_names(dup)}")
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"is missing column(s) {_names(missing)}")
            if extra:
                parts.append(f"has unexpected column(s) {_names(extra)}")
            raise ModelInputError(
                f"{where} {' and '.join(parts)}; the model expects {len(expected)} columns: "
                f"{_names(expected, limit=30)}"
            )


def schema_less_rows(columns: Mapping[str, Any]) -> Rows:
    """Rows for a model without a signature: columns are passed through as given."""
    lengths = {len(v) for v in columns.values() if isinstance(v, list | np.ndarray)}
    if len(lengths) != 1 or len(columns) == 0:
        raise ModelInputError("every column must be a list of values of the same length")
    n = lengths.pop()
    if n == 0:
        raise ModelInputError("empty batch: the request has no rows; send at least one row")
    return Rows(n, columns=dict(columns))


def _names(names: Sequence[str], *, limit: int = 10) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" ... ({len(names)} in all)" if len(names) > limit else "")


def _float_matrix(data: list[Any], width: int) -> np.ndarray | None:
    """A float64 matrix when ``data`` is a clean numeric n x width grid, else None."""
    try:
        arr = np.asarray(data)
    except ValueError:
        return None  # ragged rows: the slow path names the row
    if arr.ndim != 2 or arr.shape[1] != width or arr.dtype.kind not in "fiu":
        return None
    if arr.dtype.kind == "f" and _has_bool(data):
        return None  # true/false among numbers: the slow path names the row
    return arr.astype(np.float64, copy=False)


def _has_bool(data: list[Any]) -> bool:
    """Whether a list of rows (or of values) holds a JSON true/false anywhere at its top
    two levels: numpy reads them as 1.0 and 0.0 when they sit among numbers."""
    for row in data:
        if row is True or row is False:
            return True
        if isinstance(row, list) and bool in set(map(type, row)):
            return True
    return False


def _coerce(col: Column, values: Any) -> Any:
    """``values`` as the column's array, or a :class:`ModelInputError` naming row and value."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        values = values.tolist() if col.kind in (Kind.STR, Kind.ANY) else values
    if col.kind is Kind.FLOAT:
        return _as_float(col, values)
    if col.kind is Kind.INT:
        return _as_int(col, values)
    if col.kind is Kind.BOOL:
        arr = _array_or_none(values)
        if arr is None or arr.dtype.kind != "b":
            _reject(col, values, lambda v: isinstance(v, bool), "true or false")
        return arr if arr is not None else np.asarray(values, dtype=bool)
    if col.kind is Kind.STR:
        _reject(col, values, lambda v: isinstance(v, str) or (v is None and col.nullable), "text")
        return np.asarray(values, dtype=object)
    if col.kind is Kind.DATETIME:
        import pandas as pd

        try:
            return pd.to_datetime(pd.Series(values), utc=True).to_numpy()
        except (ValueError, TypeError) as exc:
            raise ModelInputError(
                f"column {col.name!r} expects dates or timestamps: {exc}"
            ) from exc
    return np.asarray(values, dtype=object)


def _as_float(col: Column, values: Any) -> np.ndarray:
    arr = _array_or_none(values)
    if arr is not None and arr.dtype.kind in "fiu" and arr.ndim == 1:
        if isinstance(values, list) and arr.dtype.kind == "f" and _has_bool(values):
            arr = None  # true/false read as 1.0/0.0: let the check below name the row
        elif not col.nullable and arr.dtype.kind == "f" and np.isnan(arr).any():
            raise null_refused(col.name, int(np.isnan(arr).argmax()))
        else:
            return arr.astype(col.dtype, copy=False)

    def ok(v: Any) -> bool:
        return (isinstance(v, int | float) and not isinstance(v, bool)) or (
            v is None and col.nullable
        )

    if not col.nullable and isinstance(values, list) and None in values:
        raise null_refused(col.name, values.index(None))
    _reject(col, values, ok, "a number")
    return np.array([np.nan if v is None else v for v in values], dtype=col.dtype)


def null_refused(column: str, row: int) -> ModelInputError:
    """The error for a null where the signature allows none."""
    return ModelInputError(
        f"column {column!r} does not take nulls but row {row} is null (NaN); the model's "
        "signature has no nulls in this column. Fill the value, or save the model with an "
        "input example that has nulls there if the model handles them"
    )


def _array_or_none(values: Any) -> np.ndarray | None:
    """``values`` as an array, or None when numpy cannot build one (ragged or deeply
    nested cells: the value checks then name the row)."""
    if isinstance(values, np.ndarray):
        return values
    try:
        return np.asarray(values)
    except (ValueError, TypeError, RecursionError):
        return None


def _as_int(col: Column, values: Any) -> np.ndarray:
    arr = _array_or_none(values)
    if arr is None:
        _reject(col, values, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
        return np.asarray(values, dtype=col.dtype)
    if arr.dtype.kind in "iu" and arr.ndim == 1:
        return arr.astype(col.dtype, copy=False)
    if arr.dtype.kind == "f" and arr.ndim == 1:
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.floor(arr)))
        if bad.size:
            i = int(bad[0])
            raise ModelInputError(
                f"column {col.name!r} expects an integer but row {i} has {arr[i]!r}; send whole "
                "numbers (3 or 3.0) for this column"
            )
        return arr.astype(col.dtype)
    _reject(col, values, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
    return np.asarray(values, dtype=col.dtype)


def _reject(col: Column, values: Any, ok: Any, expected: str) -> None:
    for i, v in enumerate(values):
        if not ok(v):
            shown = _shown(v)
            raise ModelInputError(
                f"column {col.name!r} expects {expected} ({col.dtype}) but row {i} has {shown} "
                f"({type(v).__name__}); fix the value or the column it was sent in"
            )


def _shown(v: Any) -> str:
    """A short picture of a bad value (nested lists are never printed in full)."""
    if v is None:
        return "null"
    if isinstance(v, list):
        return f"a list of {len(v)}"
    if isinstance(v, Mapping):
        return "an object"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _column_from_arrow(f: pa.Field) -> Column:
    import pyarrow as pa

    t = f.type
    if pa.types.is_floating(t):
        width = "float32" if t == pa.float32() else "float64"
        return Column(f.name, Kind.FLOAT, width, f.nullable)
    if pa.types.is_integer(t):
        return Column(f.name, Kind.INT, str(t.to_pandas_dtype().__name__), f.nullable)
    if pa.types.is_boolean(t):
        return Column(f.name, Kind.BOOL, "bool", f.nullable)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return Column(f.name, Kind.STR, "object", f.nullable)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return Column(f.name, Kind.DATETIME, "datetime64[ns]", f.nullable)
    return Column(f.name, Kind.ANY, "object", True)


__all__ = ["Column", "InputSchema", "Kind", "Rows", "null_refused", "schema_less_rows"]
