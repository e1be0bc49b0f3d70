"""What a runner executes: one attempt of one step, on this process or on a worker.

A :class:`Task` carries the step, its arguments (upstream outputs as in-memory values or
as blob manifests) and where the blob store is. :func:`execute` loads the inputs, calls the
step and, when asked, writes the output to the blob store before returning its manifest,
so an output is only ever used once it is complete.
"""

from __future__ import annotations

import contextlib
import functools
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keel.pipelines._graph import Ref, substitute
from keel.pipelines._materialize import (
    UnstorableOutputError,
    load_value,
    store_value,
    sub_manifest,
)
from keel.pipelines._step import Step
from keel.store.blobs import BlobStore
from keel.store.protocols import Blobs
from keel.tracking import TrackingClient
from keel.tracking._steprun import StepRecords, StepRunSpec, step_run, step_store


@dataclass(frozen=True)
class Upstream:
    """An upstream output: a value already in memory, or a manifest to load it from."""

    manifest: dict[str, Any] | None = None
    value: Any = None
    in_memory: bool = False


@dataclass
class Task:
    node: str
    step: Step
    arguments: dict[str, Any]
    upstream: dict[str, Upstream]
    artifacts_uri: str
    store_output: bool
    attempt: int = 1
    timeout: float | None = None
    #: The driver's own blob store, for runners in its process (set for a remote store,
    #: whose ``artifacts_uri`` is an API URL, not a folder a worker could open).
    blobs: Blobs | None = field(default=None, repr=False, compare=False)
    #: The step's run: made the active run while the step executes.
    tracking: StepRunSpec | None = None
    #: The driver's client, for runners in its process (workers elsewhere open their own).
    client: TrackingClient | None = field(default=None, repr=False, compare=False)
    #: Called before the step first writes to its run (the driver may not have written the
    #: run's start yet: a short step's run is written once, when it ends).
    before_write: Callable[[], None] | None = field(default=None, repr=False, compare=False)


@dataclass
class TaskResult:
    node: str
    ok: bool
    manifest: dict[str, Any] | None = None
    value: Any = None
    has_value: bool = False
    duration_s: float = 0.0
    error: str = ""
    error_type: str = ""
    traceback: str = ""
    unstorable: bool = False
    exception: BaseException | None = field(default=None, repr=False)
    #: Metrics and tags the step logged that the driver writes when it ends the step's run.
    logged: StepRecords | None = None


@functools.lru_cache(maxsize=8)
def _blobs_at(uri: str) -> BlobStore:
    return BlobStore(uri)


def _blobs(task: Task) -> Blobs:
    if task.blobs is not None:
        return task.blobs
    if task.tracking is not None and task.tracking.settings.server_url:
        # a worker in another process, in team mode: the server's blob API, caller's token
        return step_store(task.tracking).blobs
    return _blobs_at(task.artifacts_uri)


def load_arguments(task: Task) -> dict[str, Any]:
    """The step's arguments with every Ref replaced by the upstream value it points at."""
    blobs = _blobs(task)
    cache: dict[str, Any] = {}

    def value_of(ref: Ref) -> Any:
        up = task.upstream[ref.node]
        if not up.in_memory and up.manifest is not None and ref.path:
            sub = sub_manifest(up.manifest, ref.path)
            if sub is not None:  # load just the element asked for
                return load_value(sub, blobs)
        if ref.node not in cache:
            if up.in_memory:
                cache[ref.node] = up.value
            else:
                assert up.manifest is not None
                cache[ref.node] = load_value(up.manifest, blobs)
        value = cache[ref.node]
        for key in ref.path:
            value = value[key]
        return value

    return substitute(task.arguments, value_of)


def execute(task: Task, *, catch: bool = True) -> TaskResult:
    """Run one attempt, with the step's run active. With ``catch`` (remote runners) errors
    come back as text."""
    with step_run(task.tracking, task.client, task.before_write) as run:
        try:
            result = _execute(task, catch=catch)
        except BaseException:
            if run is not None:  # the error propagates in this process: write what it logged
                with contextlib.suppress(Exception):
                    run.flush()
            raise
        result.logged = run.drain() if run is not None else None
    return result


def _execute(task: Task, *, catch: bool) -> TaskResult:
    start = time.perf_counter()
    try:
        arguments = load_arguments(task)
        value = task.step.call_with(arguments)
        manifest = store_value(value, _blobs(task)) if task.store_output else None
    except UnstorableOutputError as exc:
        return TaskResult(
            task.node,
            ok=False,
            duration_s=time.perf_counter() - start,
            error=str(exc),
            error_type="UnstorableOutputError",
            unstorable=True,
            exception=None if catch else exc,
        )
    except Exception as exc:
        if not catch:
            raise
        return TaskResult(
            task.node,
            ok=False,
            duration_s=time.perf_counter() - start,
            error=str(exc),
            error_type=type(exc).__name__,
            traceback=traceback.format_exc(),
        )
    result = TaskResult(
        task.node, ok=True, manifest=manifest, duration_s=time.perf_counter() - start
    )
    if not catch:
        result.value, result.has_value = value, True
    return result
