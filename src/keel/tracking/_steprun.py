"""The run a pipeline step logs into, on whatever runner executes the step.

The driver creates each step's child run before the step starts and hands the runner a
:class:`StepRunSpec` (run id, settings, project: small and picklable). Where the step
executes, :func:`step_run` makes a :class:`StepRun` the active run, so ``keel.log_metric``,
``keel.log_model``, ``keel.log_dataset`` and autolog land in the step's run.

Metrics and tags are buffered and come back to the driver with the step's result, which
writes them in the transaction that ends the child run: logging inside a step adds no
database round trip. A step that logs for longer than :data:`FLUSH_AFTER_S` has its buffer
written as it goes, so long training steps show progress. Params and artifacts are written
at once (a conflicting param must fail where it is logged). Only then does a worker in
another process open its own connection to the store.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.store import Metric, RunInfo, RunStatus, Store, open_store
from keel.tracking._active import ActiveRun, running_step
from keel.tracking._client import TrackingClient, _number

FLUSH_AFTER_S = 2.0


@dataclass(frozen=True)
class StepRunSpec:
    """What a runner needs to log into a step's run from any process."""

    run_id: str
    node: str
    settings: Settings
    project: str


@dataclass
class StepRecords:
    """What a step logged that is not written yet, and the newest value of each metric."""

    metrics: list[Metric] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    latest: dict[str, float] = field(default_factory=dict)

    def merge(self, other: StepRecords) -> None:
        self.metrics.extend(other.metrics)
        self.tags.update(other.tags)
        self.latest.update(other.latest)


_clients: dict[tuple[int, Settings, str], TrackingClient] = {}
_clients_lock = threading.Lock()


def _client_for(settings: Settings, project: str) -> TrackingClient:
    """One client per (process, store, project): a forked worker never reuses its parent's
    connections."""
    key = (os.getpid(), settings, project)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = TrackingClient(open_store(settings), project)
        return client


def step_store(spec: StepRunSpec) -> Store:
    """The store a step's worker reaches its run and blobs through: the one its run's client
    uses in this process (for a remote store, the server's API with the caller's token)."""
    return _client_for(spec.settings, spec.project).store


class StepRun(ActiveRun):
    """A step's run: buffers metrics and tags; its life is the step's (the driver ends it)."""

    def __init__(
        self,
        spec: StepRunSpec,
        client: TrackingClient | None = None,
        before_write: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self.id, self.name = spec.run_id, spec.node
        self._step_client = client
        self._before_write = before_write
        self._sampler = None
        self._records = StepRecords()
        self._since = time.monotonic()
        self._cached_info: RunInfo | None = None

    @property
    def client(self) -> TrackingClient:
        """The client for anything not buffered; first use makes sure the run is stored."""
        if self._before_write is not None:
            before, self._before_write = self._before_write, None
            before()
        if self._step_client is None:
            self._step_client = _client_for(self.spec.settings, self.spec.project)
        return self._step_client

    @property
    def info(self) -> RunInfo:
        if self._cached_info is None:
            self._cached_info = self.client.store.runs.get_info(self.spec.run_id)
        return self._cached_info

    # -- buffered logging ------------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        self._add([Metric(_key(key), _number(key, value), step, _now())])

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        ts = _now()
        self._add([Metric(_key(k), _number(k, v), step, ts) for k, v in metrics.items()])

    def log_batch(
        self,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        if params:
            self.client.log_params(self.id, params)
        if tags:
            self.set_tags(tags)
        if metrics:
            self._add(
                [
                    Metric(_key(m.key), _number(m.key, m.value), m.step, m.timestamp or _now())
                    for m in metrics
                ]
            )

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._records.tags.update({_key(k): str(v) for k, v in tags.items()})
        self._maybe_flush()

    def _add(self, metrics: list[Metric]) -> None:
        self._records.metrics.extend(metrics)
        for m in metrics:
            self._records.latest[m.key] = m.value
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._since >= FLUSH_AFTER_S or len(self._records.metrics) > 10_000:
            self.flush()

    def flush(self) -> None:
        """Write the buffer now (``log_model`` calls this so the package sees the metrics)."""
        records = self._records
        if records.metrics or records.tags:
            self.client.log_batch(self.id, metrics=records.metrics, tags=records.tags)
        self._records = StepRecords(latest=records.latest)
        self._since = time.monotonic()

    def drain(self) -> StepRecords:
        """What is left to write, for the driver (and every metric's newest value)."""
        records, self._records = self._records, StepRecords()
        return records

    # -- lifecycle -------------------------------------------------------------------------
    def end(self, status: RunStatus = RunStatus.FINISHED) -> None:
        raise InvalidArgumentError(
            f"the run of step {self.spec.node!r} ends when the step returns; "
            "do not end it inside the step"
        )

    def __exit__(self, *exc: object) -> None:
        return None


def _key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"metric and tag keys must be non-empty strings, got {key!r}")
    return key


def _now() -> int:
    return int(time.time() * 1000)


@contextmanager
def step_run(
    spec: StepRunSpec | None,
    client: TrackingClient | None = None,
    before_write: Callable[[], None] | None = None,
) -> Iterator[StepRun | None]:
    """Make the step's run active while the step executes (nothing when ``spec`` is None)."""
    if spec is None:
        yield None
        return
    run = StepRun(spec, client, before_write)
    with running_step(run):
        yield run
