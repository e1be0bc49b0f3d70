"""``keel.start_run()`` and the run it returns: the short, obvious SDK.

One default client per process, created on first use from :class:`~keel.config.Settings`
(or from :func:`init`). The stack of active runs is shared by the threads of a process,
so worker threads log into the run the main thread started.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.store import ArtifactInfo, Metric, Run, RunInfo, RunPage, RunStatus, open_store
from keel.tracking._capture import capture
from keel.tracking._client import DEFAULT_EXPERIMENT, TrackingClient
from keel.tracking._system import SystemMetricsSampler

_lock = threading.RLock()
_client: TrackingClient | None = None
_experiment: str = DEFAULT_EXPERIMENT
_stack: list[ActiveRun] = []


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
    return _client


def get_client() -> TrackingClient:
    """The process's default client, created from the environment on first use."""
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
        self.client = client
        self.info = info
        self._sampler: SystemMetricsSampler | None = None

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.name} id={self.info.id}>"

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

    # -- lifecycle -------------------------------------------------------------------------
    def end(self, status: RunStatus = RunStatus.FINISHED) -> None:
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None
        self.info = self.client.end_run(self.id, status)
        with _lock:
            if self in _stack:
                _stack.remove(self)

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
    experiment: str | None = None,
    nested: bool = False,
    parent: ActiveRun | str | None = None,
    tags: Mapping[str, str] | None = None,
    capture_env: bool = True,
    system_metrics: bool = False,
    system_metrics_interval_s: float = 10.0,
) -> ActiveRun:
    """Start a run; ``with keel.start_run(experiment="churn") as run: ...``.

    A run started while another is active needs ``nested=True`` and becomes its child.
    Unless ``capture_env=False`` it records the git commit, branch, remote and the
    uncommitted diff, the entry point, Python and package versions and the host.
    """
    client = get_client()
    parent_id: str | None = parent.id if isinstance(parent, ActiveRun) else parent
    with _lock:
        if _stack and parent_id is None:
            if not nested:
                raise InvalidArgumentError(
                    f"run {_stack[-1].name!r} is still active; end it first or pass "
                    "nested=True to start a child run"
                )
            parent_id = _stack[-1].id
    all_tags = dict(tags or {})
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
    with _lock:
        _stack.append(run)
    return run


def active_run() -> ActiveRun | None:
    with _lock:
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
