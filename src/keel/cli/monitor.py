"""``keel monitor``: set up monitors, run them on a window, write reports, compare versions."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import (
    console,
    err_console,
    escape,
    fmt_time,
    fmt_value,
    listing,
    outcome,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from keel.monitoring import MonitoringClient, MonitorRun

app = typer.Typer(
    help="Watch deployments: schema, drift, performance, cohorts, resources.", no_args_is_help=True
)

END = typer.Option(None, "--end", help="End of the window (ISO time, UTC); default now.")
COHORTS = typer.Option(
    None, "--cohorts", help="Cohort columns: 'city;age,plan' (';' separates sets)."
)
MAX_GAP = typer.Option(None, "--max-gap", help="Flag a cohort this much below the rest.")
LABEL_PROJECT = typer.Option(
    None, "--label-project", help="Each run adds served predictions to this labeling project."
)
LABEL_N = typer.Option(None, "--label-n", help="Predictions added per run (50).")
LABEL_STRATEGY = typer.Option(
    None,
    "--label-strategy",
    help="random, lowest-confidence or stratified (by the drifted columns first).",
)


def _client(*, create: bool = False) -> "MonitoringClient":
    """The monitoring of the current project. A read needs the project to exist; a write
    (``create``) leaves it to the client, which makes it when it stores what was asked,
    after the input is checked (a bad option leaves no empty project behind)."""
    from keel.monitoring import MonitoringClient

    name = _context.settings().project if create else _context.project().name
    return MonitoringClient(_context.store(), name)


def _end_ms(end: str | None) -> int | None:
    from keel.monitoring import parse_time

    return parse_time(end) if end else None


@app.command("set")
def set_(
    deployment: str = typer.Argument(..., help="Deployment to watch."),
    reference: str = typer.Option(
        None, "--reference", "-r", help="Reference subject (see `reference`)."
    ),
    window: str = typer.Option(None, "--window", help="Default window, e.g. 1d or 6h."),
    numeric_test: str = typer.Option(None, "--numeric-test", help="ks, wasserstein or psi."),
    categorical_test: str = typer.Option(
        None, "--categorical-test", help="chi2, jensenshannon or psi."
    ),
    alpha: float = typer.Option(None, "--alpha", help="False-alarm rate of the p-value tests."),
    correction: str = typer.Option(None, "--correction", help="bh, bonferroni or none."),
    task: str = typer.Option(None, "--task", help="classification or regression."),
    prediction: str = typer.Option(None, "--prediction", help="Output holding the prediction."),
    score: str = typer.Option(None, "--score", help="Output holding P(positive), for estimates."),
    positive: str = typer.Option(None, "--positive", help="The positive class label."),
    metric: str = typer.Option(
        None, "--metric", help="accuracy, precision, recall, f1, mae, rmse, r2."
    ),
    floor: float = typer.Option(None, "--floor", help="Alert when the metric falls below this."),
    max_drop: float = typer.Option(
        None, "--max-drop", help="Alert on this relative drop (0.1=10%)."
    ),
    baseline: float = typer.Option(None, "--baseline", help="The metric on validation data."),
    min_labels: int = typer.Option(None, "--min-labels", help="Labels needed before alerting."),
    cohorts: str = COHORTS,
    max_gap: float = MAX_GAP,
    latency_p95_ms: float = typer.Option(None, "--latency-p95-ms"),
    latency_p99_ms: float = typer.Option(None, "--latency-p99-ms"),
    memory: str = typer.Option(None, "--memory", help="Memory budget, e.g. 2Gi."),
    cpu: float = typer.Option(None, "--cpu", help="CPU budget in cores."),
    metrics_url: str = typer.Option(None, "--metrics-url", help="Serving /metrics to scrape."),
    label_project: str = LABEL_PROJECT,
    label_n: int = LABEL_N,
    label_strategy: str = LABEL_STRATEGY,
    enabled: bool = typer.Option(None, "--enable/--disable"),
    json_: bool = JSON,
) -> None:
    """Create or change the monitor of a deployment (only the options given change)."""
    # every option is named as MonitoringClient.update names it; None means "unchanged"
    changes = {k: v for k, v in locals().items() if k not in ("deployment", "json_")}
    monitor = _client(create=True).update(deployment, **changes)
    outcome(
        monitor,
        json_,
        f"Monitor of [bold]{escape(deployment)}[/bold] saved "
        f"(reference {escape(monitor.reference or '-')}, window {monitor.window}).",
    )


@app.command()
def reference(
    subject: str = typer.Argument(None, help="What it describes, e.g. model:churn/3."),
    model: str = typer.Option(
        None, "--model", "-m", help="A model version (name/3, name@champion): its training data."
    ),
    dataset: str = typer.Option(
        None, "--dataset", "-d", help="Dataset table version, e.g. customers@2."
    ),
    file: Path = typer.Option(None, "--file", "-f", help="A Parquet or CSV file."),
    columns: str = typer.Option(None, "--columns", help="Only these columns (comma-separated)."),
    json_: bool = JSON,
) -> None:
    """Profile training data and store it as a reference (what "normal" looks like)."""
    from keel.exceptions import InvalidArgumentError

    cols = [c.strip() for c in columns.split(",")] if columns else None
    if sum(x is not None for x in (model, dataset, file)) != 1:
        raise InvalidArgumentError("give exactly one of --model, --dataset or --file")
    if model is None and subject is None:
        raise InvalidArgumentError(
            "name the reference, e.g. `keel monitor reference model:churn/3`"
        )
    table = _read_table(file) if file is not None else None
    mon = _client(create=True)  # the input checked first: a bad one leaves no project behind
    if model is not None:
        info = mon.reference_from_model(model)
    elif dataset is not None:
        info = mon.reference_from_dataset(dataset, subject=subject, columns=cols)
    else:
        info = mon.set_reference(subject, table, columns=cols, source=f"file:{file.name}")
    outcome(
        info,
        json_,
        f"Reference [bold]{escape(info.subject)}[/bold]: {info.num_rows} rows, "
        f"{info.num_columns} columns (blob {info.blob_sha[:12]}).",
    )


def _read_table(path: Path) -> Any:
    from keel.exceptions import InvalidArgumentError

    if not path.is_file():
        raise InvalidArgumentError(f"file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if suffix in (".csv", ".tsv"):
        import pyarrow.csv as pacsv

        return pacsv.read_csv(
            path, parse_options=pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
        )
    raise InvalidArgumentError(f"{path.name!r} is not .parquet, .csv or .tsv")


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """Every monitor of the project."""
    monitors = _client().monitors()
    listing(
        monitors,
        json_,
        "Monitors",
        ["deployment", "reference", "window", "enabled", "last window end"],
        lambda m: [
            m.deployment,
            m.reference or "-",
            m.window,
            m.enabled,
            fmt_time(m.last_window_end),
        ],
        empty="no monitors yet; create one with `keel monitor set`",
    )


@app.command()
def show(deployment: str = typer.Argument(...), json_: bool = JSON) -> None:
    """A monitor's settings and its live alerts."""
    mon = _client()
    monitor = mon.monitor(deployment)
    live = mon.alerts(deployment=deployment, state="live")
    if json_:
        print_json({"monitor": monitor, "live_alerts": live})
        return
    console().print(
        f"[bold]{escape(deployment)}[/bold] reference={escape(monitor.reference or '-')} "
        f"window={monitor.window} enabled={monitor.enabled} "
        f"last window end={fmt_time(monitor.last_window_end)}"
    )
    for section, values in monitor.config.items():
        console().print(f"  {section}: {escape(str(values))}")
    _alerts_table(live, "Live alerts")


