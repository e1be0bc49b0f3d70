"""``keel models``: list, show, history, download, promote, rename, delete, import, register,
reproduce, verify, scan."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, fmt_time, fmt_value, outcome, print_json, print_table

if TYPE_CHECKING:
    from keel.models import Registry

app = typer.Typer(
    help="Browse, promote, import and reproduce registered models.", no_args_is_help=True
)


def _registry() -> "Registry":
    """The registry of the current project. A read needs the project to exist (the
    registry checks that on first use, one lookup: a misspelt ``-P`` lists the projects); a
    write leaves it to the registry, which makes it when it stores a version,
    after the input is checked (a bad file leaves no empty project behind)."""
    from keel.models import Registry

    return Registry(_context.store(), _context.settings().project)


def _pairs(items: list[str], what: str, *, numeric: bool = False) -> dict[str, Any]:
    from keel.exceptions import InvalidArgumentError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError(f"{what} {item!r} must look like KEY=VALUE (e.g. auc=0.9)")
        if numeric:
            try:
                out[key.strip()] = float(value)
            except ValueError as exc:
                raise InvalidArgumentError(f"{what} {item!r}: {value!r} is not a number") from exc
        else:
            out[key.strip()] = value
    return out


@app.command("list")
def list_(
    filter_string: str = typer.Option(
        None, "--filter", "-f", help="e.g. \"metrics.auc > 0.9 and framework = 'sklearn'\""
    ),
    name: str = typer.Option(None, "--name", help="Only this registered model."),
    task: str = typer.Option(None, "--task", help="classification, regression, ..."),
    framework: str = typer.Option(
        None, "--framework", help="sklearn, xgboost, lightgbm, onnx, python."
    ),
    dataset: str = typer.Option(
        None, "--dataset", help="Trained on this dataset (name or name@version)."
    ),
    tag: list[str] = typer.Option([], "--tag", help="KEY=VALUE (repeatable)."),
    min_metric: list[str] = typer.Option(
        [], "--min-metric", help="KEY=VALUE lower bound (repeatable)."
    ),
    json_: bool = JSON,
) -> None:
    """List registered models, or the versions matching the filters given."""
    registry = _registry()
    if not any([filter_string, name, task, framework, dataset, tag, min_metric]):
        _print_models(registry, json_)
        return
    versions = registry.search(
        filter_string,
        name=name,
        task=task,
        framework=framework,
        dataset=dataset,
        tags=_pairs(tag, "--tag"),
        min_metrics=_pairs(min_metric, "--min-metric", numeric=True),
    )
    if not versions and task is not None:
        _check_task(registry, task)
    if json_:
        print_json(versions)
        return
    keys = sorted({k for v in versions for k in v.metrics})[:4]
    rows: list[list[Any]] = [
        [v.ref, v.task, v.flavor, v.serve_flavor, ", ".join(v.aliases)]
        + [v.metrics.get(k) for k in keys]
        for v in versions
    ]
    columns = ["version", "task", "flavor", "serves", "aliases", *keys]
    print_table(f"{len(versions)} model versions", columns, rows, empty="no model versions match")


def _check_task(registry: "Registry", task: str) -> None:
    """A --task no version has is named as such, with the tasks there are."""
    tasks = registry.tasks()
    if task not in tasks:
        from keel.exceptions import InvalidArgumentError

        there = f"the tasks here: {', '.join(tasks)}" if tasks else "there are no model versions"
        raise InvalidArgumentError(f"no model version has task {task!r}; {there}")


def _print_models(registry: "Registry", json_: bool) -> None:
    models = registry.list_models()
    if json_:
        print_json(models)
        return
    rows = [
        [
            m.name,
            m.latest_version,
            ", ".join(f"{a}->{v}" for a, v in sorted(m.aliases.items())),
            m.description[:60],
            fmt_time(m.updated_at),
        ]
        for m in models
    ]
    columns = ["name", "latest", "aliases", "description", "updated"]
    print_table(f"{len(models)} registered models", columns, rows, empty="no registered models")


@app.command()
def show(
    ref: str = typer.Argument(..., help="churn@3, churn@champion or churn (latest)."),
    json_: bool = JSON,
) -> None:
    """Show one version: lineage, signature, metrics, model card."""
    v = _registry().resolve(ref)
    if json_:
        print_json(v)
        return
    out = console()
    out.print(
        f"[bold]{escape(v.ref)}[/bold]  {escape(v.semver or '')}  "
        f"aliases: {escape(', '.join(v.aliases) or '-')}"
    )
    lineage = v.lineage
    facts = [
        ("task", v.task),
        ("flavor", v.flavor),
        ("serves", v.serve_flavor),
        ("source", v.source),
        ("signer", v.signer or "unsigned"),
        *([("author", _author(lineage))] if v.source == "imported" else []),
        ("run", v.run_id or "-"),
        ("git commit", lineage.get("git_commit") or "-"),
        ("datasets", ", ".join(v.datasets) or "-"),
        ("created", fmt_time(v.created_at)),
        ("size", f"{v.size:,} bytes"),
    ]
    print_table(None, ["field", "value"], facts)
    if v.metrics:
        print_table("metrics", ["metric", "value"], sorted(v.metrics.items()))
    cols = v.signature.get("inputs", [])
    print_table(
        f"input signature ({len(cols)} columns)",
        ["column", "type"],
        [[c["name"], c["type"]] for c in cols[:40]],
    )
    if v.card:
        print_table(
            "model card", ["field", "value"], [[k, fmt_value(val)] for k, val in v.card.items()]
        )


@app.command()
def history(
    name: str = typer.Argument(..., help="Registered model name."),
    metric: list[str] = typer.Option(
        [], "--metric", "-m", help="Metric to show (repeatable; default: all)."
    ),
    chart: Path = typer.Option(None, "--chart", help="Also draw a PNG chart here."),
    json_: bool = JSON,
) -> None:
    """Metrics of every version, as a table and optionally a PNG chart."""
    from keel.models import chart as draw
    from keel.models import history as table

    keys, rows = table(_registry(), name, metric or None)
    path = draw(name, keys, rows, chart) if chart is not None else None
    if json_:
        print_json({"metrics": keys, "versions": rows, "chart": str(path) if path else None})
        return
    print_table(
        f"{name}: {len(rows)} versions",
        ["version", "created", "aliases", *keys],
        [
            [r.version, fmt_time(r.created_at), ", ".join(r.aliases), *[r.metrics[k] for k in keys]]
            for r in rows
        ],
        empty=f"{name} has no versions",
    )
    if path is not None:
        console().print(f"chart written to [cyan]{escape(str(path))}[/cyan]")


@app.command()
def download(
    ref: str = typer.Argument(..., help="churn@3, churn@champion or churn."),
    dest: Path = typer.Option(Path("."), "--dest", "-d", help="Folder to write into."),
    archive: bool = typer.Option(
        False, "--archive", help="Write the single-file .keel.tar instead of a folder."
    ),
    json_: bool = JSON,
) -> None:
    """Download a version's package (verified against its blob hash)."""
    registry = _registry()
    version = registry.resolve(ref)
    target = dest if archive else dest / f"{version.name}-{version.version}"
    path = registry.download(ref, target, archive=archive)
    outcome(
        {"ref": version.ref, "path": str(path)},
        json_,
        f"{escape(version.ref)} -> [cyan]{escape(str(path))}[/cyan]",
    )


