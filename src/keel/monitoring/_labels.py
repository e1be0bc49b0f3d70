"""One spelling per label, so a prediction ``1`` and a feedback ``"1.0"`` compare equal."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def canonical(value: Any) -> str | None:
    """``True`` -> ``"true"``, ``1.0`` / ``"1"`` / ``1`` -> ``"1"``, ``" yes "`` -> ``"yes"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
        if isinstance(value, bool):
            return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(float(value))
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return _number(number) if math.isfinite(number) else text


def _number(x: float) -> str | None:
    if not math.isfinite(x):
        return None
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return repr(x)


def numeric(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def canonical_array(arr: pa.Array | pa.ChunkedArray | np.ndarray | list[Any]) -> list[str | None]:
    """:func:`canonical` over a column, fast for numbers (one pass, no per-row Arrow calls)."""
    import numpy as np
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if isinstance(arr, pa.Array):
        kind = arr.type
        if (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and arr.null_count == 0:
            return [_number(x) for x in arr.to_numpy(zero_copy_only=False).astype(np.float64)]
        values = arr.to_pylist()
    elif isinstance(arr, np.ndarray):
        values = arr.tolist()
    else:
        values = list(arr)
    return [canonical(v) for v in values]
