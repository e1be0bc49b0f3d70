"""Schema and per-column profile of an Arrow table, vectorised (about a second for 1M rows).

Profile of a column: ``type``, ``count`` (non-missing values), ``nulls`` (NaN counts as
missing), ``null_rate``, ``distinct``; numbers add ``min``, ``max``, ``mean``, ``std`` and
``quantiles`` (p5, p25, p50, p75, p95, linear interpolation) from one sort, and ``top``
(every value with its count) when at most ``TOP_K`` distinct values repeat; strings,
categoricals and booleans add ``top``, the most frequent values with their counts (empty
when every value is unique); dates and times add ``min``/``max``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

QUANTILES = (5, 25, 50, 75, 95)
TOP_K = 10


def schema_of(schema: pa.Schema) -> list[dict[str, Any]]:
    """The Arrow schema as ``[{name, type, nullable}]``."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def profile_of(table: pa.Table) -> dict[str, Any]:
    """Row and column counts plus one profile per column, in schema order."""
    columns = {
        field.name: column_profile(table.column(i).combine_chunks(), table.num_rows)
        for i, field in enumerate(table.schema)
    }
    return {"num_rows": table.num_rows, "num_columns": table.num_columns, "columns": columns}


def column_profile(arr: pa.Array, num_rows: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = arr.type
    if pa.types.is_floating(kind) and len(arr):
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, kind), arr)
    nulls = arr.null_count
    out: dict[str, Any] = {
        "type": str(kind),
        "count": len(arr) - nulls,
        "nulls": nulls,
        "null_rate": nulls / num_rows if num_rows else 0.0,
    }
    if pa.types.is_decimal(kind):
        arr = arr.cast(pa.float64())
        kind = arr.type
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and not pa.types.is_boolean(kind):
        out.update(_numeric(arr))
    elif _is_categorical(kind):
        out.update(_categorical(arr))
    elif pa.types.is_temporal(kind):
        out.update(_temporal(arr))
    else:
        out["distinct"] = _safe_distinct(arr)
    return out


def _is_categorical(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_dictionary(kind)
    )


def _numeric(arr: pa.Array) -> dict[str, Any]:
    import numpy as np

    values = arr.drop_null().to_numpy(zero_copy_only=False)
    if len(values) == 0:
        return {"distinct": 0, "min": None, "max": None, "mean": None, "std": None,
                "quantiles": {f"p{q}": None for q in QUANTILES}}  # fmt: skip
    ordered = np.sort(values)
    as_float = ordered.astype(np.float64, copy=False)
    std = float(as_float.std(ddof=1)) if len(as_float) > 1 else 0.0
    distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1]) + 1)
    return {
        "distinct": distinct,
        "min": _scalar(ordered[0]),
        "max": _scalar(ordered[-1]),
        "mean": _finite_or_none(float(as_float.mean())),
        "std": _finite_or_none(std),
        "quantiles": {f"p{q}": _finite_or_none(_quantile(as_float, q / 100)) for q in QUANTILES},
        **({"top": _value_counts(ordered)} if distinct <= min(TOP_K, len(ordered) - 1) else {}),
    }


def _value_counts(ordered: np.ndarray) -> list[dict[str, Any]]:
    """Every value of a column with few of them (a 0/1 target, a rating) and its count."""
    import numpy as np

    values, counts = np.unique(ordered, return_counts=True)
    top = [{"value": _scalar(v), "count": int(c)} for v, c in zip(values, counts, strict=True)]
    return sorted(top, key=lambda t: -t["count"])


def _quantile(ordered: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile of an already sorted array (numpy's default method)."""
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    a, b = float(ordered[lo]), float(ordered[hi])
    if a == b:
        return a
    return a + (b - a) * (pos - lo)


def _categorical(arr: pa.Array) -> dict[str, Any]:
    import pyarrow.compute as pc

    counts = pc.value_counts(arr)
    values, freqs = counts.field("values"), counts.field("counts")
    valid = pc.is_valid(values)
    values, freqs = pc.filter(values, valid), pc.filter(freqs, valid)
    order = pc.select_k_unstable(
        freqs, k=min(TOP_K, len(freqs)), sort_keys=[("dummy", "descending")]
    )
    top = [
        {"value": _scalar(values[i].as_py()), "count": int(freqs[i].as_py())}
        for i in order.to_pylist()
    ]
    top.sort(key=lambda t: (-t["count"], str(t["value"])))
    if top and top[0]["count"] == 1:
        top = []  # every value is unique (ids, free text): a "top" would be noise
    return {"distinct": len(values), "top": top}


def _temporal(arr: pa.Array) -> dict[str, Any]:
    import pyarrow.compute as pc

    bounds = pc.min_max(arr)
    return {
        "distinct": _safe_distinct(arr),
        "min": _scalar(bounds["min"].as_py()),
        "max": _scalar(bounds["max"].as_py()),
    }


def _safe_distinct(arr: pa.Array) -> int | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return int(pc.count_distinct(arr, mode="only_valid").as_py())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return None  # nested types have no hash kernel


def _scalar(value: Any) -> Any:
    """A JSON-friendly Python value (numpy scalars unwrapped, times as ISO strings)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return _finite_or_none(value) if math.isnan(value) else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else value