@app.command()
def promote(
    ref: str = typer.Argument(..., help="The version to promote, e.g. churn@3."),
    alias: str = typer.Argument(..., help="Alias to point at it, e.g. champion."),
    model: str = typer.Option(
        None, "--model", help="The model that owns the alias (default: the one in REF)."
    ),
    json_: bool = JSON,
) -> None:
    """Point an alias (champion, staging ...) at a version."""
    v = _registry().promote(ref, alias, model=model)
    outcome(v, json_, f"[green]{escape(v.name)}@{escape(alias)}[/green] -> version {v.version}")


@app.command()
def rename(
    name: str = typer.Argument(..., help="The registered model, e.g. churn."),
    new_name: str = typer.Argument(..., help="Its new name."),
    json_: bool = JSON,
) -> None:
    """Rename a model; its versions, tags and aliases follow (refused while deployed)."""
    model = _registry().rename(name, new_name)
    outcome(
        model, json_, f"[green]{escape(name)}[/green] is now [green]{escape(model.name)}[/green]"
    )


@app.command()
def delete(
    name: str = typer.Argument(..., help="The registered model to delete with its versions."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_: bool = JSON,
) -> None:
    """Delete a model and all its versions (refused while a deployment serves it); package
    blobs are freed by the next `keel gc`."""
    registry = _registry()
    model = registry.get_model(name)
    if not yes:
        n = model.latest_version or 0
        typer.confirm(f"Delete {name} and its {n} version(s)?", abort=True)
    registry.delete(name)
    outcome(
        {"deleted": name},
        json_,
        f"deleted [bold]{escape(name)}[/bold]; run `keel gc` to free its packages",
    )


_IMPORT_PATH = typer.Argument(
    ..., help="ONNX, skops, XGBoost (.json/.ubj) or LightGBM (.txt) file."
)
_IMPORT_NAME = typer.Option(..., "--name", "-n", help="Registered model name.")
_TASK = typer.Option(None, "--task", help="classification, regression, ...")
_METRICS = typer.Option([], "--metric", "-m", help="KEY=VALUE measured elsewhere (repeatable).")
_INTENDED_USE = typer.Option(None, "--intended-use", help="Model card: what it is for.")
_DATA = typer.Option(None, "--data", help="Model card: what data trained it.")
_LIMITATIONS = typer.Option(None, "--limitations", help="Model card: where it fails.")
_CARD = typer.Option(None, "--card", help="Model card as a YAML file.")
_EXAMPLE = typer.Option(
    None, "--example", help="CSV/Parquet of a few input rows (defines the signature)."
)
_SEMVER = typer.Option(None, "--semver", help="Semantic version, e.g. 1.2.0.")
_TRUST_PICKLE = typer.Option(
    False, "--trust-pickle", help="Accept a pickle/joblib file after a clean scan."
)
_SIGNATURE = typer.Option(
    None,
    "--signature",
    help="The author's detached signature (default: FILE.sig beside it, if any).",
)


@app.command("import")
def import_(
    path: Path = _IMPORT_PATH,
    name: str = _IMPORT_NAME,
    task: str = _TASK,
    metric: list[str] = _METRICS,
    intended_use: str = _INTENDED_USE,
    data: str = _DATA,
    limitations: str = _LIMITATIONS,
    card: Path = _CARD,
    example: Path = _EXAMPLE,
    semver: str = _SEMVER,
    trust_pickle: bool = _TRUST_PICKLE,
    signature: Path = _SIGNATURE,
    json_: bool = JSON,
) -> None:
    """Register a model trained elsewhere, with a model card.

    A detached signature by its author (`keel keys sign`) is verified first and its signer
    recorded as the author; one that does not match the file refuses the import.
    """
    from keel.models import card_from, import_model

    metrics = _pairs(metric, "--metric", numeric=True)
    card_data = card_from(
        card, metrics, intended_use=intended_use, data=data, limitations=limitations
    )
    v = import_model(
        _registry(),
        path,
        name,
        card=card_data,
        metrics=metrics,
        task=task,
        input_example=example,
        trust_pickle=trust_pickle,
        semver=semver,
        signature=signature,
    )
    outcome(
        v,
        json_,
        f"imported [bold]{escape(path.name)}[/bold] as [green]{escape(v.ref)}[/green] "
        f"({v.flavor}, serves {v.serve_flavor}); author: {escape(_author(v.lineage))}",
    )


def _author(lineage: dict[str, Any]) -> str:
    """Who signed an imported model's original file, as one phrase."""
    prov = lineage.get("provenance") or {}
    author = prov.get("author")
    if author:
        trusted = "trusted" if author.get("trusted") else "not trusted here"
        return f"{author['name']} (key {author['key_id']}, {trusted})"
    if prov.get("source_signed"):
        return f"signature {prov['source_signature']['file']} recorded, not verified by keel"
    return "unknown (no detached signature)"


@app.command()
def register(
    run_id: str = typer.Argument(
        ..., help="The run that logged the model (id, unique id prefix or runs:/ URI)."
    ),
    name: str = typer.Option(..., "--name", "-n", help="Registered model name, e.g. churn."),
    path: str = typer.Option("model", "--path", help="The model's artifact path in the run."),
    semver: str = typer.Option(None, "--semver", help="A semantic version label, e.g. 1.2.0."),
    json_: bool = JSON,
) -> None:
    """Register a model an earlier run logged as the next version of NAME."""
    uri = (
        run_id
        if run_id.startswith("runs:/")
        else f"runs:/{_context.client().resolve_run_id(run_id)}/{path}"
    )
    version = _registry().register_run(uri, name, semver=semver)
    outcome(version, json_, f"Registered {version.name}@{version.version} from {uri}")


@app.command()
def reproduce(
    ref: str = typer.Argument(..., help="The version to reproduce, e.g. churn@3."),
    tolerance: float = typer.Option(1e-6, "--tolerance", help="Relative tolerance for metrics."),
    keep: bool = typer.Option(False, "--keep", help="Keep the temporary worktree."),
    register: bool = typer.Option(
        False, "--register", help="Register the reproduced model as a new version."
    ),
    json_: bool = JSON,
) -> None:
    """Re-run the recorded commit + diff with the recorded params (or script arguments) and
    data; compare. Registers nothing unless --register."""
    from keel.models import reproduce as run

    report = run(_registry(), ref, tolerance=tolerance, keep_worktree=keep, register=register)
    if json_:
        print_json({**report.__dict__, "matches": report.matches})
        return
    out = console()
    out.print(
        f"commit {escape(report.commit[:12])}, uncommitted diff "
        f"{'applied' if report.diff_applied else 'none'}, new run {escape(str(report.new_run_id))}"
    )
    out.print(f"model file identical: {'yes' if report.same_file else 'no'}")
    out.print(f"ran: {escape(' '.join(report.command))}")
    print_table(
        f"metrics (tolerance {report.tolerance:g}, absolute or relative)",
        ["metric", "recorded", "reproduced", "within tolerance"],
        [[k, a, b, "yes" if ok else "NO"] for k, (a, b, ok) in report.metrics.items()],
        empty="no metrics recorded",
    )
    verdict = (
        "[bold green]reproduced[/bold green]"
        if report.matches
        else "[bold red]does not match[/bold red]"
    )
    out.print(f"{escape(report.ref)}: {verdict}")
    out.print(
        f"registered {escape(report.registered)}"
        if report.registered
        else "nothing registered (pass --register to register the reproduced model)"
    )
    if not report.matches:
        raise typer.Exit(1)


@app.command()
def verify(
    target: str = typer.Argument(..., help="A package folder, archive, or churn@3."),
    trust: str = typer.Option("strict", "--trust", help="strict | warn | off."),
) -> None:
    """Check a package's signature and every file's hash, and scan it; load nothing."""
    import tempfile

    from keel.models import unpack_archive

    path = Path(target)
    if path.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            _verify_folder(unpack_archive(path, Path(tmp) / "package"), trust)
        return
    if path.exists():
        _verify_folder(path, trust)
        return
    registry = _registry()
    _verify_folder(registry.fetch(registry.resolve(target)), trust)


def _verify_folder(folder: Path, trust: str) -> None:
    from keel.models import Keyring, scan_package, verify_package

    verified = verify_package(
        folder, policy=trust, keyring=Keyring(_context.settings().home / "keys")
    )
    scan_package(folder, allow_pickle=False, trusted=frozenset())
    sig = verified.signature
    who = "unsigned"
    if sig is not None:
        who = f"signed by {sig.signer} ({sig.key_id}){'' if sig.trusted else ' - NOT trusted'}"
    files = len(verified.manifest.files)
    console().print(f"[green]ok[/green]: {files} files verified, {escape(who)}")


@app.command()
def scan(
    paths: list[Path] = typer.Argument(..., help="Files to scan (format read from content)."),
    json_: bool = JSON,
) -> None:
    """Scan files for pickle payloads without loading them."""
    from keel.models import scan_file

    results = [scan_file(p, label=str(p)) for p in paths]
    if json_:
        print_json(
            [
                {
                    "file": r.file,
                    "kind": r.kind,
                    "safe": r.safe,
                    "globals": r.globals,
                    "findings": [f.issue for f in r.findings],
                }
                for r in results
            ]
        )
    else:
        print_table(
            "scan",
            ["file", "kind", "verdict", "why"],
            [
                [
                    r.file,
                    r.kind,
                    "safe" if r.safe else "UNSAFE",
                    "; ".join(f.issue for f in r.findings)[:200],
                ]
                for r in results
            ],
        )
    if any(not r.safe for r in results):
        raise typer.Exit(1)
