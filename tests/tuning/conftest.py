"""Tuning fixtures: a tracking ``client`` per test module; for sweeps, the ``store`` contract
fixture gains a third backend, ``remote`` (the HTTP repositories against a real uvicorn server
on a loopback port over a SQLite store)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel.config import Settings
from keel.server import ServerOptions, create_app
from keel.store import Store, open_store
from keel.tracking import TrackingClient

OPTIONS = ServerOptions(allowed_hosts=("localhost", "127.0.0.1", "::1", "testserver"))


@pytest.fixture(scope="module")
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrackingClient]:
    """A tracking client on a fresh SQLite store per test module, its project named after it."""
    name = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")
    store = open_store(Settings.for_home(tmp_path_factory.mktemp(name)))
    yield TrackingClient(store, project=name)
    store.close()


@pytest.fixture
def remote_store(tmp_path: Path) -> Iterator[Store]:
    import uvicorn

    server_store = open_store(Settings.for_home(tmp_path / "server-home"))
    app = create_app(server_store.settings, OPTIONS, store=server_store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    store = open_store(Settings.for_home(tmp_path / "client-home", server_url=url))
    try:
        yield store
    finally:
        store.close()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        server_store.close()


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def store(request: pytest.FixtureRequest) -> Store:
    """The sweeps contract against every backend, the remote one included."""
    name = {"sqlite": "sqlite_store", "postgres": "pg_store", "remote": "remote_store"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]
