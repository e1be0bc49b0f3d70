"""``keel datasets``: version data, show schemas and profiles, diff versions, check folders.

``status`` is built to be called from scripts and hooks: it imports neither pandas nor
pyarrow for folders, re-reads only files whose stat data changed, and exits 1 when the
folder differs from the dataset version (0 when it matches).
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from keel.cli import _context
from keel.cli._options import JSON, check_out_path
from keel.cli._render import (
    console,
    escape,
    fmt_time,
    fmt_value,
    listing,
    outcome,
    print_json,
    print_table,
    progress,
    to_jsonable,
)

if TYPE_CHECKING:
    from keel.data import DatasetClient, DatasetDiff, FolderStatus, ProgressFn
    from keel.store import Dataset, DatasetVersion

app = typer.Typer(
    help="Version datasets, show profiles, diff versions, check folders.", no_args_is_help=True
)


def _client(*, create: bool = False) -> "DatasetClient":
    """The datasets of the current project. A read needs the project to exist; a write
    (``create``) leaves it to the client, which makes it when it registers a version,
    after the input is checked (a bad name or path leaves no empty project behind)."""
    from keel.data import DatasetClient

    project = _context.settings().project if create else _context.project()
    return DatasetClient(_context.store(), project)


@contextmanager
def _progress() -> "Iterator[ProgressFn]":
    """A progress bar on stderr that library calls drive with (stage, done, total).

    The bar (and Rich's progress module) appears only once there is work to show on a
    terminal, so a quick, cached ``status`` pays nothing for it.
    """
    bar: Any = None

    def update(stage: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if not sys.stderr.isatty():
                return
            bar = progress(total, stage)
            bar.start()
        bar.update(bar.tasks[0].id, description=stage, completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


@app.command()
def add(
    name: str = typer.Argument(..., help="Dataset name."),
    path: Path = typer.Argument(None, help="File or folder; Parquet/CSV files are profiled."),
    sql: str = typer.Option(None, "--sql", help="Version the result of this SQL query."),
    url: str = typer.Option(None, "--url", help="SQLAlchemy URL the --sql query runs against."),
    description: str = typer.Option("", "--description", "-d", help="What the data is."),
    json_: bool = JSON,
) -> None:
    """Register a file, folder, Parquet/CSV file or SQL query result as a new version."""
    from keel.data import SqlQuery
    from keel.exceptions import InvalidArgumentError

    if (path is None) == (sql is None):
        raise InvalidArgumentError("give either PATH or --sql QUERY --url URL (exactly one)")
    if sql is not None and not url:
        raise InvalidArgumentError("--sql needs --url, the database to run the query on")
    source: Any = SqlQuery(url, sql) if sql is not None else path
    client = _client(create=True)
    before = _newest_number(client, name)
    with _progress() as report:
        version = client.log(name, source, description=description, progress=report)
    created = version.version != before
    if json_:
        print_json({"version": version, "created": created})
        return
    verb = "Registered" if created else "Unchanged, still"
    console().print(f"{verb} [bold]{escape(version.ref)}[/bold]: {_summary(version)}")


def _newest_number(client: "DatasetClient", name: str) -> int | None:
    """The newest version's number, None when there is none. ``name`` is a name, never
    parsed as a reference: a bad name (``a@b``) is the client's to refuse when it logs."""
    from keel.data import DatasetRef
    from keel.exceptions import NotFoundError

    try:
        return client.get(DatasetRef(name)).version
    except NotFoundError:
        return None


def _summary(v: "DatasetVersion") -> str:
    if v.kind == "table":
        return f"{v.num_rows} rows x {len(v.schema)} columns, hash {v.content_hash[:12]}"
    return f"{v.num_files} files, {v.size_bytes} bytes, hash {v.content_hash[:12]}"


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """List datasets with their newest version."""
    rows = _client().list()
    if json_:
        print_json([{"dataset": d, "latest": v} for d, v in rows])
        return
    print_table(
        "Datasets",
        ["name", "latest", "kind", "rows", "files", "created", "description"],
        (_dataset_row(d, v) for d, v in rows),
        empty="no datasets yet; add one with `keel datasets add NAME PATH`",
    )


def _dataset_row(d: "Dataset", v: "DatasetVersion | None") -> list[Any]:
    if v is None:
        return [d.name, None, None, None, None, fmt_time(d.created_at), d.description]
    created = fmt_time(v.created_at)
    return [d.name, v.version, v.kind, v.num_rows, v.num_files, created, d.description]


@app.command()
def versions(name: str, json_: bool = JSON) -> None:
    """List every version of a dataset, oldest first."""
    found = _client().versions(name)
    listing(
        found,
        json_,
        f"Versions of {name}",
        ["version", "kind", "rows", "files", "bytes", "hash", "created", "source"],
        _version_row,
    )


def _version_row(v: "DatasetVersion") -> list[Any]:
    return [
        v.version, v.kind, v.num_rows, v.num_files, v.size_bytes, v.content_hash[:12],
        fmt_time(v.created_at), _source(v.source),
    ]  # fmt: skip


def _source(source: dict[str, Any]) -> str:
    if source.get("type") == "sql":
        return f"sql {source.get('url')}: {source.get('query')}"
    return f"{source.get('type')} {source.get('path', '')}".strip()


@app.command()
def show(ref: str, json_: bool = JSON) -> None:
    """Show one version: source, schema and per-column profile ("name" or "name@3")."""
    client = _client()
    v = client.get(ref)
    if json_:
        print_json({"version": v, "runs": client.runs(ref)})
        return
    console().print(
        f"[bold]{escape(v.ref)}[/bold]  {v.kind}  {escape(_summary(v))}\n"
        f"source: {escape(_source(v.source))}\ncreated: {fmt_time(v.created_at)}"
    )
    if v.kind == "files":
        exts = v.profile.get("extensions", {})
        print_table("Files by extension", ["extension", "files"], exts.items())
        return
    columns = v.profile.get("columns", {})
    print_table(
        "Schema",
        ["column", "type", "nullable"],
        ([c["name"], c["type"], c["nullable"]] for c in v.schema),
    )
    print_table(
        "Profile",
        ["column", "nulls", "null %", "distinct", "min", "max", "mean", "std", "p50", "top"],
        (_profile_row(name, p) for name, p in columns.items()),
    )


def _profile_row(name: str, p: dict[str, Any]) -> list[Any]:
    top = ", ".join(f"{t['value']} ({t['count']})" for t in (p.get("top") or [])[:3])
    return [
        name, p.get("nulls"), round(100 * (p.get("null_rate") or 0.0), 2), p.get("distinct"),
        p.get("min"), p.get("max"), p.get("mean"), p.get("std"),
        (p.get("quantiles") or {}).get("p50"), top or None,
    ]  # fmt: skip


@app.command()
def diff(
    a: str,
    b: str,
    drift: bool = typer.Option(
        False, "--drift", help="Also run the drift tests (KS/chi-square/PSI...) on the tables."
    ),
    json_: bool = JSON,
) -> None:
    """Compare two versions: schema changes and statistics that moved beyond noise."""
    client = _client()
    result = client.diff(a, b)
    report = None
    if drift:
        from keel.monitoring import compare

        report = compare(client.load_arrow(a), client.load_arrow(b))
    if json_:
        out = {
            **to_jsonable(result),
            "changed": result.changed,
            "schema_changed": result.schema_changed,
        }
        if report is not None:
            out["drift"] = report.to_dict()
        print_json(out)
        return
    _print_diff(result)
    if report is not None:
        from keel.cli.monitor import print_drift

        print_drift(report)


def _print_diff(d: "DatasetDiff") -> None:
    if not d.changed:
        console().print(f"{escape(d.a)} and {escape(d.b)}: no changes beyond noise")
        return
    console().print(
        f"[bold]{escape(d.a)} -> {escape(d.b)}[/bold]  rows {d.rows_before} -> {d.rows_after}"
    )
    schema = [("added", c["name"], "", c["type"]) for c in d.added_columns]
    schema += [("removed", c["name"], c["type"], "") for c in d.removed_columns]
    schema += [("retyped", r.column, r.before, r.after) for r in d.retyped_columns]
    if schema:
        print_table("Schema changes", ["change", "column", "before", "after"], schema)
    if d.stat_changes:
        print_table(
            "Statistics that changed",
            ["column", "statistic", "before", "after"],
            ([c.column, c.stat, fmt_value(c.before), fmt_value(c.after)] for c in d.stat_changes),
        )
    files = [("added", p) for p in d.files_added] + [("removed", p) for p in d.files_removed]
    files += [("modified", p) for p in d.files_modified]
    if files:
        print_table("File changes", ["change", "path"], files)


@app.command()
def status(
    name: str = typer.Argument(..., help='Dataset ("name" for the newest version, or "name@3").'),
    path: Path = typer.Argument(..., help="File or folder to compare with it."),
    json_: bool = JSON,
) -> None:
    """Compare a folder with a dataset version; exit code 1 when it changed, 0 when not."""
    from keel.data import quick_status

    with _progress() as report:
        result = quick_status(_context.settings(), name, path, progress=report)
        if result is None:  # not cached yet, or the metadata changed: ask the store
            result = _client().status(name, path, progress=report)
    if json_:
        print_json({**to_jsonable(result), "changed": result.changed})
    else:
        _print_status(result)
    if result.changed:
        raise SystemExit(
            1
        )  # for scripts: `keel datasets status d data/ || keel datasets add d data/`


def _print_status(s: "FolderStatus") -> None:
    rows = [("added", p) for p in s.added] + [("removed", p) for p in s.removed]
    rows += [("modified", p) for p in s.modified]
    if s.changed:
        summary = (
            f"{s.path} differs from {s.ref}: {len(s.added)} added, {len(s.removed)} removed, "
            f"{len(s.modified)} modified, {s.unchanged} unchanged"
        )
    else:
        summary = f"{s.path} matches {s.ref} ({s.unchanged} files, {s.hashed} re-hashed)"
    if not sys.stdout.isatty():
        # Scripts and hooks read this: plain lines, and no Rich import on the fast path.
        sys.stdout.write("".join([summary + "\n", *(f"{c}\t{p}\n" for c, p in rows)]))
        return
    color = "yellow" if s.changed else "green"
    console().print(f"[{color}]{escape(summary)}[/{color}]")
    if rows:
        print_table(None, ["change", "path"], rows[:200])
    if len(rows) > 200:
        console().print(f"[dim]... and {len(rows) - 200} more (use --json for all)[/dim]")


@app.command()
def checkout(ref: str, dest: Path, json_: bool = JSON) -> None:
    """Write a version's files into DEST, verifying every file's hash."""
    with _progress() as report:
        written = _client().checkout(ref, dest, progress=report)
    outcome(
        {"ref": ref, "dest": str(dest), "files": [str(p) for p in written]},
        json_,
        f"Checked out {len(written)} file(s) of {escape(ref)} into {escape(str(dest))}",
    )


@app.command("training-set")
def training_set(
    name: str = typer.Argument(..., help="Dataset name the training set is saved under."),
    entities: str = typer.Option(
        ..., "--entities", "-e", help="Label table: dataset reference or Parquet/CSV path."
    ),
    features: list[str] = typer.Option(
        None, "--features", "-f", help="Feature table (dataset reference or path); repeatable."
    ),
    predictions: list[str] = typer.Option(
        None, "--predictions", "-p", help="A prediction log + feedback: DEPLOYMENT:KEY[,KEY]."
    ),
    timestamp: str = typer.Option("event_time", "--timestamp", help="Event-time column."),
    key: list[str] = typer.Option(
        None, "--key", "-k", help="Entity key column (repeatable); default: shared columns."
    ),
    ttl: str = typer.Option(None, "--ttl", help="Oldest usable feature row, e.g. 7d or 12h."),
    last_wins: bool = typer.Option(
        False, "--last-wins", help="On duplicate keys at one timestamp keep the last row."
    ),
    json_: bool = JSON,
) -> None:
    """Join feature tables as of each label's timestamp (no future values) into a version."""
    from keel.data import training_set as build

    sources: list[Any] = [*(features or []), *(_prediction_source(p) for p in predictions or [])]
    client = _client(create=True)
    result = build(
        entities, sources, timestamp=timestamp, keys=key or None, ttl=ttl,
        duplicates="last" if last_wins else "error", datasets=client, name=name,
    )  # fmt: skip
    version = result.version
    assert version is not None
    if json_:
        print_json({"version": version, "sources": result.sources})
        return
    console().print(f"Training set [bold]{escape(version.ref)}[/bold]: {_summary(version)}")
    print_table(
        "Sources",
        ["role", "source", "keys", "columns"],
        (
            [
                s["role"],
                _source_name(s),
                ", ".join(s.get("keys", [])),
                len(s.get("columns", [])),
            ]
            for s in result.sources
        ),
    )


def _source_name(source: dict[str, Any]) -> str:
    if source.get("deployment"):
        return f"{source['deployment']} {source['part']} (prediction log)"
    return str(source.get("dataset") or source.get("path") or source.get("type"))


def _prediction_source(text: str) -> Any:
    from keel.data import PredictionFeatures

    deployment, _, keys = text.partition(":")
    names = [k.strip() for k in keys.split(",") if k.strip()]
    if not deployment.strip() or not names:
        raise typer.BadParameter(
            f"{text!r} is not DEPLOYMENT:KEY[,KEY] (e.g. churn:customer_id)",
            param_hint="--predictions",
        )
    return PredictionFeatures(deployment.strip(), keys=names)


@app.command()
def explore(
    ref: str = typer.Argument(..., help='Dataset ("name", "name@3") or a Parquet/CSV path.'),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    target: str = typer.Option(None, "--target", "-t", help="Rank columns by link to this one."),
    compare: str = typer.Option(None, "--compare", "-c", help="Another version, side by side."),
    sample_rows: int = typer.Option(
        50_000, "--sample-rows", help="Rows sampled for correlations (other figures use all)."
    ),
    json_: bool = JSON,
) -> None:
    """Write an exploration report: distributions, missing values, correlations, alerts."""
    from keel.data import explore as run

    check_out_path(out)  # before the work, not after it
    report = run(ref, target=target, compare=compare, datasets=_client(), sample_rows=sample_rows)
    path = report.save(out)
    s = report.summary
    if json_:
        print_json({"path": str(path), "bytes": path.stat().st_size, "summary": s})
        return
    console().print(
        f"Explored [bold]{escape(str(s['title']))}[/bold]: {s['rows']:,} rows x {s['columns']} "
        f"columns, {len(s['alerts'])} alerts, in {s['seconds']:.1f} s -> {escape(str(path))}"
    )
    if s["alerts"]:
        print_table(
            "Alerts",
            ["column", "alert", "detail"],
            ([a["column"], a["kind"], a["message"]] for a in s["alerts"][:20]),
        )
