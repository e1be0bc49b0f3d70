"""``keel serve --workers N``: the workers go when their supervisor is SIGKILLed (issue 21).

A worker left behind keeps serving the old model and holds the port against a restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import psutil
from serving_helpers import keel_env, wait_for

from keel.config import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_workers_exit_when_the_supervisor_is_sigkilled(settings: Settings, registered: str) -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "keel.cli", "serve", registered, "--port", str(port)]
    supervisor = subprocess.Popen(
        [*cmd, "--workers", "2"],
        env=keel_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[psutil.Process] = []
    try:
        wait_for(lambda: _ready(f"http://127.0.0.1:{port}"), timeout_s=90, every_s=0.2)
        # the workers are the supervisor's own children (a worker's children, e.g. a model
        # file's parse check while the second worker still loads, are not workers)
        workers = [p for p in psutil.Process(supervisor.pid).children() if _is_worker(p)]
        assert len(workers) == 2, [p.cmdline() for p in workers]
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait(30)
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, f"workers outlived their supervisor: {[p.pid for p in alive]}"
        # and the port is free for the next start
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        for w in workers:
            if w.is_running():
                w.kill()


def _is_worker(p: psutil.Process) -> bool:
    """Not multiprocessing's resource tracker, and not a helper child that already exited
    (a zombie not yet reaped, e.g. a model file's parse check)."""
    try:
        return "resource_tracker" not in " ".join(p.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return False
