"""``keel serve``: serve registered models over HTTP (v2 protocol, /invocations, records)."""

from pathlib import Path

import typer

from keel.cli._options import TRUST

app = typer.Typer(add_completion=False)


_MODELS = typer.Argument(None, help="Model references: churn@champion churn@challenger fraud/7 ...")
_FILE = typer.Option(None, "--file", "-f", help="A deployment spec (deploy.yaml).")
_DEPLOYMENT = typer.Option(
    None, "--deployment", "-d", help="Serve a deployment applied with `keel deploy apply`."
)
_HOST = typer.Option(None, "--host", help="Interface to listen on (default 127.0.0.1).")
_PORT = typer.Option(None, "--port", "-p", min=0, max=65535, help="Port (default 8080).")
_WORKERS = typer.Option(None, "--workers", "-w", min=1, help="Server processes.")
_CONCURRENCY = typer.Option(None, "--concurrency", help="Requests in flight per model.")
_QUEUE = typer.Option(None, "--queue", help="Requests waiting per model before 429.")
_TIMEOUT_MS = typer.Option(None, "--timeout-ms", help="Request timeout per model.")
_THREADS = typer.Option(None, "--threads", help="Predict threads per model.")
_NAME = typer.Option("default", "--name", help="Deployment name for ad-hoc models.")
_PACKAGES = typer.Option(
    None,
    "--packages",
    help="Serve the packages in this folder (written by `keel deploy export -o`), "
    "not the registry's.",
)
_STRICT_ENV = typer.Option(
    False,
    "--strict-env",
    help="Refuse to start when installed framework versions differ from the packages'.",
)
_LOG_LEVEL = typer.Option("warning", "--log-level", help="uvicorn log level.")


@app.command()
def serve(
    models: list[str] = _MODELS,
    file: Path = _FILE,
    deployment: str = _DEPLOYMENT,
    host: str = _HOST,
    port: int = _PORT,
    workers: int = _WORKERS,
    concurrency: int = _CONCURRENCY,
    queue: int = _QUEUE,
    timeout_ms: int = _TIMEOUT_MS,
    threads: int = _THREADS,
    name: str = _NAME,
    packages: Path = _PACKAGES,
    strict_env: bool = _STRICT_ENV,
    log_level: str = _LOG_LEVEL,
    trust: str = TRUST,
) -> None:
    """Serve models until Ctrl-C; the prediction log is flushed on the way out.

    Give model references, a spec file (-f) or a stored deployment (-d). A deployment
    served with -d follows new revisions applied while it runs; aliases are followed in
    every mode. Every server shows in `keel deploy list` (ad hoc unless served with -d).
    """
    import sys
    from dataclasses import replace

    from keel.cli import _context
    from keel.cli._render import err_console
    from keel.serving import launch, resolve_spec

    settings = replace(_context.settings(), model_trust=_context.trust(trust))
    store = _context.store()
    sizing = {"concurrency": concurrency, "queue": queue, "timeout_ms": timeout_ms}
    spec = resolve_spec(
        store, settings.project, models=models, file=file, deployment=deployment,
        packages=packages, name=name, threads=threads, sizing=sizing,
    )  # fmt: skip
    endpoints = ", ".join(ep.name for ep in spec.endpoints)
    announce = f"[bold]keel serve[/bold] {spec.name} ({endpoints}) on "
    launch(
        spec, settings, store, applied=deployment is not None, packages=packages,
        strict_env=strict_env, host=host, port=port, workers=workers, log_level=log_level,
        warn=lambda line: err_console().print(line, markup=False, highlight=False, soft_wrap=True),
        command=" ".join(["keel", *sys.argv[1:]])[:500],
        ready=lambda url: err_console().print(announce + url),  # only once it serves
    )  # fmt: skip
