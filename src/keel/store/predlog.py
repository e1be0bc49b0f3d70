"""The prediction log: its schema, its writers and its reader, in one place.

Layout (what serving writes, and ``keel sql``, the monitors and feedback read)::

    <artifacts_uri>/predictions/deployment=<name>/date=<YYYY-MM-DD>/part-<ms>-<pid>-<n>.parquet

one row per predicted input row, with columns ``request_id``, ``row`` (position in the
request), ``ts`` (UTC), ``endpoint``, ``model``, ``version``, ``shadow``, ``latency_ms``,
``inputs`` (a struct of the input columns) and ``outputs`` (a struct of the model outputs).
One file holds one model version, so its structs have one type; DuckDB unifies them by name.

Two writers share :func:`prediction_table`: :class:`PredictionLog`, the server's buffered
writer, and :func:`write_predictions`, for batch jobs, imports and tests.
:meth:`PredictionLog.log` only appends a reference to a bounded in-memory buffer (the
request never waits on disk); a background thread converts and writes batches every
``flush_s`` seconds or when the buffer fills, each file under a temporary name first so a
reader never sees half a file. When the buffer is full, new records are dropped and
counted (``keel_prediction_log_dropped_total``) instead of slowing requests. ``close()``
writes everything still buffered: nothing is lost on a graceful shutdown.

The reader, :func:`iter_window`, streams a window as Arrow record batches with the structs
flattened (inputs keep their names; an output whose name clashes with an input becomes
``output.<name>``), so profiling a day of traffic takes the memory of one batch.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.store._predlog_tables import prediction_table, records_to_table
from keel.store.eventlog import (
    DAY_MS,
    EventLog,
    Window,
    arrow_reader,
    day_of,
    sql_list,
)

if TYPE_CHECKING:
    import pyarrow as pa

PREDICTIONS = "predictions"
META_COLUMNS = ("request_id", "row", "ts", "endpoint", "model", "version", "shadow", "latency_ms")
BATCH_ROWS = 65_536


class LoggedRows(Protocol):
    """The rows of one request as serving holds them (``keel.serving``'s ``Rows``)."""

    @property
    def n(self) -> int: ...

    def as_columns(self, names: Sequence[str] | None = None) -> dict[str, Any]: ...

    @staticmethod
    def concat(parts: Sequence[Any]) -> Any: ...


class Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class LogMetrics(Protocol):
    """Where the writer counts rows written and dropped (serving's Prometheus counters)."""

    @property
    def log_rows(self) -> Counter: ...

    @property
    def log_dropped(self) -> Counter: ...


_SEQ = itertools.count()
_DAY_MS = 86_400_000
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
    rows: LoggedRows
    input_names: Sequence[str] | None
    outputs: dict[str, np.ndarray]


def log_root(artifacts_uri: str) -> str:
    return artifacts_uri.rstrip("/") + "/" + PREDICTIONS


class PredictionLog:
    """A bounded buffer drained to Parquet partitions by one background thread."""

    def __init__(
        self,
        artifacts_uri: str,
        *,
        flush_s: float = 2.0,
        buffer_rows: int = 200_000,
        metrics: LogMetrics | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """``metadata`` is written into every Parquet file's key-value metadata (e.g. the
        trust policy the served models were loaded under)."""
        import fsspec

        self._file_metadata = {str(k): str(v) for k, v in (metadata or {}).items()}
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
        groups: dict[tuple[str, int, str, str], list[LogRecord]] = {}
        for r in records:  # by UTC day number; the date is formatted once per group
            groups.setdefault((r.deployment, r.ts_ms // _DAY_MS, r.model, r.version), []).append(r)
        written = 0
        for (deployment, day_number, _m, _v), group in groups.items():
            day = dt.datetime.fromtimestamp(day_number * 86_400, dt.UTC).strftime("%Y-%m-%d")
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
                    schema = table.schema
                    if self._file_metadata:
                        schema = schema.with_metadata(
                            {**(schema.metadata or {}), **self._file_metadata}
                        )
                    writer = pq.ParquetWriter(fh, schema, compression="zstd")
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


# -- the writer for batch jobs, imports and tests ------------------------------------------


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
    import pyarrow as pa

    n = _num_rows(inputs)
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
    table = prediction_table(
        request_id=ids,
        row=np.zeros(n, dtype=np.int32),
        ts=ts,
        endpoint=pa.array([endpoint or deployment] * n, pa.string()),
        model=pa.array([model] * n, pa.string()),
        version=pa.array([str(version)] * n, pa.string()),
        shadow=np.full(n, shadow),
        latency_ms=np.array(lat),
        inputs=inputs,
        outputs=outputs,
    )
    return _write_byday_of(EventLog(settings.artifacts_uri, PREDICTIONS), deployment, table, ts)


def _write_byday_of(log: EventLog, deployment: str, table: pa.Table, ts: np.ndarray) -> list[str]:
    """One file per UTC day, in that day's partition."""
    import pyarrow as pa

    days = ts // DAY_MS
    return [
        log.write(deployment, table.filter(pa.array(days == day)), day=day_of(int(day) * DAY_MS))
        for day in np.unique(days)
    ]


def _num_rows(data: Any) -> int:
    if hasattr(data, "num_rows"):
        return int(data.num_rows)
    if hasattr(data, "shape") and hasattr(data, "columns"):
        return int(data.shape[0])
    lengths = {len(v) for v in data.values()}
    if len(lengths) > 1:
        raise InvalidArgumentError(f"input columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


# -- the reader ----------------------------------------------------------------------------


def iter_window(
    log: EventLog,
    deployment: str,
    window: Window,
    *,
    shadow: bool | None = False,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The window's rows as flattened record batches (``shadow=None``: both kinds)."""
    files = log.files(deployment, window)
    if not files:
        return
    con = log.connect()
    try:
        where = "ts >= to_timestamp(? / 1000.0) AND ts < to_timestamp(? / 1000.0)"
        if shadow is not None:
            where += " AND shadow = " + ("true" if shadow else "false")
        query = (
            f"SELECT * FROM read_parquet({sql_list(files)}, union_by_name = true, "
            "hive_partitioning = false) "
            f"WHERE {where} ORDER BY ts"
        )
        result = con.sql(query, params=[window.start_ms, window.end_ms])
        for batch in arrow_reader(result, batch_rows):
            if batch.num_rows:
                yield flatten(batch)
    finally:
        con.close()


def read_window(
    log: EventLog, deployment: str, window: Window, *, shadow: bool | None = False
) -> pa.Table:
    """The whole window as one flattened table (for windows that fit in memory)."""
    import pyarrow as pa

    batches = list(iter_window(log, deployment, window, shadow=shadow))
    if not batches:
        return pa.table({c: pa.array([], pa.string()) for c in ("request_id",)})
    return pa.Table.from_batches(batches)


def flatten(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Inputs and outputs structs as top-level columns (see the module doc for names).

    The schema metadata records which columns were inputs and which outputs.
    """
    import pyarrow as pa

    schema = batch.schema
    names = [n for n in schema.names if n not in ("inputs", "outputs")]
    arrays = [batch.column(n) for n in names]
    roles: dict[str, list[str]] = {"inputs": [], "outputs": []}
    for struct_name in ("inputs", "outputs"):
        col = batch.column(struct_name) if struct_name in schema.names else None
        if col is None or not pa.types.is_struct(col.type):
            continue
        for i in range(col.type.num_fields):
            field = col.type.field(i).name
            out = field
            if field in META_COLUMNS or (struct_name == "outputs" and field in roles["inputs"]):
                out = f"{struct_name[:-1]}.{field}"
            roles[struct_name].append(out)
            names.append(out)
            arrays.append(col.field(i))
    meta = {f"keel.{k}".encode(): json.dumps(v).encode() for k, v in roles.items()}
    fields = [pa.field(n, a.type) for n, a in zip(names, arrays, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields, metadata=meta))


def column_roles(schema: pa.Schema) -> tuple[list[str], list[str]]:
    """(input columns, output columns) of a flattened batch."""
    meta = schema.metadata or {}
    inputs = json.loads(meta.get(b"keel.inputs", b"[]"))
    outputs = json.loads(meta.get(b"keel.outputs", b"[]"))
    if not inputs and not outputs:
        inputs = [n for n in schema.names if n not in META_COLUMNS]
    return inputs, outputs


def input_columns(batch_schema: pa.Schema, meta: Sequence[str] = META_COLUMNS) -> list[str]:
    return [n for n in batch_schema.names if n not in meta]


__all__ = [
    "META_COLUMNS",
    "PREDICTIONS",
    "LogRecord",
    "PredictionLog",
    "column_roles",
    "flatten",
    "input_columns",
    "iter_window",
    "log_root",
    "prediction_table",
    "read_window",
    "records_to_table",
    "write_predictions",
]