@app.command()
def run(
    deployment: str = typer.Argument(None, help="Deployment to check (or use --due)."),
    window: str = typer.Option(
        None, "--window", "-w", help="Window length, e.g. 1d (default: the monitor's)."
    ),
    end: str = END,
    every: str = typer.Option(None, "--every", help="Split the window, e.g. 1h, one run each."),
    due: bool = typer.Option(
        False, "--due", help="Every enabled monitor, each complete window since its last run."
    ),
    deliver: bool = typer.Option(True, "--deliver/--no-deliver", help="Send notifications."),
    fail_on: str = typer.Option(
        None, "--fail-on", help="Exit 1 if an alert of this severity was raised."
    ),
    json_: bool = JSON,
) -> None:
    """Check a window of the prediction log; raise, deduplicate and resolve alerts.

    For scheduled monitoring call `keel monitor run --due` from cron (every few minutes).
    """
    from keel.exceptions import InvalidArgumentError
    from keel.monitoring import parse_duration
    from keel.store.alerts import SEVERITIES

    for text in (window, every):  # bad input is refused before anything runs
        if text is not None:
            parse_duration(text)
    if fail_on is not None and fail_on not in SEVERITIES:
        raise InvalidArgumentError(f"--fail-on {fail_on!r}: choose one of {', '.join(SEVERITIES)}")
    mon = _client()
    if due:
        runs = mon.run_due()
    elif deployment is None:
        raise InvalidArgumentError("name a deployment, or pass --due to run every monitor")
    else:
        runs = mon.run(deployment, window, end_ms=_end_ms(end), every=every, deliver=deliver)
    if json_:
        print_json([r.to_dict() for r in runs])
    else:
        for r in runs:
            _print_run(r)
        if not runs:
            console().print("[dim]no complete window is due[/dim]")
    if fail_on:
        floor = SEVERITIES.index(fail_on)
        if any(SEVERITIES.index(a.severity) >= floor for r in runs for a, _e in r.alerts):
            raise typer.Exit(1)


