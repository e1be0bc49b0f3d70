"""``keel.start_run()`` and the run it returns: the short, obvious SDK.

One default client per process, created on first use from :class:`~keel.config.Settings`
(or from :func:`init`). The stack of active runs is shared by the threads of a process,
so worker threads log into the run the main thread started.

Inside a pipeline step the step's own run is active (see :mod:`keel.tracking._steprun`), and
the client is the one the pipeline records into, so ``keel.log_metric`` and friends land in
the step's run on every runner. :func:`using_client` points the SDK at another store for a
block (``keel.pipelines.testing.isolated_store`` uses it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.store import ArtifactInfo, Metric, Run, RunInfo, RunPage, RunStatus, open_store
from keel.tracking import _lifecycle
from keel.tracking._capture import capture
from keel.tracking._client import DEFAULT_EXPERIMENT, TrackingClient
from keel.tracking._system import SystemMetricsSampler

_lock = threading.RLock()
_client: TrackingClient | None = None
_experiment: str = DEFAULT_EXPERIMENT
_stack: list[ActiveRun] = []
#: The run of the pipeline step executing in this context, and how deep ``_stack`` was then.
_STEP: ContextVar[tuple[ActiveRun, int] | None] = ContextVar("keel_step_run", default=None)
_CLIENT: ContextVar[TrackingClient | None] = ContextVar("keel_client", default=None)


def init(
    project: str | None = None,
    *,
    experiment: str | None = None,
    home: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
) -> TrackingClient:
    """Choose the project (and store) that ``start_run`` and friends use in this process."""
    global _client, _experiment
    if settings is None:
        settings = Settings.from_env()
        if home is not None:
            settings = Settings.for_home(home, project=settings.project)
    if project is not None:
        settings = settings.with_project(project)
    with _lock:
        if _client is not None:
            _client.store.close()
        _client = TrackingClient(open_store(settings), project=settings.project)
        _experiment = experiment or DEFAULT_EXPERIMENT
        if project is not None:  # naming a project here makes it; reads elsewhere do not
            _ = _client.project
    return _client


@contextmanager
def using_client(client: TrackingClient) -> Iterator[TrackingClient]:
    """Make ``client`` the SDK's client in this block (and the threads it copies context to)."""
    token = _CLIENT.set(client)
    try:
        yield client
    finally:
        _CLIENT.reset(token)


@contextmanager
def running_step(run: ActiveRun) -> Iterator[ActiveRun]:
    """Make ``run`` (a pipeline step's run) the active run while the step executes."""
    with _lock:
        depth = len(_stack)
    token = _STEP.set((run, depth))
    try:
        yield run
    finally:
        _STEP.reset(token)


def get_client() -> TrackingClient:
    """The client of the current step or :func:`using_client` block, else the process's
    default client, created from the environment on first use."""
    step = _STEP.get()
    if step is not None:
        return step[0].client
    override = _CLIENT.get()
    if override is not None:
        return override
    with _lock:
        if _client is None:
            return init()
        return _client


def set_experiment(name: str) -> None:
    global _experiment
    get_client().get_or_create_experiment(name)
    _experiment = name


