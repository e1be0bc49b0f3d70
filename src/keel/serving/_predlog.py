"""The prediction log: every answered request's rows, written as Parquet off the request path.

Layout (the contract ``keel predictions sql`` and the monitors read)::

    <artifacts_uri>/predictions/deployment=<name>/date=<YYYY-MM-DD>/part-<ms>-<pid>-<n>.parquet

one row per predicted input row, with columns ``request_id``, ``row`` (position in the
request), ``ts`` (UTC), ``endpoint``, ``model``, ``version``, ``shadow``, ``latency_ms``,
``inputs`` (a struct of the input columns) and ``outputs`` (a struct of the model outputs).
One file holds one model version, so its structs have one type; DuckDB unifies them by name.

:meth:`PredictionLog.log` only appends a reference to a bounded in-memory buffer (the
request never waits on disk); a background thread converts and writes batches every
``flush_s`` seconds or when the buffer fills, each file under a temporary name first so a
reader never sees half a file. When the buffer is full, new records are dropped and
counted (``keel_prediction_log_dropped_total``) instead of slowing requests. ``close()``
writes everything still buffered: nothing is lost on a graceful shutdown.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.serving._schema import Rows

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.serving._metrics import ServingMetrics

_SEQ = itertools.count()
CHUNK_RECORDS = 2048


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One request as answered: references only, converted later by the writer thread."""

    deployment: str
    endpoint: str
    model: str
    version: str
    request_id: str
    ts_ms: int
    latency_ms: float
    shadow: bool
    rows: Rows
    input_names: Sequence[str] | None
    outputs: dict[str, np.ndarray]


def log_root(artifacts_uri: str) -> str:
    return artifacts_uri.rstrip("/") + "/predictions"


class PredictionLog:
    """A bounded buffer drained to Parquet partitions by one background thread."""

    def __init__(
        self,
        artifacts_uri: str,
        *,
        flush_s: float = 2.0,
        buffer_rows: int = 200_000,
        metrics: ServingMetrics | None = None,
    ) -> None:
        import fsspec

        self.root = log_root(artifacts_uri)
        self._fs, self._base = fsspec.core.url_to_fs(self.root)
        self._flush_s = flush_s
        self._max_rows = buffer_rows
        self._buf: deque[LogRecord] = deque()
        self._rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._metrics = metrics
        self.written_rows = 0
        self.dropped_rows = 0
        self.files: list[str] = []
        self.last_error: str | None = None

    def log(self, record: LogRecord) -> bool:
        """Buffer one record; False (and counted) when the buffer is full."""
        n = record.rows.n
        with self._lock:
            if self._rows + n > self._max_rows:
                self.dropped_rows += n
                if self._metrics is not None:
                    self._metrics.log_dropped.inc(n)
                return False
            self._rows += n
        self._buf.append(record)
        if self._rows * 2 >= self._max_rows:
            self._wake.set()
        return True

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="keel-prediction-log", daemon=True
            )
            self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the thread after writing every buffered record."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_s)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write what is buffered now; returns the rows written."""
        records: list[LogRecord] = []
        while True:
            try:
                records.append(self._buf.popleft())
            except IndexError:
                break
        if not records:
            return 0
        with self._lock:
            self._rows -= sum(r.rows.n for r in records)
        groups: dict[tuple[str, str, str, str], list[LogRecord]] = {}
        for r in records:
            day = dt.datetime.fromtimestamp(r.ts_ms / 1000, dt.UTC).strftime("%Y-%m-%d")
            groups.setdefault((r.deployment, day, r.model, r.version), []).append(r)
        written = 0
        for (deployment, day, _m, _v), group in groups.items():
            try:
                written += self._write(deployment, day, group)
            except Exception as exc:  # a failing disk must not kill the server; count it
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.dropped_rows += sum(r.rows.n for r in group)
                if self._metrics is not None:
                    self._metrics.log_dropped.inc(sum(r.rows.n for r in group))
        return written

    def _write(self, deployment: str, day: str, group: list[LogRecord]) -> int:
        """One Parquet file for one model version and day, built in slices of
        :data:`CHUNK_RECORDS` records with a pause between them: converting holds the GIL,
        and the event loop must get it back quickly."""
        import pyarrow.parquet as pq

        folder = f"{self._base}/deployment={deployment}/date={day}"
        self._fs.makedirs(folder, exist_ok=True)
        name = f"part-{int(time.time() * 1000)}-{os.getpid()}-{next(_SEQ):06d}"
        final = f"{folder}/{name}.parquet"
        tmp = f"{folder}/.{name}-{uuid.uuid4().hex[:8]}.tmp"
        rows = 0
        writer: Any = None
        with self._fs.open(tmp, "wb") as fh:
            for i in range(0, len(group), CHUNK_RECORDS):
                table = records_to_table(group[i : i + CHUNK_RECORDS])
                if writer is None:
                    writer = pq.ParquetWriter(fh, table.schema, compression="zstd")
                elif table.schema != writer.schema:
                    table = table.cast(writer.schema)
                writer.write_table(table)
                rows += table.num_rows
                time.sleep(0.001)
            if writer is not None:
                writer.close()
        self._fs.mv(tmp, final)
        self.files.append(final)
        self.written_rows += rows
        if self._metrics is not None:
            self._metrics.log_rows.inc(rows)
        return rows


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
    rows = Rows.concat([r.rows for r in records])
    keys = [k for k in first.outputs if all(k in r.outputs for r in records)]
    outputs = {k: np.concatenate([r.outputs[k] for r in records]) for k in keys}
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(int(counts.sum()), dtype=np.int32) - np.repeat(starts, counts).astype(
        np.int32
    )
    return pa.table(
        {
            "request_id": per_record([r.request_id for r in records], pa.string()),
            "row": pa.array(position),
            "ts": per_record([r.ts_ms for r in records], pa.int64()).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "endpoint": constant([r.endpoint for r in records]),
            "model": constant([r.model for r in records]),
            "version": constant([r.version for r in records]),
            "shadow": per_record([r.shadow for r in records], pa.bool_()),
            "latency_ms": per_record([r.latency_ms for r in records], pa.float64()),
            "inputs": _struct(rows.as_columns(first.input_names)),
            "outputs": _struct(outputs),
        }
    )


def _struct(columns: dict[str, Any]) -> pa.Array:
    import pyarrow as pa

    if not columns:
        return pa.nulls(0, pa.struct([]))
    arrays = []
    for v in columns.values():
        arr = np.asarray(v)
        if arr.ndim > 1:
            arrays.append(pa.array(list(arr)))
        elif arr.dtype.kind == "M":
            arrays.append(pa.array(arr))
        elif arr.dtype.kind == "O":
            arrays.append(pa.array(arr.tolist()))
        else:
            arrays.append(pa.array(arr))
    return pa.StructArray.from_arrays(arrays, names=[str(k) for k in columns])


__all__ = ["LogRecord", "PredictionLog", "log_root", "records_to_table"]
