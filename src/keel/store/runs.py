"""Runs and what they record: params, metrics, tags, notes and dataset lineage.

The logging paths are written for the database: one transaction per call, statements
sent through the driver's cursor inside that transaction (no ORM objects, no per-statement
SQLAlchemy work), multi-row inserts for batches, and the newest value of each metric kept
in ``latest_metrics`` so search never scans metric history. Thread-safe: every method
runs its own transaction.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.engine.interfaces import DBAPICursor, Dialect
from sqlalchemy.exc import DBAPIError

from keel.exceptions import InvalidArgumentError, NotFoundError, ParamConflictError
from keel.store._db import Database, now_ms
from keel.store._names import random_run_name
from keel.store._schema import (
    DatasetVersionRow,
    ExperimentRow,
    LatestMetricRow,
    MetricRow,
    ParamRow,
    RunDatasetRow,
    RunRow,
    TagRow,
    table,
)
from keel.store._upsert import upsert
from keel.store._validate import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    check_key,
    check_name,
    check_value,
)
from keel.store.entities import Lifecycle, Metric, Run, RunInfo, RunPage, RunStatus

R = table(RunRow)
E = table(ExperimentRow)
P = table(ParamRow)
T = table(TagRow)
M = table(MetricRow)
LM = table(LatestMetricRow)
RD = table(RunDatasetRow)
DV = table(DatasetVersionRow)

MAX_BATCH = 100_000


def run_info(row: Row) -> RunInfo:
    return RunInfo(
        id=row.id,
        experiment_id=row.experiment_id,
        name=row.name,
        status=RunStatus(row.status),
        start_time=row.start_time,
        end_time=row.end_time,
        lifecycle=Lifecycle(row.lifecycle),
        user=row.user,
        parent_id=row.parent_id,
        note=row.note,
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


@contextmanager
def _dbapi_cursor(conn: Connection) -> Iterator[DBAPICursor]:
    """A driver cursor inside ``conn``'s open transaction, for logging and search results.

    It skips SQLAlchemy's per-statement machinery (~40 us each, more than SQLite's insert);
    driver errors come out as SQLAlchemy's, so :class:`Database` still translates them.
    """
    base_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        yield cursor
    except base_error as exc:
        raise DBAPIError.instance(None, None, exc, base_error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


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
    def for_dialect(cls, dialect: Dialect) -> _DriverSQL:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        row = "(" + ", ".join([mark] * len(_METRIC_COLS)) + ")"
        return cls(
            mark=mark,
            one=_INSERT_METRIC.format(row),
            many=_INSERT_METRIC.format(", ".join([row] * _ROWS_PER_INSERT)),
            latest=_UPSERT_LATEST.format(row),
            lifecycle=_RUN_LIFECYCLE.format(mark),
            flags=(0, 1) if dialect.name == "sqlite" else (False, True),
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


class RunRepository:
    """Create runs and record what they log."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = _DriverSQL.for_dialect(db.engine.dialect)

    # -- lifecycle -------------------------------------------------------------------------
    def create(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        user: str = "",
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
        status: RunStatus = RunStatus.RUNNING,
    ) -> RunInfo:
        run_id = uuid.uuid4().hex
        name = check_name("run", name) if name is not None else random_run_name()
        with self._db.write() as conn:
            exp = conn.execute(select(E.c.lifecycle).where(E.c.id == experiment_id)).first()
            if exp is None:
                raise NotFoundError(f"experiment id {experiment_id} does not exist")
            if exp.lifecycle != Lifecycle.ACTIVE.value:
                raise InvalidArgumentError(
                    f"experiment id {experiment_id} is deleted; restore it before adding runs"
                )
            if parent_id is not None:
                self._require_active(conn, parent_id)
            conn.execute(
                insert(R).values(
                    id=run_id,
                    experiment_id=experiment_id,
                    parent_id=parent_id,
                    name=name,
                    status=status.value,
                    start_time=start_time or now_ms(),
                    end_time=None,
                    lifecycle=Lifecycle.ACTIVE.value,
                    user=user,
                    note="",
                )
            )
            self._set_tags(conn, run_id, tags or {})
        return self.get_info(run_id)

    def get_info(self, run_id: str) -> RunInfo:
        with self._db.read() as conn:
            return run_info(self._row(conn, run_id))

    def get(self, run_id: str) -> Run:
        with self._db.read() as conn:
            info = run_info(self._row(conn, run_id))
            return self._hydrate(conn, [info])[0]

    def get_many(self, run_ids: Sequence[str]) -> list[Run]:
        with self._db.read() as conn:
            rows = conn.execute(select(R).where(R.c.id.in_(list(run_ids)))).all()
            by_id = {r.id: run_info(r) for r in rows}
            missing = [i for i in run_ids if i not in by_id]
            if missing:
                raise NotFoundError(f"run id {missing[0]!r} does not exist")
            return self._hydrate(conn, [by_id[i] for i in run_ids])

    def update(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        note: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = RunStatus(status).value
            if RunStatus(status).is_terminal and end_time is None:
                values["end_time"] = now_ms()
        if end_time is not None:
            values["end_time"] = end_time
        if name is not None:
            values["name"] = check_name("run", name)
        if note is not None:
            values["note"] = note
        if values:
            with self._db.write() as conn:
                n = conn.execute(update(R).where(R.c.id == run_id).values(**values)).rowcount
            if n == 0:
                raise NotFoundError(f"run id {run_id!r} does not exist")
        return self.get_info(run_id)

    def delete(self, run_id: str) -> None:
        self._set_lifecycle(run_id, Lifecycle.DELETED)

    def restore(self, run_id: str) -> None:
        self._set_lifecycle(run_id, Lifecycle.ACTIVE)

    def _set_lifecycle(self, run_id: str, lifecycle: Lifecycle) -> None:
        with self._db.write() as conn:
            n = conn.execute(
                update(R).where(R.c.id == run_id).values(lifecycle=lifecycle.value)
            ).rowcount
        if n == 0:
            raise NotFoundError(f"run id {run_id!r} does not exist")

    def children(self, run_id: str) -> list[RunInfo]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(R).where(R.c.parent_id == run_id).order_by(R.c.start_time)
            ).all()
        return [run_info(r) for r in rows]

    # -- logging ---------------------------------------------------------------------------
    def log_metric(self, run_id: str, metric: Metric) -> None:
        """Store one point; durable when this returns."""
        self.log_batch(run_id, metrics=[metric])

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Store metrics, params and tags in one transaction: all of them or none."""
        if len(metrics) > MAX_BATCH:
            raise InvalidArgumentError(
                f"a batch holds at most {MAX_BATCH} metrics, got {len(metrics)}; split it"
            )
        values, latest = _metric_values(run_id, metrics, self._sql.flags)
        param_rows = self._param_rows(run_id, params or {})
        with self._db.write() as conn:
            with _dbapi_cursor(conn) as cursor:
                self._require_active(cursor, run_id)
                if values:
                    self._sql.insert(cursor, values)
                    cursor.executemany(self._sql.latest, latest)
            if param_rows:
                self._insert_params(conn, run_id, param_rows)
            if tags:
                self._set_tags(conn, run_id, tags)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.log_batch(run_id, tags=tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._db.write() as conn:
            self._require_active(conn, run_id)
            n = conn.execute(delete(T).where(T.c.run_id == run_id, T.c.key == key)).rowcount
        if n == 0:
            raise NotFoundError(f"run {run_id!r} has no tag {key!r}")

    def metric_history(
        self, run_id: str, key: str, *, offset: int = 0, limit: int | None = None
    ) -> list[Metric]:
        """Every point of one metric, by step then timestamp."""
        query = (
            select(M.c.key, M.c.value, M.c.is_nan, M.c.step, M.c.timestamp)
            .where(M.c.run_id == run_id, M.c.key == key)
            .order_by(M.c.step, M.c.timestamp, M.c.id)
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            self._row(conn, run_id)
            rows = conn.execute(query).all()
        return [Metric(r.key, math.nan if r.is_nan else r.value, r.step, r.timestamp) for r in rows]

    def metric_keys(self, run_id: str) -> list[str]:
        with self._db.read() as conn:
            return list(
                conn.execute(
                    select(LM.c.key).where(LM.c.run_id == run_id).order_by(LM.c.key)
                ).scalars()
            )

    # -- lineage ---------------------------------------------------------------------------
    def link_dataset(self, run_id: str, version_id: int, direction: str) -> None:
        if direction not in ("input", "output"):
            raise InvalidArgumentError(f"direction must be 'input' or 'output', not {direction!r}")
        with self._db.write() as conn:
            self._require_active(conn, run_id)
            if conn.execute(select(DV.c.id).where(DV.c.id == version_id)).first() is None:
                raise NotFoundError(f"dataset version id {version_id} does not exist")
            upsert(
                conn,
                RD,
                [{"run_id": run_id, "version_id": version_id, "direction": direction}],
                keys=("run_id", "version_id", "direction"),
            )

    def dataset_links(self, run_id: str) -> list[tuple[int, str]]:
        """(dataset version id, direction) pairs for a run."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(RD.c.version_id, RD.c.direction).where(RD.c.run_id == run_id)
            ).all()
        return [(r.version_id, r.direction) for r in rows]

    # -- search ----------------------------------------------------------------------------
    def search(
        self,
        experiment_ids: Sequence[int],
        filter_string: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        """Runs of ``experiment_ids`` matching a filter (see :mod:`keel.store.filters`)."""
        from keel.store._run_search import compile_search, decode_token, encode_token

        offset = decode_token(page_token)
        query = compile_search(
            experiment_ids,
            filter_string,
            order_by=order_by,
            max_results=max_results,
            offset=offset,
            include_deleted=include_deleted,
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            infos = [run_info(r) for r in rows[:max_results]]
            runs = self._hydrate(conn, infos)
        token = encode_token(offset + max_results) if len(rows) > max_results else None
        return RunPage(runs, token)

    # -- helpers ---------------------------------------------------------------------------
    def _row(self, conn: Connection, run_id: str) -> Row:
        row = conn.execute(select(R).where(R.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"run id {run_id!r} does not exist")
        return row

    def _require_active(self, conn: Connection | DBAPICursor, run_id: str) -> None:
        if isinstance(conn, Connection):
            row = conn.exec_driver_sql(self._sql.lifecycle, (run_id,)).first()
        else:
            conn.execute(self._sql.lifecycle, (run_id,))
            row = conn.fetchone()
        if row is None:
            raise NotFoundError(f"run id {run_id!r} does not exist")
        if row[0] != Lifecycle.ACTIVE.value:
            raise InvalidArgumentError(f"run {run_id!r} is deleted; restore it to log to it")

    @staticmethod
    def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "run_id": run_id,
                "key": check_key("param", k),
                "value": check_value("param", k, _param_text(v), MAX_PARAM_VALUE),
            }
            for k, v in params.items()
        ]

    @staticmethod
    def _insert_params(conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
        keys = [r["key"] for r in rows]
        existing = dict(
            conn.execute(
                select(P.c.key, P.c.value).where(P.c.run_id == run_id, P.c.key.in_(keys))
            ).all()
        )
        for r in rows:
            old = existing.get(r["key"])
            if old is not None and old != r["value"]:
                raise ParamConflictError(
                    f"param {r['key']!r} of run {run_id!r} is already {old!r}; it cannot be "
                    f"changed to {r['value']!r}. Params are immutable: start a new run, or log "
                    "the changing value as a metric or tag."
                )
        new = [r for r in rows if r["key"] not in existing]
        upsert(conn, P, new, keys=("run_id", "key"))

    @staticmethod
    def _set_tags(conn: Connection, run_id: str, tags: Mapping[str, Any]) -> None:
        rows = {
            k: {
                "run_id": run_id,
                "key": check_key("tag", k),
                "value": check_value("tag", k, str(v), MAX_TAG_VALUE),
            }
            for k, v in tags.items()
        }
        upsert(conn, T, list(rows.values()), keys=("run_id", "key"), update=("value",))

    def _hydrate(self, conn: Connection, infos: list[RunInfo]) -> list[Run]:
        """Params, latest metrics and tags of ``infos``: three driver-level queries per 500
        runs (SQLAlchemy rows cost more than the lookups when a search returns 1,000 runs)."""
        if not infos:
            return []
        params: dict[str, dict[str, str]] = {i.id: {} for i in infos}
        metrics: dict[str, dict[str, float]] = {i.id: {} for i in infos}
        tags: dict[str, dict[str, str]] = {i.id: {} for i in infos}
        steps: dict[str, dict[str, tuple[int, int]]] = {i.id: {} for i in infos}
        ids = list(params)
        with _dbapi_cursor(conn) as cursor:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join([self._sql.mark] * len(chunk))
                cursor.execute(_SELECT_KV.format("params", marks), chunk)
                for run_id, k, v in cursor.fetchall():
                    params[run_id][k] = v
                cursor.execute(_SELECT_LATEST.format(marks), chunk)
                for run_id, k, v, nan, step, ts in cursor.fetchall():
                    metrics[run_id][k] = math.nan if nan else v
                    steps[run_id][k] = (step, ts)
                cursor.execute(_SELECT_KV.format("tags", marks), chunk)
                for run_id, k, v in cursor.fetchall():
                    tags[run_id][k] = v
        return [Run(i, params[i.id], metrics[i.id], tags[i.id], steps[i.id]) for i in infos]


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A finished step run to create in bulk (cached steps are recorded many at a time)."""

    id: str
    experiment_id: int
    parent_id: str
    name: str
    status: str
    start_time: int
    end_time: int
    user: str
    tags: dict[str, str]


def insert_finished_runs(conn: Connection, runs: Sequence[ChildRun]) -> None:
    """Create already-finished runs with their tags inside the caller's transaction.

    For bulk writers that must record runs atomically with their own rows (a pipeline records
    the runs of its cached steps together with the step rows).
    """
    if not runs:
        return
    conn.execute(
        insert(R),
        [
            {
                "id": r.id,
                "experiment_id": r.experiment_id,
                "parent_id": r.parent_id,
                "name": check_name("run", r.name),
                "status": r.status,
                "start_time": r.start_time,
                "end_time": r.end_time,
                "lifecycle": Lifecycle.ACTIVE.value,
                "user": r.user,
                "note": "",
            }
            for r in runs
        ],
    )
    tags = [
        {"run_id": r.id, "key": check_key("tag", k),
         "value": check_value("tag", k, str(v), MAX_TAG_VALUE)}
        for r in runs
        for k, v in r.tags.items()
    ]  # fmt: skip
    if tags:
        conn.execute(insert(T), tags)