class ActiveRun:
    """A run being recorded. Use it as a context manager: it ends FINISHED, or FAILED on error."""

    def __init__(self, client: TrackingClient, info: RunInfo) -> None:
        self._client = client
        self._info = info
        self._sampler: SystemMetricsSampler | None = None
        self.id: str = info.id
        self.name: str = info.name

    @property
    def client(self) -> TrackingClient:
        return self._client

    @property
    def info(self) -> RunInfo:
        return self._info

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} id={self.id}>"

    # -- logging ---------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.client.log_param(self.id, key, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.client.log_params(self.id, params)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        self.client.log_metric(self.id, key, value, step)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        self.client.log_metrics(self.id, metrics, step)

    def log_batch(
        self,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        self.client.log_batch(self.id, metrics=metrics, params=params, tags=tags)

    def set_tag(self, key: str, value: Any) -> None:
        self.client.set_tag(self.id, key, value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.client.set_tags(self.id, tags)

    def set_note(self, markdown: str) -> None:
        """Attach a markdown note (what you tried, what you saw) to the run."""
        self.client.set_note(self.id, markdown)

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactInfo]:
        return self.client.log_artifact(self.id, local_path, artifact_path)

    def log_text(self, text: str, artifact_path: str) -> ArtifactInfo:
        return self.client.log_text(self.id, text, artifact_path)

    def log_input(self, version_id: int) -> None:
        """Record that this run read a dataset version (a lineage edge)."""
        self.client.store.runs.link_dataset(self.id, version_id, "input")

    def log_output(self, version_id: int) -> None:
        self.client.store.runs.link_dataset(self.id, version_id, "output")

    def get(self) -> Run:
        return self.client.get_run(self.id)

    def flush(self) -> None:
        """Write what is buffered (nothing here: this run writes on every call)."""

    # -- lifecycle -------------------------------------------------------------------------
    def end(self, status: RunStatus = RunStatus.FINISHED) -> None:
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None
        with _lock:
            if self in _stack:
                _stack.remove(self)
        _lifecycle.forget(self.id)
        self._info = self.client.end_run(self.id, status)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
            if exc is not None:
                self.set_tag("keel.error", f"{exc_type.__name__}: {exc}"[:5000])
        self.end(status)


def start_run(
    name: str | None = None,
    *,
    run_id: str | None = None,
    experiment: str | None = None,
    nested: bool = False,
    parent: ActiveRun | str | None = None,
    tags: Mapping[str, str] | None = None,
    capture_env: bool = True,
    system_metrics: bool = False,
    system_metrics_interval_s: float = 10.0,
) -> ActiveRun:
    """Start a run; ``with keel.start_run(experiment="churn") as run: ...``.

    A run started while another is active needs ``nested=True`` and becomes its child
    (inside a pipeline step, a new run is a child of the step's run). ``run_id=`` resumes
    an existing run of this project instead. Unless ``capture_env=False`` it records the
    git commit, branch, remote and the uncommitted diff, the entry point and its
    arguments, Python and package versions and the host.

    A run not used as a context manager still ends: ``FINISHED`` at interpreter exit,
    ``FAILED`` on an unhandled exception, ``KILLED`` on SIGTERM or Ctrl-C.
    """
    client = get_client()
    if run_id is not None:
        return _resume(client, run_id)
    parent_id = _parent_of(parent, nested)
    all_tags = {**_lifecycle.owner_tags(), **dict(tags or {})}
    files: dict[str, bytes] = {}
    if capture_env:
        cap = capture(Path.cwd())
        all_tags = {**cap.tags, **all_tags}
        files = cap.files
    info = client.create_run(
        experiment or _experiment, name=name, parent_id=parent_id, tags=all_tags
    )
    run = ActiveRun(client, info)
    for path, content in files.items():
        ref = client.store.blobs.put_bytes(content)
        client.store.artifacts.add(info.id, [(path, ref)])
    if system_metrics:
        run._sampler = SystemMetricsSampler(
            lambda ms: client.log_batch(info.id, metrics=ms), interval_s=system_metrics_interval_s
        ).start()
    _push(run)
    return run


def _parent_of(parent: ActiveRun | str | None, nested: bool) -> str | None:
    if parent is not None:
        return parent.id if isinstance(parent, ActiveRun) else parent
    step = _STEP.get()
    with _lock:
        if step is not None and len(_stack) <= step[1]:
            return step[0].id  # a run started inside a step belongs to the step
        if _stack:
            if not nested:
                raise InvalidArgumentError(
                    f"run {_stack[-1].name!r} is still active; end it first or pass "
                    "nested=True to start a child run"
                )
            return _stack[-1].id
    return None


def _resume(client: TrackingClient, run_id: str) -> ActiveRun:
    """Reopen a run of this project: it is RUNNING again and active until it ends."""
    with _lock:
        for run in _stack:
            if run.id == run_id:
                return run
    existing = client.get_run(run_id)  # NotFoundError for another project's run
    client.set_tags(run_id, _lifecycle.owner_tags())
    info = client.store.runs.update(run_id, status=RunStatus.RUNNING)
    if existing.status is not RunStatus.RUNNING:
        client.set_tag(run_id, "keel.resumed_from", existing.status.value)
    run = ActiveRun(client, info)
    _push(run)
    return run


def _push(run: ActiveRun) -> None:
    with _lock:
        _stack.append(run)
    _lifecycle.watch(run)


def as_active_run(run: ActiveRun | Run | RunInfo | str | None) -> ActiveRun:
    """The run to log into: the one given (by id, ``Run`` or ``ActiveRun``), else the active
    run. A run given by id is checked to belong to this project; it is not made active."""
    if isinstance(run, ActiveRun):
        return run
    if run is None:
        return _require_run()
    client = get_client()
    run_id = run if isinstance(run, str) else run.id if isinstance(run, RunInfo) else run.info.id
    return ActiveRun(client, client.get_run(run_id).info)


def active_run() -> ActiveRun | None:
    step = _STEP.get()
    with _lock:
        if step is not None and len(_stack) <= step[1]:
            return step[0]
        return _stack[-1] if _stack else None


def end_run(status: RunStatus = RunStatus.FINISHED) -> None:
    run = active_run()
    if run is not None:
        run.end(status)


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidArgumentError("no active run; call keel.start_run() first")
    return run


def log_param(key: str, value: Any) -> None:
    _require_run().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _require_run().log_params(params)


def log_metric(key: str, value: float, step: int = 0) -> None:
    _require_run().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int = 0) -> None:
    _require_run().log_metrics(metrics, step)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _require_run().log_artifact(local_path, artifact_path)


def set_tag(key: str, value: Any) -> None:
    _require_run().set_tag(key, value)


def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def search_runs(
    filter_string: str | None = None,
    *,
    experiments: Sequence[str | int] | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int = 1000,
    page_token: str | None = None,
) -> RunPage:
    return get_client().search_runs(
        filter_string,
        experiments=experiments,
        order_by=order_by,
        max_results=max_results,
        page_token=page_token,
    )


def metric_history(run_id: str, key: str) -> list[Metric]:
    return get_client().metric_history(run_id, key)
