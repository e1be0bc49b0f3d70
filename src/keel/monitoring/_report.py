"""``keel monitor report``: one self-contained HTML page (inline SVG, no script, no CDN)
and the same data as JSON (what the web UI reads).

Windows of the period that were never monitored are computed first (without alerting),
so a report is complete even where no scheduler ran; their results are kept for next time.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.monitoring._monitor_config import MonitorConfig
from keel.monitoring._results import read_results
from keel.monitoring._runner import run_monitor
from keel.monitoring._svg import heatmap, line_chart
from keel.store import Store
from keel.store.eventlog import Window

if TYPE_CHECKING:
    import pyarrow as pa

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#111827}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:left}
th{background:#f9fafb}.critical{color:#b91c1c;font-weight:600}.warning{color:#b45309}
.muted{color:#6b7280}svg{margin:6px 0;display:block}.tt{font:600 12px system-ui}
.lb{font:10px system-ui;fill:#4b5563}.lg{font:11px system-ui;fill:#374151}"""


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    data: dict[str, Any]


def report_data(
    store: Store, project_id: int, deployment: str, span: Window, *, every: str = "1d"
) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data (windows oldest first)."""
    monitor = store.monitors.get(project_id, deployment)
    windows = span.split(every)
    results = read_results(store.settings, deployment, span)
    done = _monitored(results)
    now = int(time.time() * 1000)
    for w in windows:
        if (w.start_ms, w.end_ms) not in done or w.end_ms > now - 60_000:
            run_monitor(store, project_id, deployment, w, deliver=False, record=False)
    results = read_results(store.settings, deployment, span)
    rows = results.to_pylist() if results.num_rows else []
    config = MonitorConfig.from_dict(monitor.config)
    alerts = store.alerts.list(project_id, deployment=deployment, limit=200)
    return {
        "deployment": deployment,
        "reference": monitor.reference,
        "period": {
            "start_ms": span.start_ms,
            "end_ms": span.end_ms,
            "label": span.label,
            "every": every,
        },
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "windows": [_window_data(w, rows) for w in windows],
        "alerts": [
            {**asdict(a), "state": a.state.value}
            for a in alerts
            if a.last_seen_at >= span.start_ms or a.state.value != "resolved"
        ],
    }


def _monitored(results: pa.Table) -> set[tuple[int, int]]:
    if results.num_rows == 0 or "window_start" not in results.column_names:
        return set()
    out = set()
    for row in results.select(["window_start", "window_end", "kind"]).to_pylist():
        if row["kind"] == "summary":
            out.add((_ms(row["window_start"]), _ms(row["window_end"])))
    return out


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else int(value)


def _window_data(w: Window, rows: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [
        r for r in rows if _ms(r["window_start"]) == w.start_ms and _ms(r["window_end"]) == w.end_ms
    ]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in mine:
        by_kind.setdefault(r["kind"], []).append(r)

    def values(kind: str) -> dict[str, float | None]:
        return {r["name"]: r["value"] for r in by_kind.get(kind, [])}

    summary = values("summary")
    return {
        "start_ms": w.start_ms,
        "end_ms": w.end_ms,
        "label": _label(w),
        "range": _range(w),
        "rows": int(summary.get("rows") or 0),
        "drift_share": summary.get("drift_share"),
        "drift": {r["name"]: _drift_entry(r) for r in by_kind.get("drift", [])},
        "schema": [_schema_entry(r) for r in by_kind.get("schema", [])],
        "performance": values("performance"),
        "estimated": values("estimated"),
        "cohorts": [_cohort_entry(r) for r in by_kind.get("cohort", [])],
        "cohort_gaps": [
            {"columns": r["name"], "gap": r["test"], "value": r["value"]}
            for r in by_kind.get("cohort_gap", [])
        ],
        "resources": values("resource"),
    }


def _drift_entry(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "test": r["test"],
        "statistic": r["value"],
        "effect": json.loads(r["detail"] or "{}").get("effect"),
        "p_value": r["p_value"],
        "status": r["status"],
    }


def _schema_entry(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "column": r["name"],
        "kind": r["test"],
        "severity": r["status"],
        "message": json.loads(r["detail"] or "{}").get("message", ""),
    }


def _cohort_entry(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "cohort": r["name"],
        "n": r["n"],
        "accuracy": r["value"],
        "status": r["status"],
        **json.loads(r["detail"] or "{}"),
    }


def _label(w: Window) -> str:
    """Day windows by the day of their last instant (today's traffic under today's date);
    shorter windows by the time they end. The full range is in ``_range``."""
    if w.end_ms - w.start_ms >= 86_400_000:
        return _utc(w.end_ms - 1).strftime("%m-%d")
    return _utc(w.end_ms).strftime("%m-%d %H:%M")


def _range(w: Window) -> str:
    return f"{_utc(w.start_ms):%Y-%m-%d %H:%M} → {_utc(w.end_ms):%Y-%m-%d %H:%M} UTC"


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def write_report(
    store: Store, project_id: int, deployment: str, span: Window, *, every: str, out_dir: Path
) -> ReportFiles:
    from keel.store.paths import safe_relpath

    data = report_data(store, project_id, deployment, span, every=every)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = safe_relpath(f"{deployment}-monitoring")
    html_path, json_path = out_dir / f"{stem}.html", out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=2, default=str, allow_nan=False))
    html_path.write_text(render_html(data), encoding="utf-8")
    return ReportFiles(html_path, json_path, data)


def render_html(data: dict[str, Any]) -> str:
    """The report page: alerts, drift heatmap, performance and latency charts, tables."""
    windows = data["windows"]
    body = [
        f"<h1>Monitoring report: {escape(data['deployment'])}</h1>",
        f"<p class=muted>{escape(data['period']['label'])} · "
        f"windows of {escape(data['period']['every'])} · "
        f"reference {escape(data['reference'] or '(none)')} · "
        f"generated {escape(data['generated_at'])}</p>",
        "<h2>Alerts</h2>",
        _alerts_table(data["alerts"]),
        *_charts(windows, data["config"]),
        "<h2>Cohorts (latest window with labels)</h2>",
        _cohort_tables(windows),
        "<h2>Schema issues (latest window)</h2>",
        _schema_table(windows),
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>keel monitoring: {escape(data['deployment'])}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _charts(windows: list[dict[str, Any]], config: dict[str, Any]) -> list[str]:
    labels = [w["label"] for w in windows]
    perf = config.get("performance") or {}
    metric = perf.get("metric", "accuracy")
    budget = config.get("resources") or {}
    quality = {
        f"{metric} (labels)": [w["performance"].get(metric) for w in windows],
        f"{metric} (estimated, CBPE)": [w["estimated"].get(metric) for w in windows],
    }
    latency = {
        p: [w["resources"].get(f"latency_{p}_ms") for w in windows] for p in ("p50", "p95", "p99")
    }
    return [
        "<h2>Drift per feature over time</h2>",
        _drift_heatmap(windows),
        line_chart(
            "share of drifted features",
            labels,
            {"drift share": [w["drift_share"] for w in windows]},
        ),
        "<h2>Performance over time</h2>",
        line_chart(
            metric,
            labels,
            quality,
            hlines={"floor": perf.get("floor"), "baseline": perf.get("baseline")},
        ),
        line_chart(
            "predictions per window",
            labels,
            {"rows": [float(w["rows"]) for w in windows]},
            y_format="{:.0f}",
        ),
        "<h2>Latency</h2>",
        line_chart(
            "latency (ms)",
            labels,
            latency,
            hlines={
                "p95 budget": budget.get("latency_p95_ms"),
                "p99 budget": budget.get("latency_p99_ms"),
            },
        ),
    ]


def _drift_heatmap(windows: list[dict[str, Any]]) -> str:
    """Shade = effect size (KS D, Jensen-Shannon distance, normalised Wasserstein, PSI),
    capped at 1; comparable across tests, unlike raw chi-square statistics."""
    features = sorted({f for w in windows for f in w["drift"]})
    cells = {}
    for w in windows:
        for f, d in w["drift"].items():
            effect = d.get("effect")
            shade = None if effect is None else min(1.0, float(effect))
            cells[(f, w["label"])] = (shade, d["status"] == "drift")
    return heatmap(
        "drift effect size (outlined: drift)", features, [w["label"] for w in windows], cells
    )


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f"<p class=muted>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, tuple):
        return f"<span class={escape(v[1])}>{escape(str(v[0]))}</span>"
    return "-" if v is None else escape(str(v))


def _alerts_table(alerts: list[dict[str, Any]]) -> str:
    rows = [
        [
            a["id"],
            (a["severity"], a["severity"]),
            a["kind"],
            a["state"],
            a["title"],
            a["occurrences"],
            dt.datetime.fromtimestamp(a["last_seen_at"] / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M"),
        ]
        for a in alerts
    ]
    return _table(
        ["id", "severity", "kind", "state", "title", "seen", "last seen (UTC)"],
        rows,
        "no alerts in this period",
    )


def _cohort_tables(windows: list[dict[str, Any]]) -> str:
    latest = next((w for w in reversed(windows) if w["cohorts"]), None)
    if latest is None:
        return "<p class=muted>no cohorts configured or no labelled rows yet</p>"
    rows = [
        [
            c["cohort"],
            c["n"],
            c["accuracy"],
            c.get("selection_rate"),
            c.get("tpr"),
            c.get("fpr"),
            ("flagged", "critical") if c["status"] == "flagged" else "ok",
        ]
        for c in latest["cohorts"]
    ]
    gaps = [[g["columns"], g["gap"], g["value"]] for g in latest["cohort_gaps"]]
    return (
        f"<p class=muted>window {escape(latest['range'])}</p>"
        + _table(["cohort", "n", "accuracy", "selection rate", "TPR", "FPR", "status"], rows, "")
        + _table(["columns", "gap", "value"], gaps, "")
    )


def _schema_table(windows: list[dict[str, Any]]) -> str:
    latest = next((w for w in reversed(windows) if w["rows"]), None)
    issues = latest["schema"] if latest else []
    rows = [
        [
            i["column"],
            i["kind"],
            (i["severity"], "critical" if i["severity"] == "error" else "warning"),
            i["message"],
        ]
        for i in issues
    ]
    return _table(["column", "issue", "severity", "detail"], rows, "no schema issues")