def _print_run(r: "MonitorRun") -> None:
    console().print(
        f"\n[bold cyan]{escape(r.deployment)}[/bold cyan] {escape(r.window.label)}: "
        f"{r.rows} predictions"
    )
    for note in r.notes:
        console().print(f"  [dim]{escape(note)}[/dim]")
    if r.drift is not None:
        rows = [
            [f.column, f.test, f.statistic, f.p_adjusted, f.status, f.reason]
            for f in r.drift.features
        ]
        print_table(
            f"Drift ({r.drift.drift_share:.0%} of tested columns)",
            ["column", "test", "statistic", "p (adj.)", "status", "note"],
            rows,
        )
    if r.performance is not None:
        p = r.performance
        metrics = {
            **{k: v for k, v in p.metrics.items()},
            **{f"est. {k}": v for k, v in p.estimated.items()},
        }
        print_table(
            f"Performance ({p.n_labelled} of {p.n_predictions} labelled)",
            ["metric", "value"],
            [[k, v] for k, v in metrics.items()],
        )
    if r.resources is not None and r.resources.latency_ms:
        lat = r.resources.latency_ms
        console().print("  latency ms: " + ", ".join(f"{k}={fmt_value(v)}" for k, v in lat.items()))
    _alerts_table([a for a, _e in r.alerts], "Alerts raised", events={a.id: e for a, e in r.alerts})
    if r.resolved:
        console().print(f"  resolved: {', '.join(f'#{a.id}' for a in r.resolved)}")
    d = r.deliveries
    if d.sent or d.retrying or d.failed:
        console().print(f"  notifications: {d.sent} sent, {d.retrying} to retry, {d.failed} failed")


def _alerts_table(alerts: list[Any], title: str, events: dict[int, str] | None = None) -> None:
    rows = [
        [a.id, a.severity, a.kind, a.state, (events or {}).get(a.id, ""), a.occurrences, a.title]
        for a in alerts
    ]
    print_table(
        title,
        ["id", "severity", "kind", "state", "event", "seen", "title"],
        rows,
        empty="no alerts",
    )


@app.command()
def report(
    deployment: str = typer.Argument(...),
    window: str = typer.Option("7d", "--window", "-w", help="Period covered."),
    every: str = typer.Option("1d", "--every", help="One point per window of this length."),
    end: str = END,
    out: Path = typer.Option(Path("."), "--out", "-o", help="Folder for the HTML and JSON files."),
    json_: bool = JSON,
) -> None:
    """Write a self-contained HTML report (and its JSON) of a deployment over time."""
    files = _client().report(
        deployment, window=window, every=every, end_ms=_end_ms(end), out_dir=out
    )
    outcome(
        {"html": str(files.html), "json": str(files.json)},
        json_,
        f"Report written: [bold]{escape(str(files.html))}[/bold] and {escape(str(files.json))}",
    )


