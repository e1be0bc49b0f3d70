"""Deployments (RL_2, RL_7) and monitoring (MN_1, MN_2, MN_6).

Deployments: current targets and traffic, revisions, requests and latency per version
from the prediction log (DuckDB over Parquet, through :func:`keel.monitoring.run_sql`),
and the champion-vs-challenger report. Monitoring: live alerts with their evidence,
drift per feature over time, performance and latency over time, and the cohort table,
all from :func:`keel.monitoring.report_data`. When the monitoring package cannot load
(its optional dependencies are missing), the pages say so and show what the store has.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from keel.exceptions import InvalidArgumentError, KeelError
from keel.server._json import JSON
from keel.server._types import Loose
from keel.server.ui._common import ProjectView, changing, ui_router, viewing
from keel.server.ui._render import page

router = ui_router()
WINDOWS = {"1d": ("1h", "hour"), "7d": ("1d", "hour"), "30d": ("1d", "day")}


class AlertAction(BaseModel):
    note: Loose = ""


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def traffic(view: ProjectView, deployment: str, window: str) -> dict[str, Any]:
    """Requests and latency per version over ``window`` as chart data (or why not)."""
    try:
        from keel.monitoring import run_sql
    except ImportError as exc:  # pragma: no cover - monitoring ships with keel
        return {"error": f"the prediction log cannot be read here: {exc}"}
    unit = WINDOWS[window][1]
    start_s = int(time.time()) - _span_s(window)
    query = (
        f"SELECT epoch_ms(date_trunc('{unit}', ts)) AS t, version, "
        "count(DISTINCT request_id) AS requests, quantile_cont(latency_ms, 0.5) AS p50, "
        "quantile_cont(latency_ms, 0.95) AS p95 FROM predictions "
        f"WHERE deployment = {_sql_text(deployment)} AND ts >= to_timestamp({start_s}) "
        "GROUP BY ALL ORDER BY t"
    )
    try:
        rows = run_sql(view.store, view.project.id, query).to_pylist()
    except KeelError as exc:
        return {"error": str(exc)}
    versions = sorted({str(r["version"]) for r in rows})

    def series(field: str) -> list[dict[str, Any]]:
        return [
            {
                "label": f"v{v} {field}",
                "xs": [r["t"] for r in rows if str(r["version"]) == v],
                "ys": [r[field] for r in rows if str(r["version"]) == v],
            }
            for v in versions
        ]

    axis = "date" if unit == "day" else "wall"
    return {
        "rows": len(rows),
        "requests": {"target": "requests-chart", "title": f"requests per {unit}", "axis": axis,
                     "series": series("requests")},
        "latency": {"target": "latency-chart", "title": "latency p50 / p95 (ms)", "axis": axis,
                    "series": series("p50") + series("p95")},
    }  # fmt: skip


def _span_s(window: str) -> int:
    return {"1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}[window]


def champion(view: ProjectView, deployment: str, window: str) -> dict[str, Any]:
    """The champion-vs-challenger comparison on live traffic, or why there is none."""
    try:
        from keel.monitoring import MonitoringClient

        report = MonitoringClient(view.store, view.project.name).champion_challenger(
            deployment, window=window
        )
    except ImportError as exc:  # pragma: no cover - monitoring ships with keel
        return {"error": f"monitoring is not available here: {exc}"}
    except KeelError as exc:
        return {"error": str(exc)}
    return report.to_dict()


def window_arg(window: str = Query(default="7d", max_length=8)) -> str:
    """The charts' window from the query: one of :data:`WINDOWS`."""
    if window not in WINDOWS:
        raise InvalidArgumentError(f"window {window[:20]!r} is not one of {', '.join(WINDOWS)}")
    return window


@router.get("/ui/p/{project}/deployments")
def deployments(request: Request, view: ProjectView = viewing("deployments")) -> Response:
    from keel.serving import deployment_summary as summary

    found = view.store.deployments.list(view.project.id)
    rows = [(d, summary(d)) for d in found]
    return page(request, "deployments.html", view.context(deployments=rows))


@router.get("/ui/p/{project}/deployments/{name}")
def deployment_page(
    request: Request,
    name: str,
    view: ProjectView = viewing("deployments"),
    window: str = Depends(window_arg),
) -> Response:
    store = view.store
    dep = store.deployments.get(view.project.id, name)
    total = sum(t.weight for t in dep.targets if not t.shadow) or 1.0
    from keel.serving import deployment_summary as summary

    context = view.context(
        dep=dep,
        info=summary(dep),
        total_weight=total,
        revisions=sorted(
            store.deployments.revisions(view.project.id, name), key=lambda r: -r.revision
        )[:50],
        window=window,
        windows=list(WINDOWS),
        traffic=traffic(view, name, window),
        cc=champion(view, name, window),
        monitored=store.monitors.find(view.project.id, name) is not None,
    )
    return page(request, "deployment.html", context)


