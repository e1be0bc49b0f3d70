"""Metric histories downsampled in the database, for charts.

A chart a few hundred pixels wide never needs a million points, and shipping them costs
more than drawing them. :func:`sample_history` splits a series' step range into at most
``points`` equal buckets and returns, per bucket, the first step and time, the mean, the
minimum and the maximum (min/max buckets keep spikes visible). The aggregation runs in
SQL over the ``(run_id, key, step)`` index; a series with no more points than asked for
comes back whole. NaN points are left out (they cannot be drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.store._db import Database
from keel.store.runs import _dbapi_cursor

MAX_POINTS = 5000

# Index-only (no NaN test): the range and the count decide between whole and bucketed.
_BOUNDS = "SELECT MIN(step), MAX(step), COUNT(*) FROM metrics WHERE run_id = {m} AND key = {m}"
_RAW = (
    "SELECT step, timestamp, value FROM metrics WHERE run_id = {m} AND key = {m} "
    "AND NOT is_nan ORDER BY step, timestamp"
)
_BUCKETS = (
    "SELECT (step - {m}) / {m} AS b, MIN(step), MIN(timestamp), AVG(value), MIN(value), "
    "MAX(value) FROM metrics WHERE run_id = {m} AND key = {m} AND NOT is_nan "
    "GROUP BY b ORDER BY b"
)


@dataclass(frozen=True, slots=True)
class SampledSeries:
    """One metric of one run, bucketed: parallel lists, one entry per bucket."""

    run_id: str
    key: str
    total: int  # points in the stored history
    steps: list[int]
    timestamps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


def sample_history(
    db: Database, run_ids: Sequence[str], key: str, *, points: int = 500
) -> list[SampledSeries]:
    """``key`` of each run in ``run_ids``, at most ``points`` buckets each (runs without
    the metric are left out). One read transaction; two statements per series."""
    if not 1 <= points <= MAX_POINTS:
        raise InvalidArgumentError(f"points must be between 1 and {MAX_POINTS}, got {points}")
    mark = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    sql = tuple(q.format(m=mark) for q in (_BOUNDS, _RAW, _BUCKETS))
    out: list[SampledSeries] = []
    with db.read() as conn, _dbapi_cursor(conn) as cursor:
        for run_id in run_ids:
            found = _series(cursor, sql, run_id, key, points)
            if found is not None:
                out.append(found)
    return out


def _series(
    cursor: Any, sql: tuple[str, ...], run_id: str, key: str, points: int
) -> SampledSeries | None:
    bounds, raw, buckets = sql
    cursor.execute(bounds, (run_id, key))
    row: Any = cursor.fetchone() or (0, 0, 0)
    lo, hi, total = row
    if not total:
        return None
    if total <= points:
        cursor.execute(raw, (run_id, key))
        rows = cursor.fetchall()
        values = [float(r[2]) for r in rows]
        steps, stamps = [int(r[0]) for r in rows], [int(r[1]) for r in rows]
        return SampledSeries(run_id, key, int(total), steps, stamps, values, values, values)
    width = max(1, -(-(int(hi) - int(lo) + 1) // points))
    cursor.execute(buckets, (int(lo), width, run_id, key))
    rows = cursor.fetchall()
    return SampledSeries(
        run_id,
        key,
        int(total),
        [int(r[1]) for r in rows],
        [int(r[2]) for r in rows],
        [float(r[3]) for r in rows],
        [float(r[4]) for r in rows],
        [float(r[5]) for r in rows],
    )


__all__ = ["MAX_POINTS", "SampledSeries", "sample_history"]
