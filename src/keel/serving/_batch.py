"""Batch prediction (RL_5): stream an input through a model in chunks, at constant memory.

Inputs: a Parquet or CSV file, a folder of them, a SQL database URL with a query, or a
registered dataset version (``dataset:customers@3``). Reading, predicting and writing run
as a three-stage pipeline joined by queues of two chunks: the reader decodes the next
chunk and the writer compresses the previous one (both release the GIL) while the model
predicts, so peak memory is a few chunks whatever the input size, and the model is rarely
idle. The output Parquet carries its lineage (model version, input, dataset version) in
its metadata, and with a store the run is recorded as a tracking run linked to the input
dataset version. ``runner="dask"`` spreads a large Parquet input over Dask partitions.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.serving._predict import predict_frame, request_schema
from keel.serving._schema import InputSchema
from keel.serving._source import LoadedModel
from keel.store.projects import existing_project

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.store import Store

_DONE = object()
LINEAGE_KEY = b"keel.lineage"


@dataclass(frozen=True)
class BatchResult:
    rows: int
    chunks: int
    seconds: float
    output: str
    lineage: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class BatchInput:
    """Where rows come from: a chunk iterator, its total row count if known, and lineage."""

    chunks: Callable[[int], Iterator[pa.RecordBatch]]
    total_rows: int | None
    describe: dict[str, Any]
    dataset_version_id: int | None = None


def open_input(
    source: str, *, query: str | None = None, store: Store | None = None, project: str = "default"
) -> BatchInput:
    """Recognise ``source`` (file, folder, SQL URL, ``dataset:name@v``) and stream it."""
    if source.startswith("dataset:"):
        return _dataset_input(source.removeprefix("dataset:"), store, project)
    if "://" in source and not source.startswith("file://"):
        if query is None:
            raise InvalidArgumentError(
                f"input {source!r} is a database URL; give the rows to score with --query "
                '"SELECT ..."'
            )
        return _sql_input(source, query)
    return _file_input(Path(source.removeprefix("file://")))


def _file_input(path: Path) -> BatchInput:
    import pyarrow.parquet as pq

    if not path.exists():
        raise InvalidArgumentError(f"input {str(path)!r} does not exist")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    suffixes = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
    kinds = {suffixes[p.suffix.lower()] for p in files if p.suffix.lower() in suffixes}
    if len(kinds) != 1:
        raise InvalidArgumentError(
            f"input {str(path)!r} must hold Parquet or CSV files, one kind only (found "
            f"{sorted(kinds) or 'none'})"
        )
    fmt = kinds.pop()
    chosen = [str(p) for p in files if suffixes.get(p.suffix.lower()) == fmt]
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in chosen) if fmt == "parquet" else None
    describe = {
        "kind": fmt,
        "path": str(path),
        "files": len(chosen),
        "bytes": sum(Path(p).stat().st_size for p in chosen),
    }

    def chunks(size: int) -> Iterator[pa.RecordBatch]:
        # One file after another, one batch at a time: the dataset scanner (and Parquet's
        # pre_buffer) read ahead by amounts that grow with the input; this does not.
        for name in chosen:
            if fmt == "parquet":
                yield from pq.ParquetFile(name, pre_buffer=False).iter_batches(batch_size=size)
            else:
                yield from _csv_batches(name, size)

    return BatchInput(chunks, total, describe)


def _csv_batches(name: str, size: int) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(name, read_options=pacsv.ReadOptions(block_size=1 << 22))
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending).combine_chunks()
            yield from table.slice(0, size).to_batches()
            rest = table.slice(size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def _sql_input(url: str, query: str) -> BatchInput:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    safe = make_url(url).render_as_string(hide_password=True)

    def chunks(size: int) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(text(query))
                names = list(result.keys())
                while rows := result.fetchmany(size):
                    cols = list(zip(*rows, strict=True))
                    yield pa.RecordBatch.from_pydict(
                        {n: list(c) for n, c in zip(names, cols, strict=True)}
                    )
        finally:
            engine.dispose()

    return BatchInput(chunks, None, {"kind": "sql", "url": safe, "query": query})


def _dataset_input(ref: str, store: Store | None, project: str) -> BatchInput:
    if store is None:
        raise InvalidArgumentError(f"dataset:{ref} needs a keel store to read the dataset from")
    import tempfile

    from keel.data import DatasetClient

    client = DatasetClient(store, existing_project(store.projects, project))
    version = client.get(ref)
    folder = Path(tempfile.mkdtemp(prefix="keel-batch-input-"))
    client.checkout(ref, folder)  # files on disk, not in memory: streaming stays constant
    inner = _file_input(folder)
    describe = {**inner.describe, "kind": "dataset", "dataset": f"{version.ref}", "path": None}
    return BatchInput(inner.chunks, inner.total_rows, describe, dataset_version_id=version.id)


def predict_batch(
    model: LoadedModel,
    source: BatchInput,
    output: str | Path,
    *,
    chunk_rows: int = 65_536,
    keep_columns: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Score every row of ``source`` with ``model`` into the Parquet file ``output``."""
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    lineage = {
        "model": model.name,
        "version": model.version,
        "runtime": model.runtime,
        "input": source.describe,
        "created_at_ms": int(time.time() * 1000),
    }
    start = time.perf_counter()
    inbox: queue.Queue[Any] = queue.Queue(maxsize=2)
    outbox: queue.Queue[Any] = queue.Queue(maxsize=2)
    errors: list[BaseException] = []
    schema = request_schema(model)
    prepare = partial(_prepare, schema, keep=keep_columns)
    reader = threading.Thread(
        target=_read, args=(source, chunk_rows, prepare, inbox, errors), daemon=True
    )
    state = {"rows": 0, "chunks": 0}
    writer = threading.Thread(
        target=_write, args=(out, outbox, lineage, errors, state), daemon=True
    )
    reader.start()
    writer.start()
    try:
        _predict_chunks(model, schema, inbox, outbox, errors, progress)
    finally:
        outbox.put(_DONE)
        writer.join()
        _drain(inbox)
        reader.join()
    if errors:
        raise errors[0]
    return BatchResult(
        state["rows"], state["chunks"], time.perf_counter() - start, str(out), lineage
    )


