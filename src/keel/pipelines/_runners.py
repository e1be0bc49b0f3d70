"""Runners: where step attempts execute. One small interface, three implementations.

The interface, :class:`~keel.pipelines._runner_api.Runner`, lives below this module and
:mod:`~keel.pipelines._dask`, so :func:`make_runner` picks any of them without a cycle.

- :class:`InProcessRunner` (default): in this process and thread, so breakpoints and
  debuggers work; outputs stay in memory between steps.
- :class:`ProcessRunner`: one forked process per attempt, up to ``workers`` at once, so
  independent steps run in parallel; a timeout kills the process, a crash is reported.
- :class:`~keel.pipelines._dask.DaskRunner`: steps on a Dask cluster (local or remote).

The driver (:mod:`keel.pipelines._executor`) calls :meth:`Runner.prepare` once (which
refuses resource requests nobody can meet), then :meth:`Runner.submit` for each attempt
and :meth:`Runner.wait` for results. Runners are used by one driver thread.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keel.exceptions import ConfigError, InvalidArgumentError, ResourceUnavailableError
from keel.pipelines._graph import Graph
from keel.pipelines._resources import local_shortfall
from keel.pipelines._runner_api import Runner
from keel.pipelines._task import Task, TaskResult, execute


class StepTimeout(Exception):
    """An attempt ran longer than its step's ``timeout``."""


def check_local_resources(graph: Graph, runner: str) -> None:
    for node in graph.nodes.values():
        problem = local_shortfall(node.step.resources)
        if problem is not None:
            raise ResourceUnavailableError(
                f"step {node.id!r} requests {node.step.resources.describe()}: {problem}. "
                f"The {runner} runner runs on this machine; run the pipeline on a Dask cluster "
                "whose workers offer them (--runner dask --address tcp://...), or lower the request"
            )


def _call_with_timeout(
    fn: Callable[[], TaskResult], timeout: float | None, node: str
) -> TaskResult:
    if timeout is None:
        return fn()
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def _alarm(signum: int, frame: Any) -> None:
            raise StepTimeout(f"step {node!r} ran longer than its timeout of {timeout:g}s")

        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(_capture(fn)), daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise StepTimeout(
            f"step {node!r} ran longer than its timeout of {timeout:g}s (outside the main "
            "thread it cannot be stopped; it was abandoned)"
        )
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _capture(fn: Callable[[], TaskResult]) -> TaskResult | BaseException:
    try:
        return fn()
    except BaseException as exc:
        return exc


class InProcessRunner(Runner):
    """Runs each attempt right here, one at a time; exceptions keep their tracebacks."""

    name = "inprocess"
    capacity = 1
    in_memory = True

    def __init__(self) -> None:
        self._done: list[TaskResult] = []

    def prepare(self, graph: Graph) -> None:
        check_local_resources(graph, "in-process")

    def submit(self, task: Task) -> None:
        start = time.perf_counter()
        try:
            result = _call_with_timeout(lambda: execute(task, catch=False), task.timeout, task.node)
        except Exception as exc:
            result = TaskResult(
                task.node,
                ok=False,
                duration_s=time.perf_counter() - start,
                error=str(exc),
                error_type=type(exc).__name__,
                traceback="".join(traceback.format_exception(exc)),
                exception=exc,
            )
        self._done.append(result)

    def wait(self, timeout: float | None) -> list[TaskResult]:
        done, self._done = self._done, []
        return done


@dataclass
class _Running:
    task: Task
    process: Any
    conn: Any
    started: float
    deadline: float | None


def _child(task: Task, conn: Any) -> None:
    try:
        result = execute(task, catch=True)
    except BaseException as exc:  # pragma: no cover - execute catches Exception
        result = TaskResult(task.node, ok=False, error=str(exc), error_type=type(exc).__name__)
    conn.send(result)
    conn.close()


