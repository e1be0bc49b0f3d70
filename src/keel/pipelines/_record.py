"""Recording a pipeline run: a parent tracking run, one child run per step, the step rows
and the lineage edges to dataset versions.

Step rows of cached steps are buffered and written together (one transaction for many
steps); a step that runs is written before it starts and when it ends, so
``keel pipeline runs`` shows it live.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from keel.exceptions import KeelError, NotFoundError
from keel.store import Metric, RunStatus, Store
from keel.store._db import now_ms
from keel.store.pipelines import StepRunInfo, StepStatus
from keel.store.runs import ChildRun
from keel.tracking import TrackingClient
from keel.tracking._capture import capture
from keel.tracking._lifecycle import forget, keep_alive, owner_tags
from keel.tracking._steprun import StepRecords

_PARAM_TEXT = 500
#: Tags of the pipeline run every step run repeats, so a model logged in a step knows
#: the code, entry point and pipeline that made it.
_SOURCE_TAGS = ("keel.git.", "keel.source.")
_NOT_IN_KEY = re.compile(r"[^\w .\-/:()\[\]@,+=]")


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user database entry in some containers
        return os.environ.get("USER", "")


def param_text(value: Any) -> str:
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _PARAM_TEXT else text[: _PARAM_TEXT - 3] + "..."


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
        self.step_tags = {
            "keel.pipeline": pipeline,
            "keel.pipeline.target": target,
            "keel.pipeline.params": json.dumps(texts, sort_keys=True),
        }
        cap = capture(Path.cwd(), requirements=False) if capture_env else None
        if cap is not None:
            self.step_tags.update({k: v for k, v in cap.tags.items() if k.startswith(_SOURCE_TAGS)})
        run_tags = {
            **(cap.tags if cap is not None else {}),
            **owner_tags(),
            **self.step_tags,
            "keel.pipeline.runner": str(runner.get("runner", "")),
            **(tags or {}),
        }
        info = client.create_run(experiment, name=pipeline, tags=run_tags)
        self.run_id = info.id
        self.experiment_id = info.experiment_id
        keep_alive(self.run_id, lambda key, value: client.set_tag(info.id, key, value))
        # The uncommitted diff is stored once a step runs: a fully cached re-run made nothing
        # new to reproduce, and stays a few driver-level statements.
        self._files = dict(cap.files) if cap is not None else {}
        if params:
            client.log_params(self.run_id, {k: param_text(v) for k, v in params.items()})
        self.store.pipeline_runs.start(
            self.run_id,
            project_id=client.project.id,
            pipeline=pipeline,
            target=target,
            runner=str(runner.get("runner", "")),
            params=texts,
            n_steps=n_steps,
        )
        self.user = _user()
        self._buffer: dict[str, StepRunInfo] = {}
        self._new_runs: list[ChildRun] = []
        self._links: list[tuple[str | None, int, str]] = []
        self._linked: set[tuple[int, str]] = set()
        self._latest: dict[str, dict[str, float]] = {}  # node -> metrics its run logged
        self._reused: dict[str, str] = {}  # node of a cached step -> the run it reused

    # -- child runs --------------------------------------------------------------------------
    def finished_child(self, node: str, *, tags: Mapping[str, str]) -> str:
        """A child run for a step answered from the cache, created at the next flush."""
        ts = now_ms()
        run_id = uuid.uuid4().hex
        self._new_runs.append(
            ChildRun(
                id=run_id,
                experiment_id=self.experiment_id,
                parent_id=self.run_id,
                name=node,
                status=RunStatus.FINISHED.value,
                start_time=ts,
                end_time=ts,
                user=self.user,
                tags=dict(tags),
            )
        )
        return run_id

    def child_run(
        self,
        node: str,
        *,
        status: RunStatus,
        tags: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
    ) -> str:
        if self._files:
            files, self._files = self._files, {}
            items = [(path, self.store.blobs.put_bytes(data)) for path, data in files.items()]
            self.store.artifacts.add(self.run_id, items)
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
        try:
            self.store.runs.log_batch(run_id, metrics=logged.metrics, tags={**logged.tags, **tags})
        except KeelError as exc:  # a bad key the step logged must not lose the step's outcome
            self.store.runs.set_tags(
                run_id, {**tags, "keel.step.logging_error": f"{type(exc).__name__}: {exc}"}
            )
        self.store.runs.update(run_id, status=status)
        if node and logged.latest:
            self._latest[node] = dict(logged.latest)

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
        if not self._new_runs:
            self._write_links()

    def _write_links(self) -> None:
        links, self._links = self._links, []
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
            runs, self._new_runs = self._new_runs, []
            self.store.pipeline_runs.record_steps(self.run_id, rows, new_runs=runs)
        if self._links:
            self._write_links()

    def finish(
        self, *, status: RunStatus, counts: Mapping[StepStatus, int], error: str = ""
    ) -> None:
        forget(self.run_id)
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