def _predict_chunks(
    model: LoadedModel,
    schema: InputSchema | None,
    inbox: queue.Queue[Any],
    outbox: queue.Queue[Any],
    errors: list[BaseException],
    progress: Callable[[int], None] | None,
) -> None:
    """Predict each chunk the reader puts in ``inbox`` and hand it to the writer, until the
    reader is done or anything failed (the failure goes to ``errors``)."""
    try:
        while True:
            chunk = inbox.get()
            if chunk is _DONE or errors:
                break
            chunk.outputs = predict_frame(model, chunk.frame, schema=schema)
            chunk.frame = None  # free the input as soon as the model is done with it
            outbox.put(chunk)
            if progress is not None:
                progress(chunk.rows)
    except BaseException as exc:
        errors.append(exc)


@dataclass
class _Chunk:
    """One chunk on its way through the pipeline: the model's frame, the kept columns, and
    (after the model ran) its outputs."""

    rows: int
    frame: Any
    kept: dict[str, Any]
    outputs: dict[str, Any] | None = None


def _prepare(schema: InputSchema | None, batch: pa.RecordBatch, keep: Sequence[str]) -> _Chunk:
    """Reader side: check the columns and build the frame (Arrow -> pandas off the model's
    thread, so the model never waits for a conversion)."""
    names = schema.names if schema is not None else batch.schema.names
    missing = [c for c in [*names, *keep] if c not in batch.schema.names]
    if missing:
        raise InvalidArgumentError(
            f"the input has no column(s) {missing}; it has {batch.schema.names[:30]}"
        )
    frame = batch.select(names).to_pandas()
    return _Chunk(batch.num_rows, frame, {k: batch.column(k) for k in keep})


def _to_table(chunk: _Chunk) -> pa.Table:
    """Writer side: kept columns plus ``prediction`` (or one column per model output)."""
    import pyarrow as pa

    assert chunk.outputs is not None
    cols = dict(chunk.kept)
    single = len(chunk.outputs) == 1
    for name, arr in chunk.outputs.items():
        key = "prediction" if single else name
        cols[key] = pa.array(list(arr)) if arr.ndim > 1 else pa.array(arr)
    return pa.table(cols)


def _read(
    source: BatchInput,
    size: int,
    prepare: Callable[[pa.RecordBatch], _Chunk],
    inbox: queue.Queue[Any],
    errors: list[BaseException],
) -> None:
    try:
        for batch in source.chunks(size):
            if errors:
                return
            if batch.num_rows:
                inbox.put(prepare(batch))
    except BaseException as exc:
        errors.append(exc)
    finally:
        inbox.put(_DONE)


