"""Labeling fixtures: the ``store`` contract fixture gains the remote backend (the
repositories over HTTP against a real uvicorn server on a loopback port)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from keel.config import Settings
from keel.server import ServerOptions, create_app
from keel.store import Store, open_store

OPTIONS = ServerOptions(allowed_hosts=("localhost", "127.0.0.1", "::1", "testserver"))


@contextmanager
def serving(server_store: Store) -> Iterator[str]:
    """A real uvicorn server over ``server_store`` on a loopback port; yields its URL."""
    import uvicorn

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
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def remote_server() -> Any:
    return serving


@pytest.fixture
def remote_store(tmp_path: Path) -> Iterator[Store]:
    server_store = open_store(Settings.for_home(tmp_path / "server-home"))
    with serving(server_store) as url:
        store = open_store(Settings.for_home(tmp_path / "client-home", server_url=url))
        try:
            yield store
        finally:
            store.close()
            server_store.close()


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def store(request: pytest.FixtureRequest) -> Store:
    """The labeling contract against every backend, the remote one included."""
    name = {"sqlite": "sqlite_store", "postgres": "pg_store", "remote": "remote_store"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


@pytest.fixture
def auth_client(sqlite_store: Store) -> Iterator[tuple[object, dict[str, dict[str, str]], int]]:
    """An auth-on app: project ``team`` with a reader, two annotators (writers) and an admin;
    yields the client, each user's auth header and the project id."""
    import dataclasses
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient

    users = sqlite_store.users
    team = sqlite_store.projects.get_or_create("team")
    headers = {}
    for name, role in [
        ("rita", "reader"),
        ("walt", "writer"),
        ("wendy", "writer"),
        ("ada", "admin"),
    ]:
        user = users.create_user(name)
        headers[name] = {"Authorization": f"Bearer {users.create_token(user.id, 't')[1]}"}
        users.set_role(team.id, user.id, role)
    options = dataclasses.replace(OPTIONS, auth=True)
    app = create_app(sqlite_store.settings, options, store=sqlite_store)
    with TestClient(app) as client:
        yield client, headers, team.id
