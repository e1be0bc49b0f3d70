"""``keel runs``: list, search, show, compare, tag, note, end and delete runs."""

from typing import Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, fmt_time, fmt_value, listing, print_json, print_table

app = typer.Typer(
    help="List, search, show and compare runs.", no_args_is_help=True, add_completion=False
)

EXPERIMENT = typer.Option(None, "--experiment", "-e", help="Experiment name or id (repeatable).")


def _pick(counts: dict[str, int], chosen: list[str], limit: int) -> list[str]:
    """The columns to show: those asked for, else the keys most runs have."""
    if chosen:
        return chosen
    return sorted(counts, key=lambda k: (-counts[k], k))[:limit]


def _render_runs(
    filter_string: str | None,
    opts: dict[str, Any],
) -> None:
    from keel.tracking import display_status

    page = _context.client().search_runs(
        filter_string,
        experiments=opts["experiment"] or None,
        order_by=opts["order_by"] or None,
        max_results=opts["max_results"],
        page_token=opts["page_token"],
    )
    if opts["json_"]:
        print_json({"runs": page.runs, "next_page_token": page.next_page_token})
        return
    mcount: dict[str, int] = {}
    pcount: dict[str, int] = {}
    for r in page.runs:
        for k in r.metrics:
            if not k.startswith("system."):
                mcount[k] = mcount.get(k, 0) + 1
        for k in r.params:
            pcount[k] = pcount.get(k, 0) + 1
    metric_keys = _pick(mcount, opts["metric"], 3)
    param_keys = _pick(pcount, opts["param"], 2)
    rows: list[list[Any]] = [
        [r.id[:8], r.name, display_status(r), fmt_time(r.info.start_time)[5:16]]
        + [r.params.get(k) for k in param_keys]
        + [r.metrics.get(k) for k in metric_keys]
        for r in page.runs
    ]
    print_table(
        f"{len(page.runs)} runs",
        ["id", "name", "status", "started", *param_keys, *metric_keys],
        rows,
        empty="no runs match",
    )
    if page.next_page_token:
        console().print(f"[dim]more: --page-token {page.next_page_token}[/dim]")


ORDER = typer.Option([], "--order-by", "-o", help="e.g. 'metrics.auc DESC' (repeatable).")
MAXR = typer.Option(100, "--max-results", "-n", min=1, help="Runs per page.")
TOKEN = typer.Option(None, "--page-token", help="Token printed by the previous page.")
METRIC = typer.Option([], "--metric", "-m", help="Metric column to show (repeatable).")
PARAM = typer.Option([], "--param", "-p", help="Param column to show (repeatable).")


def search(
    filter_string: str | None = typer.Argument(
        None, help="e.g. \"metrics.auc > 0.9 and params.model = 'rf'\""
    ),
    experiment: list[str] = EXPERIMENT,
    order_by: list[str] = ORDER,
    max_results: int = MAXR,
    page_token: str = TOKEN,
    metric: list[str] = METRIC,
    param: list[str] = PARAM,
    json_: bool = JSON,
) -> None:
    """Search runs with the filter language (metrics., params., tags., attributes.)."""
    _render_runs(filter_string, locals())


app.command("list", help="List runs, newest first (a filter narrows them, as in `search`).")(search)
app.command()(search)


def _resolve(run_id: str) -> str:
    """Accept a full id or a unique prefix of at least 6 characters."""
    return _context.client().resolve_run_id(run_id)


@app.command()
def show(run_id: str, json_: bool = JSON) -> None:
    """Show one run: info, params, metrics, tags, note, artifacts, datasets."""
    from keel.tracking import display_status

    client = _context.client()
    run = client.get_run(_resolve(run_id))
    arts = client.list_artifacts(run.id)
    links = client.store.runs.dataset_links(run.id)
    datasets = [(client.store.datasets.get_version_by_id(v), d) for v, d in links]
    if json_:
        print_json(
            {
                "run": run,
                "artifacts": arts,
                "datasets": [{"ref": v.ref, "direction": d} for v, d in datasets],
            }
        )
        return
    out = console()
    i = run.info
    state = display_status(run)
    out.print(f"[bold]{escape(i.name)}[/bold]  {i.id}  [cyan]{state}[/cyan]")
    if state == "LOST":
        out.print("its process is gone; end it with: keel runs end " + i.id[:8])
    out.print(
        f"started {fmt_time(i.start_time)}  ended {fmt_time(i.end_time)}  user {escape(i.user)}"
    )
    if i.parent_id:
        out.print(f"parent run {i.parent_id}")
    print_table("Params", ["key", "value"], sorted(run.params.items()), empty="no params")
    print_table(
        "Metrics (latest)", ["key", "value"], sorted(run.metrics.items()), empty="no metrics"
    )
    print_table("Tags", ["key", "value"], sorted(run.tags.items()), empty="no tags")
    print_table(
        "Datasets",
        ["dataset", "direction"],
        [(v.ref, d) for v, d in datasets],
        empty="no datasets linked",
    )
    print_table(
        "Artifacts", ["path", "size"], [(a.path, a.size) for a in arts], empty="no artifacts"
    )
    if i.note:
        from rich.markdown import Markdown

        out.print("[bold]Note[/bold]")
        out.print(Markdown(i.note))


@app.command()
def history(run_id: str, key: str, json_: bool = JSON) -> None:
    """Print every logged point of one metric."""
    client = _context.client()
    rid = _resolve(run_id)
    points = client.metric_history(rid, key)
    listing(
        points,
        json_,
        f"{key}",
        ["step", "value", "time"],
        lambda p: (p.step, p.value, fmt_time(p.timestamp)),
        empty="no points",
    )


@app.command()
def compare(run_ids: list[str], json_: bool = JSON) -> None:
    """Compare runs side by side; differing params and the best value per metric stand out."""
    client = _context.client()
    cmp = client.compare_runs([_resolve(r) for r in run_ids])
    if json_:
        print_json(cmp)
        return
    names = [r.name for r in cmp.runs]
    rows: list[list[object]] = []
    for k, vals in cmp.params.items():
        mark = "*" if k in cmp.differing_params else ""
        rows.append([f"param {k}{mark}", *vals])
    for k, mvals in cmp.metrics.items():
        best = cmp.best.get(k)
        cells = [
            f"{fmt_value(v)} (best)" if best and r.id == best and len(cmp.runs) > 1 else v
            for v, r in zip(mvals, cmp.runs, strict=True)
        ]
        rows.append([f"metric {k}", *cells])
    print_table("Comparison (* = differs)", ["", *names], rows)


@app.command()
def note(run_id: str, text: str) -> None:
    """Set a run's markdown note."""
    client = _context.client()
    client.set_note(_resolve(run_id), text)
    console().print("Note saved")


@app.command()
def tag(run_id: str, key: str, value: str) -> None:
    """Set a tag on a run."""
    _context.client().set_tag(_resolve(run_id), key, value)
    console().print(f"Tagged {key}={value}")


@app.command()
def delete(run_id: str) -> None:
    """Mark a run deleted."""
    client = _context.client()
    rid = _resolve(run_id)
    client.delete_run(rid)
    console().print(f"Deleted run {rid}")


@app.command()
def end(
    run_id: str,
    status: str = typer.Option(
        None,
        "--status",
        "-s",
        help="FINISHED, FAILED or KILLED (default: KILLED for a lost run, else FINISHED).",
    ),
) -> None:
    """End a run left RUNNING (its process died, or it was started without `with`)."""
    info = _context.client().close_run(_resolve(run_id), status)
    console().print(f"Ended run {info.id} {info.status.value}")
