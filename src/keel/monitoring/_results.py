"""The monitoring log: every run's results as rows, for reports, the web UI and ``keel sql``.

::

    <artifacts_uri>/monitoring/deployment=<name>/date=<YYYY-MM-DD>/part-*.parquet

One row per result: ``kind`` (drift, schema, performance, estimated, cohort, resource,
summary), ``name`` (column, metric or cohort), ``test``, ``value``, ``p_value``,
``threshold``, ``status``, ``n``, ``detail`` (JSON), the window and when it was computed.
A window monitored twice keeps both runs; readers take the newest per window and name.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from keel.config import Settings
from keel.store.eventlog import EventLog, Window, arrow_table, day_of, sql_list

if TYPE_CHECKING:
    import pyarrow as pa

    from keel.monitoring._cohorts import CohortReport
    from keel.monitoring._drift import DriftReport
    from keel.monitoring._runner import MonitorRun

RESULTS = "monitoring"
_FIELDS = ("kind", "name", "test", "value", "p_value", "threshold", "status", "n", "detail")


def result_rows(run: MonitorRun) -> list[dict[str, Any]]:
    """One row per result of a run (see the module doc for the columns)."""
    rows = [_row("summary", "rows", value=float(run.rows), n=run.rows, detail={"notes": run.notes})]
    if run.drift is not None:
        rows.extend(_drift_rows(run.drift))
    if run.performance is not None:
        p = run.performance
        rows.extend(_row("performance", k, value=v, n=p.n_labelled) for k, v in p.metrics.items())
        rows.extend(
            _row("estimated", k, value=v, n=p.n_predictions) for k, v in p.estimated.items()
        )
    if run.cohorts is not None:
        rows.extend(_cohort_rows(run.cohorts))
    if run.resources is not None:
        r = run.resources
        rows.extend(
            _row("resource", f"latency_{k}_ms", value=v, n=r.requests)
            for k, v in r.latency_ms.items()
        )
        rows.extend(
            _row("resource", k, value=getattr(r, k))
            for k in ("memory_bytes", "model_memory_bytes", "cpu")
        )
    return rows


def _drift_rows(drift: DriftReport) -> list[dict[str, Any]]:
    rows = [
        _row(
            "drift",
            f.column,
            test=f.test,
            value=f.statistic,
            p_value=f.p_adjusted,
            threshold=f.threshold,
            status=f.status,
            n=f.n_current,
            detail={"effect": f.effect, "reason": f.reason},
        )
        for f in drift.features
    ]
    rows.extend(
        _row(
            "schema",
            s.column,
            test=s.kind,
            status=s.severity,
            detail={"message": s.message, **s.evidence},
        )
        for s in drift.schema
    )
    status = "drift" if drift.dataset_drift else "ok"
    rows.append(_row("summary", "drift_share", value=drift.drift_share, status=status))
    return rows


def _cohort_rows(report: CohortReport) -> list[dict[str, Any]]:
    rows = [
        _row(
            "cohort",
            c.name,
            test="accuracy",
            value=c.accuracy,
            p_value=c.p_value,
            status="flagged" if c.flagged else "ok",
            n=c.n,
            detail={"selection_rate": c.selection_rate, "tpr": c.tpr, "fpr": c.fpr},
        )
        for c in report.cohorts
    ]
    for g in report.gaps:
        name = "+".join(g.columns)
        rows.append(_row("cohort_gap", name, test="parity", value=g.parity_difference))
        rows.append(
            _row("cohort_gap", name, test="equalized_odds", value=g.equalized_odds_difference)
        )
    return rows


def _row(kind: str, name: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_FIELDS)
    row.update(values)
    row.update(kind=kind, name=name)
    row["detail"] = (
        json.dumps(values.get("detail") or {}, default=str, allow_nan=False)
        if values.get("detail") is not None
        else "{}"
    )
    return row


def write_results(settings: Settings, run: MonitorRun) -> str:
    import pyarrow as pa

    rows = result_rows(run)
    now = int(time.time() * 1000)
    ts = pa.timestamp("ms", tz="UTC")
    table = pa.table(
        {
            "window_start": pa.array([run.window.start_ms] * len(rows), pa.int64()).cast(ts),
            "window_end": pa.array([run.window.end_ms] * len(rows), pa.int64()).cast(ts),
            "computed_at": pa.array([now] * len(rows), pa.int64()).cast(ts),
            "kind": pa.array([r["kind"] for r in rows], pa.string()),
            "name": pa.array([r["name"] for r in rows], pa.string()),
            "test": pa.array([r["test"] for r in rows], pa.string()),
            "value": pa.array([_finite(r["value"]) for r in rows], pa.float64()),
            "p_value": pa.array([_finite(r["p_value"]) for r in rows], pa.float64()),
            "threshold": pa.array([_finite(r["threshold"]) for r in rows], pa.float64()),
            "status": pa.array([r["status"] for r in rows], pa.string()),
            "n": pa.array([r["n"] for r in rows], pa.int64()),
            "detail": pa.array([r["detail"] for r in rows], pa.string()),
        }
    )
    log = EventLog(settings.artifacts_uri, RESULTS)
    return log.write(run.deployment, table, day=day_of(run.window.end_ms - 1))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    x = float(value)
    return x if x == x and abs(x) != float("inf") else None


def read_results(settings: Settings, deployment: str, window: Window | None = None) -> pa.Table:
    """The newest result per (window, kind, name, test), oldest window first."""
    import pyarrow as pa

    log = EventLog(settings.artifacts_uri, RESULTS)
    files = log.files(deployment, window)
    if not files:
        return pa.table({"kind": pa.array([], pa.string())})
    con = log.connect()
    try:
        where = ""
        params: list[Any] = []
        if window is not None:
            where = (
                "WHERE window_end > to_timestamp(? / 1000.0) "
                "AND window_start < to_timestamp(? / 1000.0)"
            )
            params = [window.start_ms, window.end_ms]
        query = (
            f"SELECT * FROM read_parquet({sql_list(files)}, union_by_name = true, "
            f"hive_partitioning = false) {where} QUALIFY row_number() OVER (PARTITION BY "
            "window_start, window_end, kind, name, test ORDER BY computed_at DESC) = 1 "
            "ORDER BY window_start, kind, name"
        )
        return arrow_table(con.sql(query, params=params))
    finally:
        con.close()