class ProcessRunner(Runner):
    """Forks one process per attempt (up to ``workers`` at once); outputs travel as blobs."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        import os

        if "fork" not in multiprocessing.get_all_start_methods():
            raise ConfigError(
                "the processes runner needs fork(), which this platform lacks; use the "
                "in-process or Dask runner"
            )
        if workers is not None and workers < 1:
            raise InvalidArgumentError(f"workers must be at least 1, got {workers}")
        self.capacity = workers or os.cpu_count() or 1
        self._ctx = multiprocessing.get_context("fork")
        self._running: dict[str, _Running] = {}

    def prepare(self, graph: Graph) -> None:
        check_local_resources(graph, "processes")

    def describe(self) -> dict[str, Any]:
        return {"runner": self.name, "workers": self.capacity}

    def submit(self, task: Task) -> None:
        receive, send = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(target=_child, args=(task, send), daemon=True)
        process.start()
        send.close()
        now = time.monotonic()
        deadline = now + task.timeout if task.timeout else None
        self._running[task.node] = _Running(task, process, receive, now, deadline)

    def wait(self, timeout: float | None) -> list[TaskResult]:
        if not self._running:
            return []
        wait_for = self._wait_time(timeout)
        handles: dict[Any, _Running] = {}
        for run in self._running.values():
            handles[run.conn] = run
            handles[run.process.sentinel] = run
        ready = multiprocessing.connection.wait(list(handles), timeout=wait_for)
        results: list[TaskResult] = []
        for node in dict.fromkeys(handles[r].task.node for r in ready):
            results.append(self._collect(self._running[node]))
        results.extend(self._expire())
        return results

    def _wait_time(self, timeout: float | None) -> float | None:
        deadlines = [r.deadline for r in self._running.values() if r.deadline is not None]
        if not deadlines:
            return timeout
        until = max(0.0, min(deadlines) - time.monotonic())
        return until if timeout is None else min(until, timeout)

    def _collect(self, run: _Running) -> TaskResult:
        result: TaskResult | None = None
        try:
            if run.conn.poll():
                result = run.conn.recv()
        except (EOFError, OSError):
            result = None
        run.process.join(timeout=5)
        del self._running[run.task.node]
        run.conn.close()
        if result is None:
            code = run.process.exitcode
            result = TaskResult(
                run.task.node,
                ok=False,
                duration_s=time.monotonic() - run.started,
                error=f"the worker process died (exit code {code}) before it returned a result",
                error_type="WorkerDied",
            )
        return result

    def _expire(self) -> list[TaskResult]:
        now = time.monotonic()
        out = []
        for run in list(self._running.values()):
            if run.deadline is not None and now >= run.deadline and not run.conn.poll():
                run.process.kill()
                run.process.join(timeout=5)
                del self._running[run.task.node]
                run.conn.close()
                out.append(
                    TaskResult(
                        run.task.node,
                        ok=False,
                        duration_s=now - run.started,
                        error=f"step {run.task.node!r} ran longer than its timeout of "
                        f"{run.task.timeout:g}s; its process was killed",
                        error_type="StepTimeout",
                    )
                )
        return out

    def close(self) -> None:
        for run in self._running.values():
            run.process.kill()
            run.process.join(timeout=5)
            run.conn.close()
        self._running.clear()


def make_runner(
    name: str | Runner | None = None,
    *,
    workers: int | None = None,
    address: str | None = None,
) -> Runner:
    """A runner from its name: ``inprocess`` (default), ``processes`` or ``dask``."""
    if isinstance(name, Runner):
        return name
    key = (name or "inprocess").lower().replace("-", "").replace("_", "")
    if key in ("inprocess", "local"):
        return InProcessRunner()
    if key in ("processes", "process"):
        return ProcessRunner(workers)
    if key == "dask":
        from keel.pipelines._dask import DaskRunner

        return DaskRunner(address=address, workers=workers)
    raise InvalidArgumentError(f"unknown runner {name!r}; choose inprocess, processes or dask")
