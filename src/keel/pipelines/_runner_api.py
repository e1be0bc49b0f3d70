"""The runner interface: what the executor drives and every runner implements.

Below the implementations (:mod:`~keel.pipelines._runners` for in-process and forked
processes, :mod:`~keel.pipelines._dask` for Dask) and the driver
(:mod:`~keel.pipelines._executor`), so :func:`~keel.pipelines._runners.make_runner` can
choose the Dask runner without the Dask module importing it back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.pipelines._graph import Graph
    from keel.pipelines._task import Task, TaskResult


class Runner(ABC):
    """Executes step attempts. ``capacity`` is how many may run at once."""

    name: str = "runner"
    capacity: int = 1
    in_memory: bool = False  # outputs come back as values (no blob round trip needed)

    def prepare(self, graph: Graph) -> None:  # noqa: B027 - optional hook
        """Check the graph can run here (resources); raise before anything is recorded."""

    @abstractmethod
    def submit(self, task: Task) -> None: ...

    @abstractmethod
    def wait(self, timeout: float | None) -> list[TaskResult]:
        """Results finished since the last call; waits up to ``timeout`` for the first one."""

    def ship(self, fn: Any) -> None:  # noqa: B027 - optional hook
        """Make the user's module of ``fn`` available where tasks run (Dask: by value)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers and connections."""

    def describe(self) -> dict[str, Any]:
        return {"runner": self.name}


__all__ = ["Runner"]