def _write(
    out: Path,
    outbox: queue.Queue[Any],
    lineage: dict[str, Any],
    errors: list[BaseException],
    state: dict[str, int],
) -> None:
    import pyarrow.parquet as pq

    writer = None
    tmp = out.with_name(f".{out.name}.partial")
    try:
        while (chunk := outbox.get()) is not _DONE:
            if errors:
                continue
            table = _to_table(chunk)
            if writer is None:
                schema = table.schema.with_metadata({LINEAGE_KEY: json.dumps(lineage).encode()})
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            writer.write_table(
                table.cast(writer.schema) if table.schema != writer.schema else table
            )
            state["rows"] += table.num_rows
            state["chunks"] += 1
        if writer is not None:
            writer.close()
            writer = None
            if not errors:
                tmp.replace(out)
    except BaseException as exc:
        errors.append(exc)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)


def _drain(q: queue.Queue[Any]) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def read_lineage(path: str | Path) -> dict[str, Any]:
    """The lineage a batch prediction wrote into its output's metadata."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(LINEAGE_KEY)
    return json.loads(raw) if raw else {}


def record_run(
    store: Store,
    project: str,
    result: BatchResult,
    describe: dict[str, Any],
    dataset_version_id: int | None,
    model_ref: str,
) -> str:
    """A tracking run for the batch job, linked to the input dataset version (lineage)."""
    from keel.tracking import TrackingClient

    client = TrackingClient(store, project)
    info = client.create_run("batch-predictions", name=f"predict {model_ref}")
    client.log_params(
        info.id,
        {
            "model": result.lineage["model"],
            "model_version": result.lineage["version"],
            "model_ref": model_ref,
            "input": json.dumps(describe, default=str)[:8000],
            "output": result.output,
            "runtime": result.lineage["runtime"],
        },
    )
    client.log_metrics(
        info.id,
        {"rows": float(result.rows), "seconds": result.seconds, "rows_per_s": result.rows_per_s},
    )
    client.set_tags(
        info.id,
        {
            "keel.kind": "batch-prediction",
            "keel.model": f"{result.lineage['model']}/{result.lineage['version']}",
        },
    )
    if dataset_version_id is not None:
        store.runs.link_dataset(info.id, dataset_version_id, "input")
    client.end_run(info.id)
    return info.id


def predict_dask(
    load: Callable[[], LoadedModel],
    input_path: str,
    output_dir: str,
    *,
    keep_columns: Sequence[str] = (),
    scheduler: str | None = None,
) -> int:
    """Score a large Parquet input partition by partition on Dask; returns the row count.

    ``load`` runs once per worker process (models are loaded where they predict, never
    shipped as pickles); ``scheduler`` is a ``tcp://`` address or None for local threads.
    """
    import dask.dataframe as dd

    client = None
    if scheduler:
        from distributed import Client

        client = Client(scheduler)
    try:
        frame = dd.read_parquet(input_path)
        model = load()
        sample = frame.head(2)
        meta = _score_frame(model, sample, keep_columns).iloc[:0]
        scored = frame.map_partitions(_score_partition, load, list(keep_columns), meta=meta)
        scored.to_parquet(output_dir, write_index=False)
        return int(scored.map_partitions(len).sum().compute())
    finally:
        if client is not None:
            client.close()


_WORKER_MODELS: dict[int, LoadedModel] = {}


def _score_partition(part: Any, load: Callable[[], LoadedModel], keep: list[str]) -> Any:
    model = _WORKER_MODELS.get(id(load))
    if model is None:
        model = _WORKER_MODELS[id(load)] = load()
    return _score_frame(model, part, keep)


def _score_frame(model: LoadedModel, part: Any, keep: Sequence[str]) -> Any:
    import pandas as pd

    outs = predict_frame(model, part)
    cols = {k: part[k].to_numpy() for k in keep}
    for name, arr in outs.items():
        cols["prediction" if len(outs) == 1 else name] = list(arr) if arr.ndim > 1 else arr
    return pd.DataFrame(cols)


__all__ = [
    "BatchInput",
    "BatchResult",
    "open_input",
    "predict_batch",
    "predict_dask",
    "read_lineage",
    "record_run",
]
