"""The runs table at driver level: the hot paths' SQL text, row decoding, metric batch
validation, and bulk creation of finished step runs (used by
:class:`keel.store.runs.RunRepository` and the pipeline store)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.store._db import Database, now_ms
from keel.store._lazy import Tables
from keel.store._validate import (
    MAX_TAG_VALUE,
    check_key,
    check_name,
    check_value,
)
from keel.store.entities import Lifecycle, Metric, RunInfo, RunStatus

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPICursor

_S = "keel.store._schema:"
_t = Tables(
    R=_S + "RunRow",
    M=_S + "MetricRow",
    LM=_S + "LatestMetricRow",
    RD=_S + "RunDatasetRow",
    DV=_S + "DatasetVersionRow",
)

MAX_BATCH = 100_000


def run_info(row: Mapping[str, Any]) -> RunInfo:
    """A run's info from its row as a mapping (``Row._mapping``, or :func:`records`).

    Spelled out rather than :func:`~keel.store._rows.entity`: searches convert thousands of
    rows, and the generic mapping walk made a 1,000-run search ~20% slower."""
    return RunInfo(
        id=row["id"],
        experiment_id=row["experiment_id"],
        name=row["name"],
        status=RunStatus(row["status"]),
        start_time=row["start_time"],
        end_time=row["end_time"],
        lifecycle=Lifecycle(row["lifecycle"]),
        user=row["user"],
        parent_id=row["parent_id"],
        note=row["note"],
    )


#: The columns of a run, named as :class:`RunInfo`'s fields (driver-level SQL).
_RUN_COLS = (
    'SELECT id, experiment_id, name, status, start_time, end_time, lifecycle, "user", '
    "parent_id, note FROM runs"
)
_INSERT_RUN = (
    "INSERT INTO runs (id, experiment_id, parent_id, name, status, start_time, end_time, "
    'lifecycle, "user", note, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
)
#: Every write that changes what search finds a run by stamps the run (see keel.store.search).
_STAMP_RUN = "UPDATE runs SET updated_at = ? WHERE id = ?"
_INSERT_PARAM = "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_UPSERT_TAG = (
    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
)


MetricTuple = tuple[str, str, float, Any, int, int]


def _metric_values(
    run_id: str, metrics: Iterable[Metric], flags: tuple[Any, Any] = (False, True)
) -> tuple[list[Any], list[MetricTuple]]:
    """Validated ``metrics`` as one flat list of column values (six per point, what a
    multi-row INSERT binds) and the newest point per key (highest step, then timestamp).

    This is the hot loop of big batches: each distinct key is checked once. ``flags`` are
    the values stored in ``is_nan`` for (a number, NaN).
    """
    not_nan, is_nan = flags
    values: list[Any] = []
    extend = values.extend
    latest: dict[str, MetricTuple] = {}
    newest = latest.get
    checked: set[str] = set()
    ts_default = now_ms()
    for m in metrics:
        key, step = m.key, m.step
        if type(key) is not str or key not in checked:
            checked.add(check_key("metric", key))
        if type(step) is not int and (not isinstance(step, int) or isinstance(step, bool)):
            raise InvalidArgumentError(f"metric {key!r} step must be an integer, got {step!r}")
        value = float(m.value)
        ts = m.timestamp or ts_default
        if value != value:  # NaN
            row: MetricTuple = (run_id, key, 0.0, is_nan, step, ts)
        else:
            row = (run_id, key, value, not_nan, step, ts)
        extend(row)
        cur = newest(key)
        if cur is None or step > cur[4] or (step == cur[4] and ts >= cur[5]):
            latest[key] = row
    return values, list(latest.values())


_METRIC_COLS = ("run_id", "key", "value", "is_nan", "step", "timestamp")
# Driver-level SQL for the hot path: building Core statements per call costs more than
# SQLite's insert itself. The same text runs on SQLite and PostgreSQL.
_INSERT_METRIC = "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp) VALUES {}"
_UPSERT_LATEST = (
    "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) VALUES {} "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, "
    "step = excluded.step, timestamp = excluded.timestamp "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
    "AND excluded.timestamp >= latest_metrics.timestamp)"
)
_RUN_LIFECYCLE = "SELECT lifecycle FROM runs WHERE id = {}"
_SELECT_KV = "SELECT run_id, key, value FROM {} WHERE run_id IN ({})"
_SELECT_LATEST = (
    "SELECT run_id, key, value, is_nan, step, timestamp FROM latest_metrics WHERE run_id IN ({})"
)
# Rows per multi-row INSERT: a quarter fewer driver round trips than executemany on SQLite,
# and 3,000 parameters stay under every backend's limit (SQLite 32,766; PostgreSQL 65,535).
_ROWS_PER_INSERT = 500


@dataclass(frozen=True, slots=True)
class _DriverSQL:
    """The hot paths' statements in the driver's parameter style."""

    mark: str
    one: str
    many: str
    latest: str
    lifecycle: str
    # is_nan values: pysqlite binds ints directly but sends bools through its adapter
    # lookup; PostgreSQL's boolean column needs real bools.
    flags: tuple[Any, Any]

    @classmethod
    def for_database(cls, db: Database) -> _DriverSQL:
        mark = "?" if db.is_sqlite else "%s"
        row = "(" + ", ".join([mark] * len(_METRIC_COLS)) + ")"
        return cls(
            mark=mark,
            one=_INSERT_METRIC.format(row),
            many=_INSERT_METRIC.format(", ".join([row] * _ROWS_PER_INSERT)),
            latest=_UPSERT_LATEST.format(row),
            lifecycle=_RUN_LIFECYCLE.format(mark),
            flags=db.flags,
        )

    def insert(self, cursor: DBAPICursor, values: list[Any]) -> None:
        """Insert the points in ``values`` (six columns each) in order: multi-row INSERTs of
        ``_ROWS_PER_INSERT`` points, then the rest one statement per point."""
        cols = len(_METRIC_COLS)
        width = _ROWS_PER_INSERT * cols
        full = len(values) - len(values) % width
        for start in range(0, full, width):
            cursor.execute(self.many, values[start : start + width])
        rest = values[full:]
        if len(rest) == cols:
            cursor.execute(self.one, rest)
        elif rest:
            cursor.executemany(self.one, list(zip(*[iter(rest)] * cols, strict=True)))


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _tag_rows(run_id: str, tags: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Validated (run_id, key, value) rows; a key given twice keeps its last value."""
    rows = {
        k: (run_id, check_key("tag", k), check_value("tag", k, str(v), MAX_TAG_VALUE))
        for k, v in tags.items()
    }
    return list(rows.values())


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A step run to create in bulk (cached steps are recorded many at a time; a step run
    still running has no ``end_time``)."""

    id: str
    experiment_id: int
    parent_id: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    user: str
    tags: dict[str, str]


def insert_finished_runs(db: Database, cur: DBAPICursor, runs: Sequence[ChildRun]) -> None:
    """Create already-finished runs with their tags inside the caller's transaction
    (``cur`` from ``db.cursor(write=True)``).

    For bulk writers that must record runs atomically with their own rows (a pipeline records
    the runs of its cached steps together with the step rows).
    """
    if not runs:
        return
    stamp = now_ms()
    cur.executemany(
        db.sql(_INSERT_RUN),
        [
            (
                r.id,
                r.experiment_id,
                r.parent_id,
                check_name("run", r.name),
                r.status,
                r.start_time,
                r.end_time,
                Lifecycle.ACTIVE.value,
                r.user,
                "",
                stamp,
            )
            for r in runs
        ],
    )
    tags = [row for r in runs for row in _tag_rows(r.id, r.tags)]
    if tags:
        cur.executemany(db.sql(_UPSERT_TAG), tags)
