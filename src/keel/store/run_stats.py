"""What the web UI's pages count and chart: runs matching a filter, activity per
experiment or project, and metric histories sampled down to a chart's width.

Each count is one aggregate query over the runs table (an index on ``experiment_id,
start_time`` serves them), so a list of experiments costs one query however many runs it
holds; sampling is :mod:`keel.store.metric_sampling`'s driver-level SQL. SQL only: the
pages that need it are served where the database is. Thread-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from keel.store._db import SqlRepository
from keel.store._run_search import compile_count
from keel.store._schema import ExperimentRow, RunRow, table
from keel.store.entities import Lifecycle
from keel.store.metric_sampling import SampledSeries, latest_points, sample_history

R = table(RunRow)
E = table(ExperimentRow)


@dataclass(frozen=True)
class Activity:
    """How many live runs a group holds and when the latest of them started or ended."""

    runs: int = 0
    last_ms: int | None = None


def _last() -> Any:
    return func.max(func.coalesce(R.c.end_time, R.c.start_time))


class RunStatsRepository(SqlRepository):
    """Counts and sampled metric histories over the runs of one database."""

    def count(self, experiment_id: int, filter_string: str | None = None, *, cap: int = 0) -> int:
        """How many live runs of the experiment match ``filter_string`` (the SDK's grammar);
        with ``cap``, at most ``cap + 1`` (a filter matching 50,000 of 100,000 runs takes
        half a second to count exactly on SQLite; the first ``cap`` are quick to find)."""
        inner = compile_count([experiment_id], filter_string)
        if cap:
            inner = inner.limit(cap + 1)
        with self._db.read() as conn:
            query = select(func.count()).select_from(inner.subquery())
            return int(conn.execute(query).scalar_one())

    def by_experiment(self, experiment_ids: Sequence[int]) -> dict[int, Activity]:
        if not experiment_ids:
            return {}
        query = (
            select(R.c.experiment_id, func.count(), _last())
            .where(R.c.experiment_id.in_(list(experiment_ids)))
            .where(R.c.lifecycle == Lifecycle.ACTIVE.value)
            .group_by(R.c.experiment_id)
        )
        with self._db.read() as conn:
            return {row[0]: Activity(int(row[1]), row[2]) for row in conn.execute(query)}

    def by_project(self, project_ids: Sequence[int]) -> dict[int, Activity]:
        if not project_ids:
            return {}
        query = (
            select(E.c.project_id, func.count(), _last())
            .select_from(R.join(E, E.c.id == R.c.experiment_id))
            .where(E.c.project_id.in_(list(project_ids)))
            .where(R.c.lifecycle == Lifecycle.ACTIVE.value)
            .where(E.c.lifecycle == Lifecycle.ACTIVE.value)
            .group_by(E.c.project_id)
        )
        with self._db.read() as conn:
            return {row[0]: Activity(int(row[1]), row[2]) for row in conn.execute(query)}

    def sample_history(
        self, run_ids: Sequence[str], key: str, *, points: int = 500, exact: bool = True
    ) -> list[SampledSeries]:
        """See :func:`keel.store.metric_sampling.sample_history`."""
        return sample_history(self._db, run_ids, key, points=points, exact=exact)

    def latest_points(self, run_ids: Sequence[str], key: str) -> list[tuple[str, int, int]]:
        """See :func:`keel.store.metric_sampling.latest_points`."""
        return latest_points(self._db, run_ids, key)


__all__ = ["Activity", "RunStatsRepository"]
