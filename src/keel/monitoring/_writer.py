"""Writing prediction logs in the serving contract: batch predictions, imports and tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.monitoring._columns import column_names, num_rows
from keel.monitoring._log import DAY_MS, PREDICTIONS, EventLog, _day

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def write_predictions(
    settings: Settings,
    deployment: str,
    inputs: Any,
    outputs: Mapping[str, Any],
    *,
    model: str = "",
    version: str = "",
    endpoint: str | None = None,
    request_ids: Sequence[str] | None = None,
    timestamps_ms: Sequence[int] | np.ndarray | None = None,
    latency_ms: Sequence[float] | np.ndarray | float = 0.0,
    shadow: bool = False,
) -> list[str]:
    """Append rows to the prediction log of ``deployment`` (one row per input row).

    ``inputs`` is a DataFrame, Arrow table or dict of columns; ``outputs`` maps output names
    to arrays of the same length. Request ids default to fresh UUIDs and timestamps to now.
    Rows are split into one file per day. Returns the files written.
    """
    import numpy as np
    import pyarrow as pa

    n = num_rows(inputs)
    ids = list(request_ids) if request_ids is not None else [uuid.uuid4().hex for _ in range(n)]
    ts = (
        np.asarray(timestamps_ms, dtype=np.int64)
        if timestamps_ms is not None
        else np.full(n, int(time.time() * 1000), dtype=np.int64)
    )
    lat = np.broadcast_to(np.asarray(latency_ms, dtype=np.float64), (n,))
    if len(ids) != n or len(ts) != n:
        raise InvalidArgumentError(
            f"{n} input rows but {len(ids)} request ids and {len(ts)} timestamps; give one each"
        )
    bad = [name for name, values in outputs.items() if len(values) != n]
    if bad:
        raise InvalidArgumentError(f"output(s) {bad} do not have the {n} rows the inputs have")
    table = pa.table(
        {
            "request_id": pa.array(ids, pa.string()),
            "row": pa.array(np.zeros(n, dtype=np.int32)),
            "ts": pa.array(ts.astype("datetime64[ms]"), pa.timestamp("ms", tz="UTC")),
            "endpoint": pa.array([endpoint or deployment] * n, pa.string()),
            "model": pa.array([model] * n, pa.string()),
            "version": pa.array([str(version)] * n, pa.string()),
            "shadow": pa.array(np.full(n, shadow)),
            "latency_ms": pa.array(np.array(lat)),
            "inputs": _struct(inputs),
            "outputs": _struct(dict(outputs)),
        }
    )
    return _write_by_day(EventLog(settings.artifacts_uri, PREDICTIONS), deployment, table, ts)


def _write_by_day(log: EventLog, deployment: str, table: pa.Table, ts: np.ndarray) -> list[str]:
    """One file per UTC day, in that day's partition."""
    import numpy as np
    import pyarrow as pa

    days = ts // DAY_MS
    return [
        log.write(deployment, table.filter(pa.array(days == day)), day=_day(int(day) * DAY_MS))
        for day in np.unique(days)
    ]


def _struct(data: Any) -> pa.StructArray:
    import pyarrow as pa

    from keel.monitoring._columns import _is_arrow, _is_pandas

    if _is_arrow(data):
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    elif _is_pandas(data):
        table = pa.Table.from_pandas(data, preserve_index=False)
    else:
        table = pa.table({str(k): _array(v) for k, v in data.items()})
    names = column_names(table)
    arrays = [table.column(name).combine_chunks() for name in names]
    if not arrays:
        return pa.StructArray.from_arrays([], fields=[])
    return pa.StructArray.from_arrays(arrays, names=names)


def _array(values: Any) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    if isinstance(values, pa.Array):
        return values
    arr = np.asarray(values)
    if arr.ndim > 1:
        return pa.array(list(arr))
    if arr.dtype.kind == "O":
        return pa.array(arr.tolist())
    return pa.array(arr)
