"""``keel ui``: the web UI for the embedded store, on this machine only.

Starts ``keel server`` on a loopback address (authentication off: only this machine can
reach it) and prints the address to open. For a team, run ``keel server --auth`` instead.
"""

import dataclasses
import socket
from urllib.parse import quote

import typer

from keel.cli import _context

app = typer.Typer(help="Open the web UI for the local keel store.", invoke_without_command=True)


def _free(host: str, port: int) -> int:
    """``port`` if it can be bound on ``host``, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            sock.bind((host, 0))
        return int(sock.getsockname()[1])


@app.callback()
def ui(
    port: int = typer.Option(5000, "--port", "-p", min=0, max=65535, help="Port (0: any)."),
    project: str | None = typer.Option(
        None, "--project", "-P", help="Project shown first (default: the CLI's project)."
    ),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in a browser."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the web UI on 127.0.0.1 and print its address (Ctrl+C stops it)."""
    from keel.server import ServerOptions, serve

    host = "127.0.0.1"
    port = _free(host, port)
    settings = dataclasses.replace(_context.settings(), server_url=None, token=None)
    project = project or settings.project
    options = ServerOptions(default_project=project)
    url = f"http://{host}:{port}/ui/p/{quote(project, safe='')}/experiments"
    # plain echo, never wrapped: scripts and tests read the address from this line
    typer.echo(f"keel UI on {url} (store: {settings.home}); Ctrl+C stops it", err=False)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    serve(settings, options, host=host, port=port, log_level=log_level)