@router.get("/ui/p/{project}/monitoring")
def monitoring(request: Request, view: ProjectView = viewing("monitoring")) -> Response:
    store = view.store
    context = view.context(
        monitors=store.monitors.list(view.project.id),
        alerts=store.alerts.list(view.project.id, state="live", limit=200),
    )
    return page(request, "monitoring.html", context)


@router.get("/ui/p/{project}/monitoring/{deployment}")
def monitor_page(
    request: Request,
    deployment: str,
    view: ProjectView = viewing("monitoring"),
    window: str = Depends(window_arg),
) -> Response:
    store = view.store
    store.monitors.get(view.project.id, deployment)  # 404 before any work
    try:
        from keel.monitoring import Window, report_data

        data: dict[str, Any] | None = report_data(
            store, view.project.id, deployment, Window.ending(window), every=WINDOWS[window][0]
        )
        error = ""
    except ImportError as exc:  # pragma: no cover - monitoring ships with keel
        data, error = None, f"monitoring is not available here: {exc}"
    context = view.context(
        deployment=deployment,
        deployed=store.deployments.current_revision(view.project.id, deployment) is not None,
        window=window,
        windows=list(WINDOWS),
        data=data,
        error=error,
        charts=_monitor_charts(data) if data else [],
        heat=_heat(data) if data else None,
    )
    return page(request, "monitor.html", context)


def _monitor_charts(data: dict[str, Any]) -> list[dict[str, Any]]:
    windows = data["windows"]
    xs = [w["start_ms"] for w in windows]
    perf = (data.get("config") or {}).get("performance") or {}
    metric = perf.get("metric", "accuracy")

    def line(label: str, values: list[Any]) -> dict[str, Any]:
        return {"label": label, "xs": xs, "ys": values}

    def spec(target: str, title: str, series: list[dict[str, Any]]) -> dict[str, Any]:
        return {"target": target, "title": title, "axis": "date", "series": series}

    latency = [
        line(p, [w["resources"].get(f"latency_{p}_ms") for w in windows])
        for p in ("p50", "p95", "p99")
    ]
    quality = [
        line(f"{metric} (labels)", [w["performance"].get(metric) for w in windows]),
        line(f"{metric} (estimated)", [w["estimated"].get(metric) for w in windows]),
    ]
    drift = [line("drift share", [w["drift_share"] for w in windows])]
    return [
        spec("drift-share", "share of drifted features", drift),
        spec("performance", f"{metric} over time", quality),
        spec("volume", "predictions per window", [line("rows", [w["rows"] for w in windows])]),
        spec("latency", "latency (ms)", latency),
    ]


def _heat(data: dict[str, Any]) -> dict[str, Any]:
    """Drift effect size per feature (rows) and window (columns), shaded in ten steps."""
    windows = data["windows"]
    features = sorted({f for w in windows for f in w["drift"]})
    grid = []
    for feature in features:
        cells = []
        for w in windows:
            d = w["drift"].get(feature)
            if d is None or d.get("effect") is None:
                cells.append(
                    {"shade": "none", "drift": False, "title": f"{feature} · {w['range']}: no data"}
                )
                continue
            effect = min(1.0, max(0.0, float(d["effect"])))
            cells.append(
                {
                    "shade": f"h{min(9, int(effect * 10))}",
                    "drift": d["status"] == "drift",
                    "title": f"{feature} · {w['range']}: {d['test']} effect {effect:.3f}, "
                    f"p={d['p_value']}",
                }
            )
        grid.append((feature, cells))
    return {"labels": [(w["label"], w["range"]) for w in windows], "rows": grid}


def _alert_action(view: ProjectView, alert_id: int, body: AlertAction, action: str) -> JSON:
    alerts = view.store.alerts
    change = alerts.acknowledge if action == "acknowledge" else alerts.resolve
    alert = change(view.project.id, alert_id, by=view.guard.who.name or "local", note=body.note)
    return JSON({"alert": asdict(alert) | {"state": alert.state.value}})


@router.post("/ui/p/{project}/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: int, body: AlertAction, view: ProjectView = changing("monitoring")
) -> JSON:
    return _alert_action(view, alert_id, body, "acknowledge")


@router.post("/ui/p/{project}/alerts/{alert_id}/resolve")
def resolve(alert_id: int, body: AlertAction, view: ProjectView = changing("monitoring")) -> JSON:
    return _alert_action(view, alert_id, body, "resolve")


__all__ = ["champion", "router", "traffic"]
