"""The use cases behind ``keel predict`` and ``keel stream``: resolve, load, run, record.

The CLI parses options, calls one of these and renders what it returns; everything in
between (which model version a reference means, where rows come from, the prediction
log, signals, lineage) happens here, so the SDK and the CLI behave the same.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keel.exceptions import InvalidArgumentError
from keel.serving._batch import (
    BatchInput,
    BatchResult,
    open_input,
    predict_batch,
    predict_dask,
    record_run,
)
from keel.serving._deploy import load_model
from keel.serving._source import LoadedModel

if TYPE_CHECKING:
    from keel.config import Settings
    from keel.serving._stream import StreamStats
    from keel.store import Store

RUNNERS = ("local", "dask")


@dataclass(frozen=True)
class ModelLoader:
    """Loads a model where it predicts (each Dask worker); Dask names it by its reference."""

    store: Store
    project: str
    ref: str
    trust: str = "strict"

    def __call__(self) -> LoadedModel:
        return load_model(self.store, self.project, self.ref, trust=self.trust)

    def __dask_tokenize__(self) -> tuple[str, str, str]:
        return ("keel-model", self.project, self.ref)


@dataclass
class BatchJob:
    """One batch prediction, its model loaded and its input opened (``total_rows`` known
    before it runs, for a progress bar)."""

    store: Store
    project: str
    model_ref: str
    model: LoadedModel
    input: str
    source: BatchInput | None  # None on Dask: partitions are read where they are scored

    @property
    def total_rows(self) -> int | None:
        return self.source.total_rows if self.source is not None else None

    def run(
        self,
        output: str | Path,
        *,
        chunk_rows: int = 65_536,
        keep_columns: Sequence[str] = (),
        scheduler: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> BatchResult:
        """Score every row into ``output`` and record the job as a tracking run."""
        if self.source is None:
            result = self._run_dask(str(output), keep_columns, scheduler)
            describe: dict[str, object] = {"kind": "parquet", "path": self.input, "runner": "dask"}
            run_id = record_run(self.store, self.project, result, describe, None, self.model_ref)
        else:
            result = predict_batch(
                self.model,
                self.source,
                output,
                chunk_rows=chunk_rows,
                keep_columns=keep_columns,
                progress=progress,
            )
            run_id = record_run(
                self.store,
                self.project,
                result,
                self.source.describe,
                self.source.dataset_version_id,
                self.model_ref,
            )
        return dataclasses.replace(result, run_id=run_id)

    def _run_dask(self, output: str, keep: Sequence[str], scheduler: str | None) -> BatchResult:
        store, project, ref = self.store, self.project, self.model_ref
        start = time.perf_counter()
        rows = predict_dask(
            ModelLoader(store, project, ref),
            self.input,
            output,
            keep_columns=keep,
            scheduler=scheduler,
        )
        lineage = {
            "model": self.model.name,
            "version": self.model.version,
            "runtime": self.model.runtime,
            "input": {"kind": "parquet", "path": self.input, "runner": "dask"},
            "created_at_ms": int(time.time() * 1000),
        }
        return BatchResult(rows, 0, time.perf_counter() - start, output, lineage)


def prepare_batch(
    store: Store,
    project: str,
    model_ref: str,
    input_: str,
    *,
    query: str | None = None,
    runner: str = "local",
    trust: str = "strict",
) -> BatchJob:
    """Resolve and load ``model_ref`` and open ``input_`` (a file, folder, SQL URL with
    ``query``, or ``dataset:NAME@V``); ``runner="dask"`` reads a Parquet input there."""
    if runner not in RUNNERS:
        raise InvalidArgumentError(f"runner {runner!r} is unknown; use local or dask")
    model = load_model(store, project, model_ref, trust=trust)
    source = None
    if runner == "local":
        source = open_input(input_, query=query, store=store, project=project)
    return BatchJob(store, project, model_ref, model, input_, source)


def run_stream(
    store: Store,
    settings: Settings,
    model_ref: str,
    source: str,
    sink: str,
    *,
    consumer: str | None = None,
    batch_size: int = 256,
    max_sink_len: int | None = None,
    max_messages: int | None = None,
    idle_exit_s: float | None = None,
    log: bool = True,
    on_start: Callable[[str], None] | None = None,
    trust: str = "strict",
) -> StreamStats:
    """Score the ``source`` stream into ``sink`` until SIGTERM/SIGINT (when run in the main
    thread), ``max_messages`` or ``idle_exit_s``; the prediction log is flushed at the end."""
    from keel.serving._stream import StreamWorker, parse_stream_url
    from keel.store.predlog import PredictionLog

    name = consumer or f"{socket.gethostname()}-{os.getpid()}"
    src = parse_stream_url(source, default_consumer=name)
    dst = parse_stream_url(sink, default_consumer=name)
    loaded = load_model(store, settings.project, model_ref, trust=trust)
    plog = PredictionLog(settings.artifacts_uri) if log else None
    worker = StreamWorker(
        loaded,
        src,
        dst,
        batch_size=batch_size,
        max_sink_len=max_sink_len,
        prediction_log=plog,
        deployment=f"stream-{loaded.name}",
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        signal.signal(signal.SIGINT, lambda *_: worker.stop())
    if on_start is not None:
        on_start(
            f"{loaded.key}: {src.stream} -> {dst.stream} (group {src.group}, consumer "
            f"{src.consumer})"
        )
    if plog is not None:
        plog.start()
    try:
        return worker.run(max_messages=max_messages, idle_exit_s=idle_exit_s)
    finally:
        if plog is not None:
            plog.close()


__all__ = ["BatchJob", "prepare_batch", "run_stream"]
