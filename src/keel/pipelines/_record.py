"""Recording a pipeline run: a parent tracking run, one child run per step, the step rows
and the lineage edges to dataset versions.

Step rows of cached steps are buffered and written together (one transaction for many
steps). A step that runs in another process is written before it starts and when it ends,
so ``keel pipeline runs`` shows it live. A step that runs in this process has its run and
row written once, when it ends, if it ends within :data:`START_AFTER_S`; a longer one is
written as started by a watcher thread at that point (or as soon as the step itself writes
to its run), so other readers see it RUNNING while it runs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keel.exceptions import KeelError, NotFoundError
from keel.pipelines._fingerprint import data_label
from keel.store import Metric, RunStatus, Store
from keel.store._db import now_ms
from keel.store.entities import DatasetVersion
from keel.store.pipelines import StepRunInfo, StepStatus
from keel.store.runs import ChildRun
from keel.tracking import TrackingClient
from keel.tracking._capture import Capture, capture
from keel.tracking._lifecycle import forget, keep_alive, owner_tags
from keel.tracking._steprun import StepRecords

_PARAM_TEXT = 500
#: Tags of the pipeline run every step run repeats, so a model logged in a step knows
#: the code, entry point and pipeline that made it.
_SOURCE_TAGS = ("keel.git.", "keel.source.")
_NOT_IN_KEY = re.compile(r"[^\w .\-/:()\[\]@,+=]")
#: A step run in this process that is still running after this long is written as started.
START_AFTER_S = 0.5
log = logging.getLogger(__name__)


@dataclass
class _Start:
    """A step run whose start is not written yet."""

    run_id: str
    node: str
    tags: dict[str, str]
    params: dict[str, str]
    started: int
    due: float  # time.monotonic() when the watcher writes it
    row: StepRunInfo | None = None


@dataclass
class _Ended:
    """What an ended step logged, written right after its run is created."""

    run_id: str
    params: dict[str, str]
    tags: dict[str, str]
    logged: StepRecords = field(default_factory=StepRecords)


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user database entry in some containers
        return os.environ.get("USER", "")


def param_text(value: Any) -> str:
    """A param as one line of text: data (a dataset version, a DataFrame, an array) by
    what identifies it (see :func:`data_label`), at any depth, never by its ``str()``."""
    label = data_label(value)
    if label is not None:
        return label
    try:
        text = json.dumps(value, sort_keys=True, default=_json_default)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _PARAM_TEXT else text[: _PARAM_TEXT - 3] + "..."


def _tags(
    pipeline: str,
    target: str,
    texts: Mapping[str, str],
    runner: Mapping[str, Any],
    tags: Mapping[str, str] | None,
    cap: Capture | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """The tags every step run carries (pipeline, target, params, the source's git tags) and
    those of the pipeline's own run (the captured environment, owner, runner, caller's)."""
    step_tags = {
        "keel.pipeline": pipeline,
        "keel.pipeline.target": target,
        "keel.pipeline.params": json.dumps(texts, sort_keys=True),
    }
    if cap is not None:
        step_tags.update({k: v for k, v in cap.tags.items() if k.startswith(_SOURCE_TAGS)})
    run_tags = {
        **(cap.tags if cap is not None else {}),
        **owner_tags(),
        **step_tags,
        "keel.pipeline.runner": str(runner.get("runner", "")),
        **(tags or {}),
    }
    return step_tags, run_tags


def _json_default(value: Any) -> str:
    label = data_label(value)
    return label if label is not None else str(value)


def dataset_versions(value: Any) -> list[int]:
    """Ids of the dataset versions a param holds, at any depth (its lineage edges)."""
    if isinstance(value, DatasetVersion):
        return [value.id]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [i for v in value for i in dataset_versions(v)]
    if isinstance(value, dict):
        return [i for v in value.values() for i in dataset_versions(v)]
    return []


class Recorder:
    """Writes what one pipeline run does to the tracking store and the pipeline tables."""

    def __init__(
        self,
        client: TrackingClient,
        *,
        pipeline: str,
        experiment: str,
        target: str,
        runner: Mapping[str, Any],
        params: Mapping[str, Any],
        n_steps: int,
        tags: Mapping[str, str] | None = None,
        capture_env: bool = True,
    ) -> None:
        self.client = client
        self.store: Store = client.store
        texts = {k: param_text(v) for k, v in params.items()}
        cap = capture(Path.cwd(), requirements=False) if capture_env else None
        self.step_tags, run_tags = _tags(pipeline, target, texts, runner, tags, cap)
        info = client.create_run(experiment, name=pipeline, tags=run_tags)
        self.run_id = info.id
        self.experiment_id = info.experiment_id
        keep_alive(self.run_id, lambda key, value: client.set_tag(info.id, key, value))
        # The uncommitted diff is stored once a step runs: a fully cached re-run made nothing
        # new to reproduce, and stays a few driver-level statements.
        self._files = dict(cap.files) if cap is not None else {}
        if params:
            client.log_params(self.run_id, texts)
        self.store.pipeline_runs.start(
            self.run_id,
            project_id=client.project.id,
            pipeline=pipeline,
            target=target,
            runner=str(runner.get("runner", "")),
            params=texts,
            n_steps=n_steps,
        )
        self._init_buffers()
        # dataset versions passed as the pipeline's params are its inputs, as a step's are
        self.link(None, dict.fromkeys(dataset_versions(dict(params))), "input")

    def _init_buffers(self) -> None:
        self.user = _user()
        self._buffer: dict[str, StepRunInfo] = {}
        self._new_runs: list[ChildRun] = []
        self._links: list[tuple[str | None, int, str]] = []
        self._linked: set[tuple[int, str]] = set()
        self._latest: dict[str, dict[str, float]] = {}  # node -> metrics its run logged
        self._reused: dict[str, str] = {}  # node of a cached step -> the run it reused
        # step runs of this process not written yet, and the thread that writes their start
        self._lock = threading.RLock()
        self._pending: dict[str, _Start] = {}
        self._ended: list[_Ended] = []
        self._wake = threading.Event()
        self._closed = False
        self._watcher: threading.Thread | None = None

    # -- child runs --------------------------------------------------------------------------
    def finished_child(self, node: str, *, tags: Mapping[str, str]) -> str:
        """A child run for a step answered from the cache, created at the next flush."""
        ts = now_ms()
        run_id = uuid.uuid4().hex
        self._new_runs.append(self._child(run_id, node, RunStatus.FINISHED, ts, ts, tags))
        return run_id

    def _child(
        self,
        run_id: str,
        node: str,
        status: RunStatus,
        start: int,
        end: int | None,
        tags: Mapping[str, str],
    ) -> ChildRun:
        """The row of a step's run, child of the pipeline run, to write in a batch."""
        return ChildRun(
            id=run_id,
            experiment_id=self.experiment_id,
            parent_id=self.run_id,
            name=node,
            status=status.value,
            start_time=start,
            end_time=end,
            user=self.user,
            tags=dict(tags),
        )

    def pending_child(
        self, node: str, *, tags: Mapping[str, str], params: Mapping[str, Any] | None = None
    ) -> str:
        """A step run in this process: its id now, the run itself when the step ends (or,
        for a step still running after :data:`START_AFTER_S`, at that point)."""
        self._store_files()
        run_id = uuid.uuid4().hex
        start = _Start(
            run_id,
            node,
            dict(tags),
            {k: param_text(v) for k, v in (params or {}).items()},
            now_ms(),
            time.monotonic() + START_AFTER_S,
        )
        with self._lock:
            self._pending[run_id] = start
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="keel-step-runs", daemon=True
                )
                self._watcher.start()
        self._wake.set()
        return run_id

    def start_row(self, info: StepRunInfo) -> None:
        """The step row to write with a pending run's start."""
        with self._lock:
            start = self._pending.get(str(info.run_id))
            if start is not None:
                start.row = info
                return
        self.step(info, now=True)

    def ensure_started(self, run_id: str) -> None:
        """Write a pending run's start now (the step is about to write to its run)."""
        with self._lock:
            start = self._pending.pop(run_id, None)
            if start is not None:
                self._write_start(start)

    def _write_start(self, start: _Start) -> None:
        child = self._child(
            start.run_id, start.node, RunStatus.RUNNING, start.started, None, start.tags
        )
        rows = [start.row] if start.row is not None else []
        self.store.pipeline_runs.record_steps(self.run_id, rows, new_runs=[child])
        if start.params:
            self.store.runs.log_batch(start.run_id, params=start.params)
        self._write_links(only={start.run_id, self.run_id})

    def _watch(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                due = min((p.due for p in self._pending.values()), default=None)
            wait = None if due is None else max(0.0, due - time.monotonic())
            if self._wake.wait(wait):
                self._wake.clear()
                continue
            with self._lock:
                now = time.monotonic()
                for start in [p for p in self._pending.values() if p.due <= now]:
                    del self._pending[start.run_id]
                    try:
                        self._write_start(start)
                    except Exception as exc:  # the end writes the run anyway
                        log.warning("could not record the start of step %s: %s", start.node, exc)

    def _store_files(self) -> None:
        if self._files:
            files, self._files = self._files, {}
            items = [(path, self.store.blobs.put_bytes(data)) for path, data in files.items()]
            self.store.artifacts.add(self.run_id, items)

    def child_run(
        self,
        node: str,
        *,
        status: RunStatus,
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> str:
        self._store_files()
        info = self.store.runs.create(
            self.experiment_id,
            name=node,
            parent_id=self.run_id,
            user=self.user,
            tags=dict(tags),
            status=status,
        )
        if params:
            self.store.runs.log_batch(info.id, params={k: param_text(v) for k, v in params.items()})
        if status.is_terminal:
            self.store.runs.update(info.id, end_time=info.start_time)
        return info.id

    def end_child(
        self,
        run_id: str,
        status: RunStatus,
        tags: Mapping[str, str],
        node: str = "",
        logged: StepRecords | None = None,
    ) -> None:
        """End a step's run, writing what the step logged in the same batch as its tags."""
        logged = logged or StepRecords()
        if node and logged.latest:
            self._latest[node] = dict(logged.latest)
        with self._lock:
            start = self._pending.pop(run_id, None)
        if start is not None:  # created ended, with the step row, at the next flush
            end = max(now_ms(), start.started)
            all_tags = {**start.tags, **tags}
            self._new_runs.append(
                self._child(run_id, start.node, status, start.started, end, all_tags)
            )
            self._ended.append(_Ended(run_id, start.params, dict(tags), logged))
            return
        self._log_step(run_id, metrics=logged.metrics, tags={**logged.tags, **tags}, keep=tags)
        self.store.runs.update(run_id, status=status)

    def _log_step(
        self,
        run_id: str,
        *,
        metrics: list[Metric],
        tags: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        keep: Mapping[str, str] | None = None,
    ) -> None:
        """One batch of what a step logged; a bad key it logged must not lose the step's
        outcome: the run then gets ``keep`` (its status tags) and the error as a tag."""
        try:
            self.store.runs.log_batch(run_id, metrics=metrics, params=params, tags=dict(tags))
        except KeelError as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.store.runs.set_tags(run_id, {**(keep or {}), "keel.step.logging_error": error})

    def _write_ended(self) -> None:
        """Params, metrics and tags of step runs just created ended: one batch each."""
        ended, self._ended = self._ended, []
        for e in ended:
            if not (e.params or e.logged.metrics or e.logged.tags):
                continue
            self._log_step(e.run_id, metrics=e.logged.metrics, tags=e.logged.tags, params=e.params)

    def reused(self, node: str, run_id: str) -> None:
        """A cached step answered from ``run_id``: its metrics still count for this run."""
        self._reused[node] = run_id

    def _roll_up(self) -> None:
        """The steps' metrics on the pipeline run, as ``<step>.<metric>``, cached or not."""
        latest = dict(self._latest)
        if self._reused:
            for node, metrics in self._reused_metrics().items():
                latest.setdefault(node, metrics)
        ts = now_ms()
        rows = [
            Metric(f"{_NOT_IN_KEY.sub('_', node)}.{key}", value, 0, ts)
            for node, metrics in latest.items()
            for key, value in metrics.items()
            if not key.startswith("system.")
        ]
        if rows:
            self.store.runs.log_batch(self.run_id, metrics=rows)

    def _reused_metrics(self) -> dict[str, dict[str, float]]:
        ids = list(dict.fromkeys(self._reused.values()))
        try:
            runs = {r.id: r for r in self.store.runs.get_many(ids)}
        except NotFoundError:  # a reused run was deleted: read the others one by one
            runs = {}
            for run_id in ids:
                try:
                    runs[run_id] = self.store.runs.get(run_id)
                except NotFoundError:
                    continue
        return {node: dict(runs[rid].metrics) for node, rid in self._reused.items() if rid in runs}

    # -- lineage -----------------------------------------------------------------------------
    def link(self, run_id: str | None, version_ids: Iterable[int], direction: str) -> None:
        """Lineage edges from a step run (and the pipeline run) to dataset versions."""
        for vid in version_ids:
            self._links.append((run_id, vid, direction))
            if (vid, direction) not in self._linked:
                self._linked.add((vid, direction))
                self._links.append((self.run_id, vid, direction))
        if not self._new_runs and not self._pending:
            self._write_links()

    def _write_links(self, only: set[str] | None = None) -> None:
        """Write the buffered lineage edges of runs that exist (of ``only`` when given)."""
        with self._lock:
            links: list[tuple[str | None, int, str]] = []
            keep: list[tuple[str | None, int, str]] = []
            for link in self._links:
                run_id = link[0]
                waits = run_id in self._pending or (only is not None and run_id not in only)
                (keep if waits else links).append(link)
            self._links = keep
        for run_id, vid, direction in links:
            if run_id is not None:
                self.store.runs.link_dataset(run_id, vid, direction)

    # -- step rows ---------------------------------------------------------------------------
    def step(self, info: StepRunInfo, *, now: bool = False) -> None:
        self._buffer[info.node] = info
        if now or len(self._buffer) >= 200:
            self.flush()

    def flush(self) -> None:
        if self._buffer or self._new_runs:
            rows, self._buffer = list(self._buffer.values()), {}
            for row in rows:  # a row of a run not written yet (a retry): its start first
                if row.run_id is not None and row.run_id in self._pending:
                    self.ensure_started(row.run_id)
            runs, self._new_runs = self._new_runs, []
            self.store.pipeline_runs.record_steps(self.run_id, rows, new_runs=runs)
        if self._ended:
            self._write_ended()
        if self._links:
            self._write_links()

    def finish(
        self, *, status: RunStatus, counts: Mapping[StepStatus, int], error: str = ""
    ) -> None:
        forget(self.run_id)
        with self._lock:
            self._closed = True
            for run_id in list(self._pending):  # steps that never ended (stopped early)
                self.ensure_started(run_id)
        self._wake.set()
        self.flush()
        try:
            self._roll_up()
        except KeelError as exc:  # the run's outcome matters more than the copied metrics
            self.store.runs.set_tags(self.run_id, {"keel.pipeline.rollup_error": str(exc)[:1000]})
        self.store.pipeline_runs.finish(
            self.run_id,
            status=status.value,
            n_cached=counts.get(StepStatus.CACHED, 0),
            n_ran=counts.get(StepStatus.RAN, 0),
            n_failed=counts.get(StepStatus.FAILED, 0),
            error=error,
        )
        if error:
            self.store.runs.set_tags(self.run_id, {"keel.error": error[:5000]})
        self.client.end_run(self.run_id, status)
