"""``keel artifacts``: list, download and upload run artifacts."""

from pathlib import Path

import typer

from keel.cli import _context
from keel.cli._render import console, fmt_time, listing
from keel.cli.runs import _resolve

app = typer.Typer(help="List, download and upload run artifacts.", no_args_is_help=True)


@app.command("list")
def list_(
    run_id: str,
    path: str = typer.Option(None, "--path", help="Only artifacts under this folder."),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """List a run's artifacts."""
    arts = _context.client().list_artifacts(_resolve(run_id), path)
    listing(
        arts,
        json_,
        "Artifacts",
        ["path", "size", "sha256", "logged"],
        lambda a: (a.path, a.size, a.blob_sha[:12], fmt_time(a.created_at)),
        empty="no artifacts",
    )


@app.command()
def download(
    run_id: str,
    dest: Path = typer.Option(Path("."), "--dest", "-d", help="Folder to write into."),
    path: str = typer.Option(None, "--path", help="One artifact or folder (default: all)."),
) -> None:
    """Download artifacts, verifying each file's hash."""
    files = _context.client().download_artifacts(_resolve(run_id), dest, path)
    console().print(f"Downloaded {len(files)} file(s) to {dest}")


@app.command()
def upload(
    run_id: str,
    local_path: Path,
    artifact_path: str = typer.Option(None, "--as", help="Path inside the run."),
) -> None:
    """Upload a file or folder as artifacts of a run."""
    arts = _context.client().log_artifact(_resolve(run_id), local_path, artifact_path)
    console().print(f"Uploaded {len(arts)} file(s)")
