"""The Dask runner: steps (and fan-out pieces) as tasks on a Dask cluster.

Outputs travel through the blob store, so ``KEEL_ARTIFACTS_URI`` must be reachable from
every worker (an object store or a shared folder; a local folder works for a cluster on
this machine). Resource requests map to Dask worker resources (``GPU``, ``MEMORY``,
``CPU`` and custom names) when workers declare them; CPUs and memory otherwise map to
the workers' thread count and memory limit. A request no worker can meet fails before
any step runs. A worker that dies mid-step loses nothing: its output was never published,
Dask moves the task to another worker, and the driver's retries apply on top.
"""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from keel.exceptions import ConfigError, ResourceUnavailableError
from keel.pipelines._codeversion import is_project_module
from keel.pipelines._graph import Graph
from keel.pipelines._resources import Resources, format_bytes
from keel.pipelines._runner_api import Runner
from keel.pipelines._task import Task, TaskResult, execute

_DECLARED = {"cpus": "CPU", "memory": "MEMORY", "gpus": "GPU"}


@dataclass
class _Placement:
    resources: dict[str, float] | None
    workers: list[str] | None


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "the Dask runner needs dask.distributed: pip install 'keel[dask]'"
        ) from exc
    return distributed


class DaskRunner(Runner):
    """Submit step attempts to a Dask scheduler at ``address`` (or use ``client``)."""

    name = "dask"

    def __init__(
        self, address: str | None = None, *, client: Any = None, workers: int | None = None
    ) -> None:
        if client is None and not address:
            raise ConfigError(
                "the Dask runner needs a scheduler address (--address tcp://host:8786); start "
                "one with `dask scheduler` and workers with `dask worker tcp://host:8786`"
            )
        self.address = address
        self._client = client
        self._own_client = client is None
        self._placements: dict[str, _Placement] = {}
        self._futures: dict[Any, tuple[Task, float, float | None]] = {}
        self.capacity = workers or 1

    @property
    def client(self) -> Any:
        if self._client is None:
            distributed = _import_distributed()
            try:
                self._client = distributed.Client(self.address, timeout="10s")
            except OSError as exc:
                raise ConfigError(
                    f"cannot reach the Dask scheduler at {self.address!r}: {exc}"
                ) from exc
        return self._client

    def describe(self) -> dict[str, Any]:
        return {"runner": self.name, "address": self.address or str(self.client.scheduler.address)}

    def prepare(self, graph: Graph) -> None:
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        if not workers:
            raise ResourceUnavailableError(
                f"the Dask cluster at {self.address or 'the given client'} has no workers; "
                "start some with `dask worker ADDRESS`"
            )
        self.capacity = max(self.capacity, sum(int(w.get("nthreads", 1)) for w in workers.values()))
        for node in graph.nodes.values():
            self._placements[node.id] = self._place(node.id, node.step.resources, workers)
        _ship_project_code(graph)

    def ship(self, fn: Any) -> None:
        ship_by_value(fn)

    def _place(self, node: str, res: Resources, workers: dict[str, Any]) -> _Placement:
        if res.is_empty:
            return _Placement(None, None)
        wanted: dict[str, float] = {k: float(v) for k, v in res.custom.items()}
        declared = {k for w in workers.values() for k in (w.get("resources") or {})}
        checks: list[tuple[str, float]] = []  # (worker attribute, amount) when not declared
        for attr, dask_name in _DECLARED.items():
            amount = {"cpus": res.cpus, "memory": res.memory_bytes, "gpus": res.gpus or None}[attr]
            if amount is None:
                continue
            if dask_name in declared:
                wanted[dask_name] = float(amount)
            elif attr == "cpus":
                checks.append(("nthreads", float(amount)))
            elif attr == "memory":
                checks.append(("memory_limit", float(amount)))
            else:
                wanted[dask_name] = float(amount)  # GPUs must be declared: checked below
        eligible = [
            addr
            for addr, w in workers.items()
            if all((w.get("resources") or {}).get(k, 0) >= v for k, v in wanted.items())
            and all(float(w.get(a) or 0) >= v for a, v in checks)
        ]
        if not eligible:
            raise ResourceUnavailableError(
                f"step {node!r} requests {res.describe()}, and no worker of the Dask cluster "
                f"offers that. Workers: {_describe_workers(workers)}. Start a worker that "
                "does, e.g. `dask worker ADDRESS --nthreads 4 --memory-limit 16GiB "
                "--resources GPU=1`, or lower the request"
            )
        restrict = checks and len(eligible) < len(workers)
        return _Placement(wanted or None, eligible if restrict else None)

    def submit(self, task: Task) -> None:
        placement = self._placements.get(task.node, _Placement(None, None))
        future = self.client.submit(
            execute,
            task,
            catch=True,
            key=f"keel-{task.node}-{uuid.uuid4().hex[:8]}",
            pure=False,
            resources=placement.resources,
            workers=placement.workers,
            allow_other_workers=False,
        )
        now = time.monotonic()
        self._futures[future] = (task, now, now + task.timeout if task.timeout else None)

    def wait(self, timeout: float | None) -> list[TaskResult]:
        if not self._futures:
            return []
        distributed = _import_distributed()
        deadlines = [d for _t, _s, d in self._futures.values() if d is not None]
        if deadlines:
            until = max(0.0, min(deadlines) - time.monotonic())
            timeout = until if timeout is None else min(timeout, until)
        with contextlib.suppress(TimeoutError, distributed.TimeoutError):
            distributed.wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        results = [self._result(f) for f in list(self._futures) if f.done()]
        return results + self._expire()

    def _result(self, future: Any) -> TaskResult:
        task, started, _deadline = self._futures.pop(future)
        if future.status == "finished":
            result: TaskResult = future.result()
            return result
        try:
            exc = future.exception()
        except Exception as err:  # cancelled futures raise here
            exc = err
        kind = type(exc).__name__
        message = str(exc)
        if kind == "KilledWorker":
            message = (
                f"the Dask worker running step {task.node!r} died (Dask moved the task to "
                f"other workers until its allowed failures ran out): {exc}"
            )
        return TaskResult(
            task.node,
            ok=False,
            duration_s=time.monotonic() - started,
            error=message,
            error_type="WorkerDied" if kind == "KilledWorker" else kind,
        )

    def _expire(self) -> list[TaskResult]:
        now = time.monotonic()
        out = []
        for future, (task, started, deadline) in list(self._futures.items()):
            if deadline is not None and now >= deadline and not future.done():
                future.cancel()
                del self._futures[future]
                out.append(
                    TaskResult(
                        task.node,
                        ok=False,
                        duration_s=now - started,
                        error=f"step {task.node!r} ran longer than its timeout of "
                        f"{task.timeout:g}s; its Dask task was cancelled and its result "
                        "will be ignored",
                        error_type="StepTimeout",
                    )
                )
        return out

    def close(self) -> None:
        for future in list(self._futures):
            future.cancel()
        self._futures.clear()
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None


def _describe_workers(workers: dict[str, Any]) -> str:
    parts = []
    for addr, w in sorted(workers.items())[:5]:
        res = ", ".join(f"{k}={v:g}" for k, v in sorted((w.get("resources") or {}).items()))
        mem = format_bytes(float(w.get("memory_limit") or 0))
        parts.append(
            f"{addr} (threads={w.get('nthreads')}, memory={mem}{', ' + res if res else ''})"
        )
    more = f" and {len(workers) - 5} more" if len(workers) > 5 else ""
    return "; ".join(parts) + more


def _ship_project_code(graph: Graph) -> None:
    """Send the user's own modules by value, so workers need not have the pipeline file."""
    for node in graph.nodes.values():
        ship_by_value(node.step.fn)


def ship_by_value(fn: Any) -> None:
    """Pickle the user's module of ``fn`` by value (a library or keel's own: by reference)."""
    import cloudpickle

    module_name = getattr(fn, "__module__", None) or ""
    module = sys.modules.get(module_name)
    if module is None or module_name == "__main__" or not is_project_module(module_name):
        return
    with contextlib.suppress(ValueError):  # a module cloudpickle refuses
        cloudpickle.register_pickle_by_value(module)
