"""Recording a pipeline run: a parent tracking run, one child run per step, the step rows
and the lineage edges to dataset versions.

Step rows of cached steps are buffered and written together (one transaction for many
steps); a step that runs is written before it starts and when it ends, so
``keel pipeline runs`` shows it live.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from keel.store import RunStatus, Store
from keel.store._db import now_ms
from keel.store.pipelines import StepRunInfo, StepStatus
from keel.store.runs import ChildRun
from keel.tracking import TrackingClient

_PARAM_TEXT = 500


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
    ) -> None:
        self.client = client
        self.store: Store = client.store
        run_tags = {
            "keel.pipeline": pipeline,
            "keel.pipeline.runner": str(runner.get("runner", "")),
            "keel.pipeline.target": target,
            **(tags or {}),
        }
        info = client.create_run(experiment, name=pipeline, tags=run_tags)
        self.run_id = info.id
        self.experiment_id = info.experiment_id
        if params:
            client.log_params(self.run_id, {k: param_text(v) for k, v in params.items()})
        self.store.pipeline_runs.start(
            self.run_id,
            project_id=client.project.id,
            pipeline=pipeline,
            target=target,
            runner=str(runner.get("runner", "")),
            params={k: param_text(v) for k, v in params.items()},
            n_steps=n_steps,
        )
        self.user = _user()
        self._buffer: dict[str, StepRunInfo] = {}
        self._new_runs: list[ChildRun] = []
        self._links: list[tuple[str | None, int, str]] = []
        self._linked: set[tuple[int, str]] = set()

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

    def end_child(self, run_id: str, status: RunStatus, tags: Mapping[str, str]) -> None:
        self.store.runs.set_tags(run_id, dict(tags))
        self.store.runs.update(run_id, status=status)

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
        self.flush()
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
