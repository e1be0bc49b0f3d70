"""``keel serve``: serve registered models over HTTP (v2 protocol, /invocations, records)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

app = typer.Typer(add_completion=False)


@app.command()
def serve(
    models: list[str] = typer.Argument(
        None, help="Model references: churn@champion churn@challenger fraud/7 ..."
    ),
    file: Path = typer.Option(None, "--file", "-f", help="A deployment spec (deploy.yaml)."),
    deployment: str = typer.Option(
        None, "--deployment", "-d", help="Serve a deployment applied with `keel deploy apply`."
    ),
    host: str = typer.Option(None, "--host", help="Interface to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", "-p", help="Port (default 8080)."),
    workers: int = typer.Option(None, "--workers", "-w", help="Server processes."),
    concurrency: int = typer.Option(None, "--concurrency", help="Requests in flight per model."),
    queue: int = typer.Option(None, "--queue", help="Requests waiting per model before 429."),
    timeout_ms: int = typer.Option(None, "--timeout-ms", help="Request timeout per model."),
    threads: int = typer.Option(None, "--threads", help="Predict threads per model."),
    name: str = typer.Option("default", "--name", help="Deployment name for ad-hoc models."),
    packages: Path = typer.Option(
        None,
        "--packages",
        help="Serve the packages in this folder (written by `keel deploy export -o`), "
        "not the registry's.",
    ),
    strict_env: bool = typer.Option(
        False,
        "--strict-env",
        help="Refuse to start when installed framework versions differ from the packages'.",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    trust: str = typer.Option(
        None, "--trust", help="Signature policy: strict | warn | off (default: KEEL_MODEL_TRUST)."
    ),
) -> None:
    """Serve models until Ctrl-C; the prediction log is flushed on the way out.

    Give model references, a spec file (-f) or a stored deployment (-d). A deployment
    served with -d follows new revisions applied while it runs; aliases are followed in
    every mode. Every server shows in `keel deploy list` (ad hoc unless served with -d).
    """
    import sys

    from keel.cli import _context
    from keel.cli._render import err_console
    from keel.serving import launch

    _check_sources(models, file, deployment, packages)
    settings = _context.settings()
    if trust is not None:
        from dataclasses import replace

        settings = replace(settings, model_trust=_context.trust(trust))
    store = _context.store()
    sizing: dict[str, int | None] = {
        "concurrency": concurrency,
        "queue": queue,
        "timeout_ms": timeout_ms,
    }
    spec = _spec(models, file, deployment, store, settings.project, name, threads, sizing)
    where = f"{host or spec.server.host}:{spec.server.port if port is None else port}"
    endpoints = ", ".join(ep.name for ep in spec.endpoints)
    err_console().print(f"[bold]keel serve[/bold] {spec.name} ({endpoints}) on http://{where}")
    launch(
        spec,
        settings,
        store,
        applied=deployment is not None,
        packages=packages,
        strict_env=strict_env,
        warn=lambda line: err_console().print(line, markup=False, highlight=False, soft_wrap=True),
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        command=" ".join(["keel", *sys.argv[1:]])[:500],
    )


def _check_sources(
    models: list[str] | None, file: Path | None, deployment: str | None, packages: Path | None
) -> None:
    """Exactly one source of models; --packages only with references or a spec file."""
    from keel.exceptions import InvalidArgumentError

    if sum([bool(models), file is not None, deployment is not None]) != 1:
        raise InvalidArgumentError(
            "give exactly one of: model references (keel serve churn@champion), "
            "--file deploy.yaml, or --deployment NAME"
        )
    if packages is not None and deployment is not None:
        raise InvalidArgumentError(
            "--packages serves a frozen export and cannot follow a stored --deployment; "
            "give the exported deploy.yaml with -f"
        )


def _spec(
    models: list[str] | None,
    file: Path | None,
    deployment: str | None,
    store: Any,
    project: str,
    name: str,
    threads: int | None,
    sizing: dict[str, int | None],
) -> Any:
    """The deployment spec to serve: built from references, read from a file, or stored."""
    from keel.serving import get_spec, load_spec, spec_for_refs

    if models:
        return spec_for_refs(list(models), name=name, threads=threads, **sizing)
    if file is not None:
        return load_spec(file)
    assert deployment is not None
    return get_spec(store, project, deployment)
