"""Faults an operator meets, on a real ``keel server`` process: the database hangs or goes
down, clients send half a request and stop, the parent process is killed."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import uvicorn
from faultkit import TcpProxy, closed_by_peer, slow_clients  # type: ignore[import-not-found]
from server_helpers import free_port, server_process  # type: ignore[import-not-found]
from sqlalchemy.engine import make_url

from keel._uvicorn import HEADER_TIMEOUT_S, GuardedProtocol

SEARCH = "/api/2.0/mlflow/experiments/search"


@pytest.fixture
def proxied_pg(pg_database: str) -> Iterator[tuple[TcpProxy, str]]:
    """PostgreSQL behind a proxy the test can black-hole or drop."""
    url = make_url(pg_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    proxy.close()


def _assert_unavailable(resp: httpx.Response, words: str) -> None:
    assert resp.status_code == 503, resp.text
    body = resp.json()
    assert body["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert words in body["message"]
    assert resp.headers["retry-after"] == "5"


def test_a_hung_or_down_database_gives_503_and_health_says_so(
    proxied_pg: tuple[TcpProxy, str], tmp_path: Path
) -> None:
    proxy, uri = proxied_pg
    env = {"KEEL_DB_URI": uri, "KEEL_DB_STATEMENT_TIMEOUT": "1", "KEEL_DB_CONNECT_TIMEOUT": "2"}
    with server_process(tmp_path / "home", env=env) as url, httpx.Client(timeout=60) as c:
        assert c.post(url + SEARCH, json={"max_results": 5}).status_code == 200
        assert c.get(url + "/api/v1/health").json() == {"status": "ok", "database": "ok"}
        proxy.blackhole()
        _assert_unavailable(c.post(url + SEARCH, json={"max_results": 5}), "metadata database")
        health = c.get(url + "/api/v1/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        proxy.drop()
        _assert_unavailable(c.post(url + SEARCH, json={"max_results": 5}), "cannot use")
        proxy.restore()
        assert c.post(url + SEARCH, json={"max_results": 5}).status_code == 200
        assert c.get(url + "/api/v1/health").status_code == 200


HALF_REQUEST = b"GET /api/v1/version HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # and then nothing


def _all_closed_within(socks: list[socket.socket], bound_s: float) -> float:
    """Seconds until the server closed every one of ``socks``; fails past ``bound_s``."""
    start = time.monotonic()
    open_ = list(socks)
    while open_:
        open_ = [s for s in open_ if not closed_by_peer(s)]
        elapsed = time.monotonic() - start
        assert elapsed < bound_s, f"{len(open_)} of {len(socks)} slow connections still open"
        time.sleep(0.2)
    return time.monotonic() - start


@contextmanager
def _open_files(limit: int) -> Iterator[None]:
    """Children started in the block get ``limit`` open files; this process many more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


def test_keel_server_outlasts_slow_clients_and_closes_them(tmp_path: Path) -> None:
    with ExitStack() as stack:
        with _open_files(1024):  # the limit the issue ran into
            url = stack.enter_context(server_process(tmp_path / "home"))
        port = int(url.rsplit(":", 1)[1])
        slow = stack.enter_context(slow_clients(port, 1100, HALF_REQUEST))
        with httpx.Client(timeout=30) as c:
            for _ in range(20):  # valid requests still get answers, at once
                assert c.get(url + "/api/v1/version").status_code == 200
        _all_closed_within(slow, HEADER_TIMEOUT_S + 20)
        assert httpx.get(url + "/api/v1/version", timeout=30).status_code == 200


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A minimal ASGI app that reads the whole body and answers its size."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        msg = await receive()
        size += len(msg.get("body", b""))
        more = msg.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


class _Quick(GuardedProtocol):  # type: ignore[misc]
    header_timeout_s = 1.0
    body_idle_timeout_s = 1.0


def test_request_read_deadlines_answer_408_and_spare_moving_requests() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_echo, http=_Quick, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        stalled_body = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"
        with (
            slow_clients(port, 5, HALF_REQUEST) as heads,
            slow_clients(port, 5, stalled_body) as bodies,
        ):
            moving = socket.create_connection(("127.0.0.1", port))
            moving.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
            for byte in b"abcd":  # slower than nothing, faster than the idle deadline
                time.sleep(0.5)
                moving.sendall(bytes([byte]))
            assert moving.recv(4096).startswith(b"HTTP/1.1 200")
            _all_closed_within(heads + bodies, 15)
            answer = heads[0].recv(4096) or b""
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_keel_serve_uses_the_same_deadlines() -> None:
    from keel.serving._server import start_in_thread, uvicorn_config

    assert uvicorn_config(_echo, "127.0.0.1", 0).http is GuardedProtocol
    handle = start_in_thread(_echo)
    port = int(handle.url.rsplit(":", 1)[1])
    try:
        with slow_clients(port, 300, HALF_REQUEST) as slow:
            assert httpx.post(handle.url, content=b"abc", timeout=30).text == "3"
            _all_closed_within(slow, HEADER_TIMEOUT_S + 20)
    finally:
        handle.stop()


def _spawn_server(home: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["KEEL_HOME"] = str(home)
    cmd = [sys.executable, "-m", "keel.cli", "server", "--port", str(port), *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_answering(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "keel server exited"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/api/v1/version", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("keel server did not answer")


def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    parent = _spawn_server(tmp_path / "home", port, "--workers", "2")
    workers: list[psutil.Process] = []
    try:
        _wait_answering(url, parent)
        workers = psutil.Process(parent.pid).children(recursive=True)
        assert len(workers) >= 2  # the two workers (and multiprocessing's tracker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        _, alive = psutil.wait_procs(workers, timeout=60)
        assert not alive, f"workers outlived their parent: {[p.pid for p in alive]}"
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in workers:  # psutil checks it is still the same process before killing
            with contextlib.suppress(psutil.Error):
                w.kill()
    again = _spawn_server(tmp_path / "home", port)  # the port is free for a restart
    try:
        _wait_answering(url, again)
    finally:
        again.terminate()
        again.wait(30)
