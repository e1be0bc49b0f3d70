"""``keel deploy``: apply deployment specs, list and inspect them, roll back, export."""

from pathlib import Path
from typing import Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, fmt_time, outcome, print_json, print_table

app = typer.Typer(help="Apply deployment specs, inspect, roll back, export.", no_args_is_help=True)


@app.command("apply")
def apply(
    file: Path = typer.Argument(..., help="The deployment spec (deploy.yaml)."),
    note: str = typer.Option("", "--note", help="Why this revision (kept in the history)."),
    json_: bool = JSON,
) -> None:
    """Store a spec as the deployment's next revision; running servers pick it up."""
    from keel.serving import apply_spec

    dep, changed = apply_spec(_context.store(), _context.settings().project, file, note=note)
    if json_:
        print_json({"deployment": dep, "changed": changed})
        return
    verb = "applied as revision" if changed else "unchanged at revision"
    console().print(f"Deployment [bold]{escape(dep.name)}[/bold] {verb} {dep.revision}")
    _print_targets(dep.targets)


def _print_targets(targets: list[Any]) -> None:
    print_table(
        None,
        ["endpoint", "model", "traffic %", "shadow"],
        [[t.endpoint, t.model_ref, t.weight, "yes" if t.shadow else ""] for t in targets],
    )


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """Deployments of the project: applied ones and every server started ad hoc, with
    where they listen and whether a server was seen lately."""
    from dataclasses import asdict

    from keel.serving import deployment_summary as summary
    from keel.serving import list_deployments

    deps = list_deployments(_context.store(), _context.settings().project)
    if json_:
        print_json([asdict(d) | summary(d) for d in deps])
        return
    rows = []
    for d in deps:
        info = summary(d)
        rows.append(
            [
                d.name,
                info["kind"],
                d.revision,
                ", ".join(t.model_ref for t in d.targets),
                info["address"] if d.adhoc else "-",
                info["liveness"],
                fmt_time(d.applied_at),
            ]
        )
    print_table(
        "deployments",
        ["name", "kind", "revision", "models", "address", "server", "applied"],
        rows,
        empty="no deployments; create one with `keel deploy apply deploy.yaml` or `keel serve`",
    )


@app.command("show")
def show(
    name: str = typer.Argument(...),
    revision: int = typer.Option(None, "--revision", "-r", help="An older revision."),
    json_: bool = JSON,
) -> None:
    """The spec of a deployment (YAML), current or at a revision."""
    import yaml

    from keel.serving import get_spec

    spec = get_spec(_context.store(), _context.settings().project, name, revision)
    outcome(spec.to_dict(), json_, escape(yaml.safe_dump(spec.to_dict(), sort_keys=False)))


@app.command("history")
def history(name: str = typer.Argument(...), json_: bool = JSON) -> None:
    """Every revision of a deployment, oldest first."""
    from keel.serving import deployment_history as revisions

    revs = revisions(_context.store(), _context.settings().project, name)
    if json_:
        print_json(revs)
        return
    rows = [
        [
            r.revision,
            fmt_time(r.created_at),
            ", ".join(
                f"{t.model_ref}{' (shadow)' if t.shadow else f' {t.weight:g}%'}" for t in r.targets
            ),
            r.note,
        ]
        for r in revs
    ]
    print_table(f"{name}: {len(revs)} revisions", ["revision", "applied", "traffic", "note"], rows)


@app.command("rollback")
def rollback(
    name: str = typer.Argument(...),
    revision: int = typer.Argument(..., help="The revision whose spec comes back."),
) -> None:
    """Apply an earlier revision's spec again (as a new revision)."""
    from keel.serving import rollback_deployment as do_rollback

    dep = do_rollback(_context.store(), _context.settings().project, name, revision)
    console().print(
        f"Deployment [bold]{escape(name)}[/bold] is at revision {dep.revision} "
        f"(the spec of revision {revision})"
    )


@app.command("delete")
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a deployment (its history stays for lineage)."""
    from keel.serving import delete_deployment as do_delete

    do_delete(_context.store(), _context.settings().project, name)
    console().print(f"Deleted deployment [bold]{escape(name)}[/bold]")


@app.command("export")
def export(
    name: str = typer.Argument(None, help="A stored deployment (or use --file)."),
    file: Path = typer.Option(None, "--file", "-f", help="A spec file instead."),
    fmt: str = typer.Option("kubernetes", "--format", help="kubernetes | kserve | dockerfile"),
    image: str = typer.Option("keel-serving:latest", "--image", help="Container image."),
    keel: str = typer.Option(
        None, "--keel", help="The keel requirement the image installs (default: this version)."
    ),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Write the image's build context here (Dockerfile, deploy.yaml, models/, "
        "manifests) instead of printing the manifests.",
    ),
) -> None:
    """Manifests for Kubernetes, KServe or a Dockerfile: an image that installs the served
    packages' pinned requirements and carries the packages, with the declared resources."""
    import sys

    from keel.exceptions import InvalidArgumentError
    from keel.serving import export_deployment, get_spec, load_spec

    if (name is None) == (file is None):
        raise InvalidArgumentError("give a deployment name or --file deploy.yaml (one of them)")
    store, project = _context.store(), _context.settings().project
    spec = load_spec(file) if file else get_spec(store, project, name)
    done = export_deployment(store, project, spec, fmt, image=image, keel=keel, output=output)
    if output is None:
        sys.stdout.write(done.text)
        return
    console().print(
        f"Wrote the build context of [bold]{escape(spec.name)}[/bold] to {escape(str(output))}: "
        + ", ".join(escape(p.name) for p in done.files)
    )
    console().print(f"Build it with: docker build -t {escape(image)} {escape(str(output))}")
