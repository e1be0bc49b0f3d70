"""Metric histories downsampled in the database, for charts.

A chart a few hundred pixels wide never needs a million points, and shipping them costs
more than drawing them. :func:`sample_history` reduces each series to at most ``points``
entries, in SQL over the ``(run_id, key, step)`` index, in one of two ways:

* ``exact=True`` (min/max buckets): the step range is cut into equal buckets and each
  gives its first step and time, mean, minimum and maximum, so a spike stays visible. It
  reads every stored point (one table lookup each), which is what it costs.
* ``exact=False`` (stride): every k-th step, plus the last one, found on the index alone
  (seeks on the exact steps, else a modulo test), so only the points returned are read
  from the table: two to three times cheaper on long histories. This is how a view of a
  hundred overlaid runs stays fast (MLflow's UI samples steps the same way); when steps
  are too irregular for a stride to find enough of them, it falls back to buckets.

A series with no more points than asked for comes back whole. NaN points are left out
(they cannot be drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.store._db import Database, _dbapi_cursor

MAX_POINTS = 5000

_SERIES = "FROM metrics WHERE run_id = {m} AND key = {m}"
# Index-only and cheap: the step range by two index seeks, and whether the series has more
# than ``points`` entries by counting no further than that.
_BOUNDS = (
    f"SELECT (SELECT MIN(step) {_SERIES}), (SELECT MAX(step) {_SERIES}), "
    f"(SELECT COUNT(*) FROM (SELECT 1 {_SERIES} LIMIT {{m}}) AS head)"
)
_RAW = f"SELECT step, timestamp, value {_SERIES} AND NOT is_nan ORDER BY step, timestamp"
_BUCKETS = (
    "SELECT ({col} - {m}) / {m} AS b, MIN(step), MIN(timestamp), AVG(value), MIN(value), "
    f"MAX(value) {_SERIES} AND NOT is_nan GROUP BY b ORDER BY b"
)
_TIMES = f"SELECT MIN(timestamp), MAX(timestamp) {_SERIES}"
# Both step tests are answered by the index, so only matching rows are read from the table.
_SEEK = (
    f"SELECT step, timestamp, value {_SERIES} AND step IN ({{marks}}) AND NOT is_nan "
    "ORDER BY step, timestamp"
)
_STRIDE = (
    f"SELECT step, timestamp, value {_SERIES} "
    "AND ((step - {m}) {mod} {m} = 0 OR step = {m}) AND NOT is_nan ORDER BY step, timestamp"
)


@dataclass(frozen=True, slots=True)
class SampledSeries:
    """One metric of one run, downsampled: parallel lists, one entry per point kept."""

    run_id: str
    key: str
    total: int  # points stored, or ``points + 1`` standing for "more than were kept"
    steps: list[int]
    timestamps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


def sample_history(
    db: Database, run_ids: Sequence[str], key: str, *, points: int = 500, exact: bool = True
) -> list[SampledSeries]:
    """``key`` of each run in ``run_ids`` in at most ``points`` entries (runs without the
    metric are left out); ``exact`` chooses min/max buckets over a stride. One read
    transaction, two or three statements per series."""
    if not 1 <= points <= MAX_POINTS:
        raise InvalidArgumentError(f"points must be between 1 and {MAX_POINTS}, got {points}")
    qmark = db.engine.dialect.paramstyle == "qmark"
    mark, mod = ("?", "%") if qmark else ("%s", "%%")  # "format" drivers escape a literal %
    sql = _Statements(
        bounds=_BOUNDS.format(m=mark),
        raw=_RAW.format(m=mark),
        buckets=_BUCKETS.format(m=mark, col="step"),
        stride=_STRIDE.format(m=mark, mod=mod),
        time_buckets=_BUCKETS.format(m=mark, col="timestamp"),
        times=_TIMES.format(m=mark),
        seek=_SEEK.format(m=mark, marks="{marks}"),
        mark=mark,
    )
    out: list[SampledSeries] = []
    with db.read() as conn, _dbapi_cursor(conn) as cursor:
        for run_id in run_ids:
            found = sql.series(cursor, run_id, key, points, exact)
            if found is not None:
                out.append(found)
    return out


@dataclass(frozen=True, slots=True)
class _Statements:
    bounds: str
    raw: str
    buckets: str
    stride: str
    time_buckets: str
    times: str
    seek: str
    mark: str

    def series(
        self, cursor: Any, run_id: str, key: str, points: int, exact: bool
    ) -> SampledSeries | None:
        series = (run_id, key)
        cursor.execute(self.bounds, (*series, *series, *series, points + 1))
        row: Any = cursor.fetchone() or (0, 0, 0)
        lo, hi, count = int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
        if not count:
            return None
        if count <= points:
            cursor.execute(self.raw, series)
            return _whole(run_id, key, count, cursor.fetchall())
        width = max(1, -(-(hi - lo + 1) // points))
        if not exact:
            rows = self._strided(cursor, series, lo, hi, width, points)
            if rows is not None:
                return _whole(run_id, key, count, rows)
        cursor.execute(self.buckets, (lo, width, *series))
        rows = cursor.fetchall()
        if len(rows) * 4 < points:  # steps repeat (logged without a step): bucket by time
            cursor.execute(self.times, series)
            t_lo, t_hi = (int(v or 0) for v in cursor.fetchone())
            cursor.execute(
                self.time_buckets, (t_lo, max(1, -(-(t_hi - t_lo + 1) // points)), *series)
            )
            rows = cursor.fetchall()
        return _bucketed(run_id, key, count, rows)

    def _strided(
        self, cursor: Any, series: tuple[str, str], lo: int, hi: int, width: int, points: int
    ) -> list[Any] | None:
        """Every ``width``-th step: first by index seeks on the exact steps (steps logged
        0, 1, 2 ...), then by a modulo test on the index; None when steps are too irregular
        (or repeated) for a stride to find a fair sample."""
        targets = [*range(lo, hi + 1, width), hi][: points + 1]
        marks = ", ".join([self.mark] * len(targets))
        cursor.execute(self.seek.format(marks=marks), (*series, *targets))
        rows = cursor.fetchall()
        if not points <= len(rows) * 4 <= 4 * (points + 1):
            cursor.execute(self.stride, (*series, lo, width, hi))
            rows = cursor.fetchall()
        return rows if points <= len(rows) * 4 <= 4 * (points + 1) else None


def _bucketed(run_id: str, key: str, count: int, rows: Sequence[Any]) -> SampledSeries:
    return SampledSeries(
        run_id,
        key,
        count,
        [int(r[1]) for r in rows],
        [int(r[2]) for r in rows],
        [float(r[3]) for r in rows],
        [float(r[4]) for r in rows],
        [float(r[5]) for r in rows],
    )


def _whole(run_id: str, key: str, total: int, rows: Sequence[Any]) -> SampledSeries:
    values = [float(r[2]) for r in rows]
    steps, stamps = [int(r[0]) for r in rows], [int(r[1]) for r in rows]
    return SampledSeries(run_id, key, total, steps, stamps, values, values, values)


def latest_points(db: Database, run_ids: Sequence[str], key: str) -> list[tuple[str, int, int]]:
    """(run id, step, timestamp) of the newest point of ``key`` in each run that has one:
    what changes when a run logs more of it (callers key caches on it)."""
    if not run_ids:
        return []
    mark = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * len(run_ids))
    sql = (
        f"SELECT run_id, step, timestamp FROM latest_metrics WHERE key = {mark} "
        f"AND run_id IN ({marks}) ORDER BY run_id"
    )
    with db.read() as conn, _dbapi_cursor(conn) as cursor:
        cursor.execute(sql, (key, *run_ids))
        return [(str(r[0]), int(r[1]), int(r[2])) for r in cursor.fetchall()]


__all__ = ["MAX_POINTS", "SampledSeries", "latest_points", "sample_history"]
