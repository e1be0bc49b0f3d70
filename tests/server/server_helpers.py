"""Helpers for the server tests: a real ``keel server`` process on a free port."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from keel.config import Settings
from keel.server import ServerOptions, create_app
from keel.store import Store, open_store

#: Starlette's TestClient sends ``Host: testserver``.
OPTIONS = ServerOptions(allowed_hosts=("localhost", "127.0.0.1", "::1", "testserver"))
AUTH_OPTIONS = dataclasses.replace(OPTIONS, auth=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keel server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"keel server did not become ready:\n{log.read_text()[-3000:]}")


@contextmanager
def server_process(home: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``keel server --port <free>`` as a real subprocess with its own KEEL_HOME (``env`` adds
    settings such as KEEL_DB_URI)."""
    port = free_port()
    extra = env or {}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEEL_") or k.startswith("KEEL_TEST")
    }
    env["KEEL_HOME"] = str(home)
    env.update(extra)
    log = home.parent / f"server-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "keel.cli",
                "server",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *args,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def keel_cli(
    *args: str, home: Path, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real ``keel`` command line as a subprocess with its own KEEL_HOME (``env`` adds
    settings such as KEEL_SERVER_URL; the caller's KEEL_* variables are not inherited)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, "KEEL_HOME": str(home), "COLUMNS": "200", **env},
    )


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a loopback port in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serving_remote(server_store: Store, client_home: Path) -> Iterator[Store]:
    """A Store whose repositories talk HTTP to a real server (in a thread) over
    ``server_store``: the third backend of the contract suite."""
    app = create_app(server_store.settings, OPTIONS, store=server_store)
    with running(app) as url:
        store = open_store(Settings.for_home(client_home, server_url=url))
        yield store
        store.close()
