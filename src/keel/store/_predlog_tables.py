"""The prediction log's Arrow tables: one row per predicted row, inputs and outputs as
structs, the request's metadata as columns. Both writers of :mod:`keel.store.predlog` (the
server's buffered :class:`~keel.store.predlog.PredictionLog` and ``write_predictions``)
build their tables here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.store.predlog import LogRecord


def records_to_table(records: Sequence[LogRecord]) -> pa.Table:
    """One Arrow table (one row per predicted row) from records of one model version."""
    import pyarrow as pa

    counts = np.fromiter((r.rows.n for r in records), dtype=np.int64, count=len(records))
    owner = pa.array(np.repeat(np.arange(len(records), dtype=np.int32), counts))

    def per_record(values: list[Any], type_: pa.DataType) -> pa.Array:
        return pa.array(values, type_).take(owner)

    def constant(values: list[str]) -> pa.Array:
        if all(v == values[0] for v in values):
            return pa.DictionaryArray.from_arrays(
                pa.nulls(len(owner), pa.int32()).fill_null(0), [values[0]]
            )
        return per_record(values, pa.string()).dictionary_encode()

    first = records[0]
    rows = type(first.rows).concat([r.rows for r in records])
    keys = [k for k in first.outputs if all(k in r.outputs for r in records)]
    outputs = {k: np.concatenate([r.outputs[k] for r in records]) for k in keys}
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(int(counts.sum()), dtype=np.int32) - np.repeat(starts, counts).astype(
        np.int32
    )
    return prediction_table(
        request_id=per_record([r.request_id for r in records], pa.string()),
        row=pa.array(position),
        ts=per_record([r.ts_ms for r in records], pa.int64()),
        endpoint=constant([r.endpoint for r in records]),
        model=constant([r.model for r in records]),
        version=constant([r.version for r in records]),
        shadow=per_record([r.shadow for r in records], pa.bool_()),
        latency_ms=per_record([r.latency_ms for r in records], pa.float64()),
        inputs=rows.as_columns(first.input_names),
        outputs=outputs,
    )


def prediction_table(
    *,
    request_id: Any,
    row: Any,
    ts: Any,
    endpoint: Any,
    model: Any,
    version: Any,
    shadow: Any,
    latency_ms: Any,
    inputs: Any,
    outputs: Mapping[str, Any],
) -> pa.Table:
    """The log's schema, in one place: meta columns (``ts`` in ms since the epoch) plus the
    ``inputs`` (a frame, an Arrow table or a dict of columns) and ``outputs`` structs."""
    import pyarrow as pa

    return pa.table(
        {
            "request_id": pa.array(request_id, pa.string()),
            "row": pa.array(row, pa.int32()),
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "endpoint": endpoint,
            "model": model,
            "version": version,
            "shadow": pa.array(shadow, pa.bool_()),
            "latency_ms": pa.array(latency_ms, pa.float64()),
            "inputs": _struct(inputs),
            "outputs": _struct(dict(outputs)),
        }
    )


def _struct(data: Any) -> pa.StructArray:
    """A struct column from a DataFrame, an Arrow table or a dict of arrays."""
    import pyarrow as pa

    if isinstance(data, pa.Table | pa.RecordBatch):
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    elif hasattr(data, "dtypes") and hasattr(data, "columns"):
        table = pa.Table.from_pandas(data, preserve_index=False)
    else:
        table = pa.table({str(k): _array(v) for k, v in data.items()})
    arrays = [table.column(i).combine_chunks() for i in range(table.num_columns)]
    if not arrays:
        return pa.StructArray.from_arrays([], fields=[])
    return pa.StructArray.from_arrays(arrays, names=[str(n) for n in table.column_names])


def _array(values: Any) -> pa.Array:
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    arr = np.asarray(values)
    if arr.ndim > 1:
        return pa.array(list(arr))
    if arr.dtype.kind == "O":
        return pa.array(arr.tolist())
    return pa.array(arr)


__all__ = ["prediction_table", "records_to_table"]
