"""Counts the pages show: runs matching a filter, runs and last activity per experiment.

Each is one aggregate query over the runs table (an index on ``experiment_id,
start_time`` serves both), so a list of experiments costs one query however many runs
they hold. They belong in :class:`keel.store.RunRepository` once the store grows a
``count``; until then they read through the same compiled search the repository uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from keel.store import Database, Lifecycle
from keel.store._run_search import compile_search
from keel.store._schema import ExperimentRow, RunRow, table

R = table(RunRow)
E = table(ExperimentRow)


@dataclass(frozen=True)
class Activity:
    """How many live runs a group holds and when the latest of them started or ended."""

    runs: int = 0
    last_ms: int | None = None


def count_runs(db: Database, experiment_id: int, filter_string: str | None) -> int:
    """How many live runs of the experiment match ``filter_string`` (the SDK's grammar)."""
    query = compile_search(
        [experiment_id], filter_string, order_by=None, max_results=1, offset=0,
        include_deleted=False,
    )  # fmt: skip
    inner = query.order_by(None).limit(None).offset(None).with_only_columns(R.c.id).subquery()
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def _last() -> Any:
    return func.max(func.coalesce(R.c.end_time, R.c.start_time))


def by_experiment(db: Database, experiment_ids: Sequence[int]) -> dict[int, Activity]:
    if not experiment_ids:
        return {}
    query = (
        select(R.c.experiment_id, func.count(), _last())
        .where(R.c.experiment_id.in_(list(experiment_ids)))
        .where(R.c.lifecycle == Lifecycle.ACTIVE.value)
        .group_by(R.c.experiment_id)
    )
    with db.read() as conn:
        return {row[0]: Activity(int(row[1]), row[2]) for row in conn.execute(query)}


def by_project(db: Database, project_ids: Sequence[int]) -> dict[int, Activity]:
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
    with db.read() as conn:
        return {row[0]: Activity(int(row[1]), row[2]) for row in conn.execute(query)}


__all__ = ["Activity", "by_experiment", "by_project", "count_runs"]
