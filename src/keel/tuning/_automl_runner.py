"""Where AutoML's candidates run: in this process one after another, or on a Dask cluster.

A runner takes :class:`~keel.tuning._automl_search.Job` s (plain data) and yields each one's
:class:`~keel.tuning._automl_search.Outcome` as it finishes. The fold data is sent to the
workers once (``start``); each job then carries only its family, config and deadline, so a
cluster of N worker threads cross-validates N candidates at a time. Dask runs the jobs in
worker processes started from the same environment (keel and the model libraries
importable there); the driver keeps the clock, the leaderboard and the tracking.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.tuning._automl_search import Folds, Job, Outcome, Runner, cross_validate

RUNNERS = ("inprocess", "dask")
#: How long past a job's deadline the driver still waits for it (a fit stops at the
#: deadline on its worker; this covers the step in flight and the result's transfer).
CUT_GRACE_S = 1.0


class InlineRunner:
    """One job after another in this process (each pulled only when the last is done)."""

    name = "inprocess"
    capacity = 1

    def __init__(self) -> None:
        self._folds: Folds | None = None

    def start(self, folds: Folds, families: list[str]) -> None:
        self._folds = folds

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, Outcome]]:
        assert self._folds is not None, "start() first"
        for job in jobs:
            yield job, cross_validate(job, self._folds)

    def close(self) -> None:
        self._folds = None


class DaskRunner:
    """Jobs as tasks on the Dask scheduler at ``address``, as many at once as it has threads."""

    name = "dask"

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ConfigError(
                "the Dask runner needs dask.distributed: pip install 'keel[dask]'"
            ) from exc
        self._distributed = distributed
        try:
            self.client = distributed.Client(address, timeout="10s")
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from exc
        threads = sum(self.client.nthreads().values())
        if threads == 0:
            self.client.close()
            raise ConfigError(f"the Dask scheduler at {address!r} has no workers")
        self.capacity = threads
        self._folds: Any = None

    def start(self, folds: Folds, families: list[str]) -> None:
        from keel.tuning._automl_families import import_families

        self.client.run(import_families, families)  # every worker, before the first candidate
        self._folds = self.client.scatter(folds, broadcast=True)

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, Outcome]]:
        """Each job's outcome as it lands; past the jobs' deadline (plus
        :data:`CUT_GRACE_S`) the driver stops waiting, cancels what is left and reports it
        cut (the workers' fits stop at the deadline themselves)."""
        futures = {
            self.client.submit(cross_validate, job, self._folds, pure=False): job for job in jobs
        }
        limit = None
        if jobs and not any(job.force for job in jobs):
            limit = max(max(job.deadline for job in jobs) + CUT_GRACE_S - time.time(), 0.0)
        pending = dict(futures)
        try:
            for future in self._distributed.as_completed(futures, timeout=limit):
                yield pending.pop(future), future.result()
        except TimeoutError:
            for future, job in pending.items():
                future.cancel()
                yield job, Outcome(None, [])

    def close(self) -> None:
        self.client.close()


def make_runner(runner: str | None, address: str | None) -> Runner:
    """The runner called ``runner`` (default ``inprocess``; ``dask`` needs ``address``)."""
    key = (runner or "inprocess").lower()
    if key == "inprocess":
        return InlineRunner()
    if key == "dask":
        if not address:
            raise ConfigError(
                "the Dask runner needs a scheduler address (--address tcp://host:8786); start "
                "one with `dask scheduler` and workers with `dask worker tcp://host:8786`"
            )
        return DaskRunner(address)
    raise InvalidArgumentError(f"unknown runner {runner!r}; choose {' or '.join(RUNNERS)}")


__all__ = ["RUNNERS", "DaskRunner", "InlineRunner", "Runner", "make_runner"]
