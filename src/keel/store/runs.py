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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, NotFoundError, ParamConflictError
from keel.store._db import Database, _dbapi_cursor, first_or_missing, now_ms
from keel.store._names import random_run_name
from keel.store._rows import records
from keel.store._run_sql import (
    _INSERT_PARAM,
    _INSERT_RUN,
    _RUN_COLS,
    _SELECT_KV,
    _SELECT_LATEST,
    _STAMP_RUN,
    _UPSERT_TAG,
    MAX_BATCH,
    ChildRun,
    _DriverSQL,
    _metric_values,
    _param_text,
    _t,
    _tag_rows,
    insert_finished_runs,
    run_info,
)
from keel.store._validate import (
    MAX_PARAM_VALUE,
    check_key,
    check_name,
    check_value,
)
from keel.store.entities import Lifecycle, Metric, Run, RunInfo, RunPage, RunStatus

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Connection, Row
    from sqlalchemy.engine.interfaces import DBAPICursor
else:
    from keel.store._lazy import sa


class RunRepository:
    """Create runs and record what they log."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = _DriverSQL.for_database(db)

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
        tag_rows = _tag_rows(run_id, tags or {})
        sql = self._db.sql
        with self._db.cursor(write=True) as cur:
            cur.execute(sql("SELECT lifecycle FROM experiments WHERE id = ?"), (experiment_id,))
            exp = cur.fetchone()
            if exp is None:
                raise NotFoundError(f"experiment id {experiment_id} does not exist")
            if exp[0] != Lifecycle.ACTIVE.value:
                raise InvalidArgumentError(
                    f"experiment id {experiment_id} is deleted; restore it before adding runs"
                )
            if parent_id is not None:
                self._require_active(cur, parent_id)
            row = (
                run_id,
                experiment_id,
                parent_id,
                name,
                status.value,
                start_time or now_ms(),
                None,
                Lifecycle.ACTIVE.value,
                user,
                "",
                now_ms(),
            )
            cur.execute(sql(_INSERT_RUN), row)
            if tag_rows:
                cur.executemany(sql(_UPSERT_TAG), tag_rows)
            return self._info_of(cur, run_id)

    def get_info(self, run_id: str) -> RunInfo:
        with self._db.cursor(write=False) as cur:
            return self._info_of(cur, run_id)

    def get(self, run_id: str) -> Run:
        with self._db.cursor(write=False) as cur:
            return self._hydrate(cur, [self._info_of(cur, run_id)])[0]

    def get_many(self, run_ids: Sequence[str]) -> list[Run]:
        by_id: dict[str, RunInfo] = {}
        with self._db.cursor(write=False) as cur:
            ids = list(dict.fromkeys(run_ids))
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                cur.execute(self._db.sql(f"{_RUN_COLS} WHERE id IN ({marks})"), chunk)
                by_id.update((r["id"], run_info(r)) for r in records(cur))
            missing = [i for i in run_ids if i not in by_id]
            if missing:
                raise NotFoundError(f"run id {missing[0]!r} does not exist")
            return self._hydrate(cur, [by_id[i] for i in run_ids])

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
            values["updated_at"] = now_ms()
        with self._db.cursor(write=bool(values)) as cur:
            if values:  # column names come from the fixed set above, never from a caller
                assigns = ", ".join(f"{col} = ?" for col in values)
                cur.execute(
                    self._db.sql(f"UPDATE runs SET {assigns} WHERE id = ?"),
                    (*values.values(), run_id),
                )
            return self._info_of(cur, run_id)

    def delete(self, run_id: str) -> None:
        self._set_lifecycle(run_id, Lifecycle.DELETED)

    def restore(self, run_id: str) -> None:
        self._set_lifecycle(run_id, Lifecycle.ACTIVE)

    def _set_lifecycle(self, run_id: str, lifecycle: Lifecycle) -> None:
        with self._db.cursor(write=True) as cur:
            cur.execute(
                self._db.sql("UPDATE runs SET lifecycle = ?, updated_at = ? WHERE id = ?"),
                (lifecycle.value, now_ms(), run_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"run id {run_id!r} does not exist")

    def children(self, run_id: str) -> list[RunInfo]:
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql(f"{_RUN_COLS} WHERE parent_id = ? ORDER BY start_time"), (run_id,)
            )
            return [run_info(r) for r in records(cur)]

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
        tag_rows = _tag_rows(run_id, tags or {})
        with self._db.cursor(write=True) as cursor:
            self._require_active(cursor, run_id)
            if values:
                self._sql.insert(cursor, values)
                cursor.executemany(self._sql.latest, latest)
            if param_rows:
                self._insert_params(cursor, run_id, param_rows)
            if tag_rows:
                cursor.executemany(self._db.sql(_UPSERT_TAG), tag_rows)
            if param_rows or tag_rows:  # what search finds the run by changed
                cursor.execute(self._db.sql(_STAMP_RUN), (now_ms(), run_id))

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self.log_batch(run_id, tags=tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._db.cursor(write=True) as cur:
            self._require_active(cur, run_id)
            cur.execute(
                self._db.sql("DELETE FROM tags WHERE run_id = ? AND key = ?"), (run_id, key)
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"run {run_id!r} has no tag {key!r}")
            cur.execute(self._db.sql(_STAMP_RUN), (now_ms(), run_id))

    def metric_history(
        self, run_id: str, key: str, *, offset: int = 0, limit: int | None = None
    ) -> list[Metric]:
        """Every point of one metric, by step then timestamp."""
        M = _t.M
        query = (
            sa.select(M.c.key, M.c.value, M.c.is_nan, M.c.step, M.c.timestamp)
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
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql("SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key"),
                (run_id,),
            )
            return [r[0] for r in cur.fetchall()]

    # -- lineage ---------------------------------------------------------------------------
    def link_dataset(self, run_id: str, version_id: int, direction: str) -> None:
        if direction not in ("input", "output"):
            raise InvalidArgumentError(f"direction must be 'input' or 'output', not {direction!r}")
        sql = self._db.sql
        with self._db.cursor(write=True) as cur:
            self._require_active(cur, run_id)
            cur.execute(sql("SELECT id FROM dataset_versions WHERE id = ?"), (version_id,))
            if cur.fetchone() is None:
                raise NotFoundError(f"dataset version id {version_id} does not exist")
            cur.execute(
                sql(
                    "INSERT INTO run_datasets (run_id, version_id, direction) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING"
                ),
                (run_id, version_id, direction),
            )

    def dataset_links(self, run_id: str) -> list[tuple[int, str]]:
        """(dataset version id, direction) pairs for a run."""
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql("SELECT version_id, direction FROM run_datasets WHERE run_id = ?"),
                (run_id,),
            )
            return [(r[0], r[1]) for r in cur.fetchall()]

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
        from keel.store import _page_token as tokens

        if not filter_string and not order_by:
            return self._listing(experiment_ids, max_results, page_token, include_deleted)
        digest = tokens.search_digest(filter_string, order_by)
        key = tokens.decode_token(page_token, digest)
        from keel.store._run_search import compile_search

        plan = compile_search(
            experiment_ids,
            filter_string,
            order_by=order_by,
            max_results=max_results,
            after_key=key,
            include_deleted=include_deleted,
        )
        rows: list[Any] = []
        with self._db.read() as conn:
            for query in plan.phases:
                rows += conn.execute(query).all()
                if len(rows) > max_results:
                    break
            infos = [run_info(r._mapping) for r in rows[:max_results]]
            with _dbapi_cursor(conn) as cur:
                runs = self._hydrate(cur, infos)
        if len(rows) <= max_results:
            return RunPage(runs, None)
        last_row = rows[max_results - 1]
        return RunPage(runs, tokens.encode_token(last_row[-plan.width :], digest))

    def _listing(
        self,
        experiment_ids: Sequence[int],
        max_results: int,
        page_token: str | None,
        include_deleted: bool,
    ) -> RunPage:
        """A plain listing, newest first (``keel runs list``): driver-level SQL, and neither
        SQLAlchemy, the filter parser nor the token codec unless a page token is in play."""
        from keel.store import _page_token as tokens

        tokens.check_max_results(max_results)
        digest = tokens.search_digest(None, None) if page_token else ""
        key = tokens.decode_token(page_token, digest)
        with self._db.cursor(write=False) as cur:
            infos = self._newest(cur, experiment_ids, max_results + 1, key, include_deleted)
            runs = self._hydrate(cur, infos[:max_results])
        if len(infos) <= max_results:
            return RunPage(runs, None)
        last = infos[max_results - 1]
        digest = digest or tokens.search_digest(None, None)
        return RunPage(runs, tokens.encode_token([last.start_time, last.id], digest))

    # -- helpers ---------------------------------------------------------------------------
    def _newest(
        self,
        cur: DBAPICursor,
        experiment_ids: Sequence[int],
        limit: int,
        after: list[Any] | None,
        include_deleted: bool,
    ) -> list[RunInfo]:
        """Runs of ``experiment_ids``, newest first (the order of an unfiltered search)."""
        ids = list(experiment_ids)
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        where = f"experiment_id IN ({marks})"
        args: list[Any] = [*ids]
        if not include_deleted:
            where += " AND lifecycle = ?"
            args.append(Lifecycle.ACTIVE.value)
        if after is not None:  # keyset: after the last run of the previous page
            if len(after) != 2:
                raise InvalidArgumentError("page token is not one of this search")
            where += " AND start_time <= ? AND (start_time < ? OR id > ?)"
            args += [after[0], after[0], after[1]]
        cur.execute(
            self._db.sql(f"{_RUN_COLS} WHERE {where} ORDER BY start_time DESC, id LIMIT ?"),
            [*args, limit],
        )
        return [run_info(r) for r in records(cur)]

    def _info_of(self, cur: DBAPICursor, run_id: str) -> RunInfo:
        cur.execute(self._db.sql(f"{_RUN_COLS} WHERE id = ?"), (run_id,))
        found = records(cur)
        if not found:
            raise NotFoundError(f"run id {run_id!r} does not exist")
        return run_info(found[0])

    def _row(self, conn: Connection, run_id: str) -> Row:
        query = sa.select(_t.R).where(_t.R.c.id == run_id)
        return first_or_missing(conn, query, f"run id {run_id!r} does not exist")

    def _require_active(self, cur: DBAPICursor, run_id: str) -> None:
        cur.execute(self._sql.lifecycle, (run_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"run id {run_id!r} does not exist")
        if row[0] != Lifecycle.ACTIVE.value:
            raise InvalidArgumentError(f"run {run_id!r} is deleted; restore it to log to it")

    @staticmethod
    def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return [
            (
                run_id,
                check_key("param", k),
                check_value("param", k, _param_text(v), MAX_PARAM_VALUE),
            )
            for k, v in params.items()
        ]

    def _insert_params(
        self, cur: DBAPICursor, run_id: str, rows: list[tuple[str, str, str]]
    ) -> None:
        existing: dict[str, str] = {}
        for start in range(0, len(rows), 500):
            keys = [r[1] for r in rows[start : start + 500]]
            marks = ", ".join("?" * len(keys))
            cur.execute(
                self._db.sql(
                    f"SELECT key, value FROM params WHERE run_id = ? AND key IN ({marks})"
                ),
                [run_id, *keys],
            )
            existing.update((k, v) for k, v in cur.fetchall())
        for _run, key, value in rows:
            old = existing.get(key)
            if old is not None and old != value:
                raise ParamConflictError(
                    f"param {key!r} of run {run_id!r} is already {old!r}; it cannot be "
                    f"changed to {value!r}. Params are immutable: start a new run, or log "
                    "the changing value as a metric or tag."
                )
        new = [r for r in rows if r[1] not in existing]
        if new:
            cur.executemany(self._db.sql(_INSERT_PARAM), new)

    def _hydrate(self, cursor: DBAPICursor, infos: list[RunInfo]) -> list[Run]:
        """Params, latest metrics and tags of ``infos``: three driver-level queries per 500
        runs (SQLAlchemy rows cost more than the lookups when a search returns 1,000 runs)."""
        if not infos:
            return []
        params: dict[str, dict[str, str]] = {i.id: {} for i in infos}
        metrics: dict[str, dict[str, float]] = {i.id: {} for i in infos}
        tags: dict[str, dict[str, str]] = {i.id: {} for i in infos}
        steps: dict[str, dict[str, tuple[int, int]]] = {i.id: {} for i in infos}
        ids = list(params)
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


__all__ = ["MAX_BATCH", "ChildRun", "RunRepository", "insert_finished_runs", "run_info"]
