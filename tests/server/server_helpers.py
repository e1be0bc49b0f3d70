"""Helpers for the server tests: a real ``keel server`` process on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


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