@app.command()
def compare(
    deployment: str = typer.Argument(...),
    champion: str = typer.Option(
        None, "--champion", help="Version now answering (default: most traffic)."
    ),
    challenger: str = typer.Option(
        None, "--challenger", help="Version to judge (default: the shadow)."
    ),
    window: str = typer.Option("7d", "--window", "-w"),
    end: str = END,
    json_: bool = JSON,
) -> None:
    """Champion vs challenger on the same traffic: agreement, quality, latency, verdict."""
    result = _client().champion_challenger(
        deployment, champion=champion, challenger=challenger, window=window, end_ms=_end_ms(end)
    )
    if json_:
        print_json(result.to_dict())
        return
    a, b = result.champion, result.challenger
    print_table(
        f"{deployment}: champion {a.version} vs challenger {b.version} ({result.mode})",
        ["", "champion", "challenger"],
        [
            ["rows", a.rows, b.rows],
            ["labelled", a.labelled, b.labelled],
            [result.metric, a.metric, b.metric],
            ["p50 ms", a.latency_ms.get("p50"), b.latency_ms.get("p50")],
            ["p95 ms", a.latency_ms.get("p95"), b.latency_ms.get("p95")],
        ],
    )
    if result.agreement is not None:
        console().print(f"agreement on {result.common_rows} shared rows: {result.agreement:.1%}")
    if result.difference is not None:
        console().print(
            f"difference (challenger - champion): {result.difference:+.4f} "
            f"[95% CI {result.ci_low:+.4f} .. {result.ci_high:+.4f}]"
        )
    color = {"promote": "green", "keep_champion": "red"}.get(result.recommendation, "yellow")
    console().print(f"recommendation: [bold {color}]{result.recommendation}[/bold {color}]")
    for reason in result.reasons:
        console().print(f"  - {escape(reason)}")


@app.command()
def drift(
    reference_file: Path = typer.Argument(..., help="Reference data (Parquet/CSV)."),
    current_file: Path = typer.Argument(..., help="Current data (Parquet/CSV)."),
    numeric_test: str = typer.Option("ks", "--numeric-test"),
    categorical_test: str = typer.Option("chi2", "--categorical-test"),
    alpha: float = typer.Option(0.05, "--alpha"),
    fail_on: str = typer.Option(
        None,
        "--fail-on",
        help="Exit 1 when a finding reaches this level: error (schema errors, dataset drift) "
        "or warning (any finding).",
    ),
    json_: bool = JSON,
) -> None:
    """Compare two files with the drift engine (no store needed)."""
    from keel.monitoring import DriftConfig, compare

    config = DriftConfig(numeric_test=numeric_test, categorical_test=categorical_test, alpha=alpha)
    result = compare(_read_table(reference_file), _read_table(current_file), config)
    failed = fail_on is not None and result.fails(fail_on)
    if json_:
        print_json({**result.to_dict(), "worst": result.worst(), "failed": failed})
    else:
        print_drift(result)
    if failed:
        err_console().print(f"drift check failed: a finding reached {fail_on} ({result.worst()})")
        raise typer.Exit(1)


def print_drift(result: Any) -> None:
    """Drift and schema tables (also used by ``keel datasets diff --drift``)."""
    print_table(
        f"Drift: {len(result.drifted)} of {len(result.tested)} tested columns",
        ["column", "kind", "test", "statistic", "p (adj.)", "effect", "status", "note"],
        [
            [f.column, f.kind, f.test, f.statistic, f.p_adjusted, f.effect, f.status, f.reason]
            for f in result.features
        ],
    )
    print_table(
        "Schema",
        ["column", "issue", "severity", "detail"],
        [[s.column, s.kind, s.severity, s.message] for s in result.schema],
        empty="no schema issues",
    )


@app.command()
def delete(deployment: str = typer.Argument(...)) -> None:
    """Delete a monitor (its alerts stay)."""
    _client().delete_monitor(deployment)
    console().print(f"Monitor of {escape(deployment)} deleted.")
