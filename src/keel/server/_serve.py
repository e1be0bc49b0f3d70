"""Run the app under uvicorn: bind checks, TCP_NODELAY and request-read deadlines (shared
with ``keel serve`` in :mod:`keel._uvicorn`), one or several workers."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
from typing import Any

from fastapi import FastAPI

from keel._uvicorn import (
    PROTOCOL_PATH,
    exit_with_parent,
    raise_open_files_limit,
    uvicorn_options,
)
from keel.config import Settings
from keel.exceptions import ConfigError
from keel.server._options import ServerOptions, is_loopback

#: uvicorn's protocol with TCP_NODELAY and read deadlines (a path: worker processes load it)
NODELAY_PROTOCOL = PROTOCOL_PATH
#: How the CLI hands options to worker processes (each builds its own app and Store).
OPTIONS_ENV = "KEEL_SERVER_OPTIONS"


def check_bind(host: str, options: ServerOptions, *, insecure: bool) -> None:
    """Refuse to expose an unauthenticated server beyond this machine unless told to."""
    if options.auth or insecure or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host!r} with authentication off: anyone who can reach it "
        "could read and change everything. Start it with --auth (and create a user with "
        "`keel server users create`), or pass --insecure if a proxy in front authenticates."
    )


def app_from_env() -> FastAPI:
    """The factory each worker process calls (``uvicorn --factory``)."""
    from keel.server._app import create_app

    raw = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    exit_with_parent(raw.pop("parent_pid", None))
    raw["allowed_hosts"] = tuple(raw.get("allowed_hosts", ServerOptions.allowed_hosts))
    app = create_app(Settings.from_env(), ServerOptions(**raw))
    _freeze_heap()
    return app


def _freeze_heap() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    A large response allocates tens of thousands of small objects, and every full
    collection would otherwise walk the whole imported framework again.
    """
    gc.collect()
    gc.freeze()


def serve(
    settings: Settings,
    options: ServerOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    insecure: bool = False,
    log_level: str = "info",
) -> None:
    """Serve until interrupted. Several workers each open their own Store."""
    import uvicorn

    from keel.server._app import create_app

    check_bind(host, options, insecure=insecure)
    raise_open_files_limit()
    common: dict[str, Any] = {
        **uvicorn_options(),
        "host": host,
        "port": port,
        "http": NODELAY_PROTOCOL,
        "log_level": log_level,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 30,
    }
    if workers > 1:
        raw = {**dataclasses.asdict(options), "parent_pid": os.getpid()}
        os.environ[OPTIONS_ENV] = json.dumps(raw)
        uvicorn.run("keel.server._serve:app_from_env", factory=True, workers=workers, **common)
        return
    app = create_app(settings, options)
    _freeze_heap()
    uvicorn.run(app, **common)


__all__ = ["OPTIONS_ENV", "app_from_env", "check_bind", "serve"]
