"""Server fixtures: an app over a fresh store, a real server (thread or process), users.

``store`` is overridden here with a third backend, ``remote``: the repositories over HTTP
against a real uvicorn server on a loopback port, so the repository contract suite runs
against SQLite, PostgreSQL and the remote backend alike.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():  # Starlette suggests httpx2; httpx is what we ship
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient

from server_helpers import (  # type: ignore[import-not-found]
    AUTH_OPTIONS,
    OPTIONS,
    server_process,
    serving_remote,
)

from keel.config import Settings
from keel.server import create_app
from keel.store import Store, open_store


@pytest.fixture
def server_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings.for_home(tmp_path / "server-home"))
    yield store
    store.close()


@pytest.fixture
def app(server_store: Store) -> FastAPI:
    return create_app(server_store.settings, OPTIONS, store=server_store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[Any]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def remote_store(server_store: Store, tmp_path: Path) -> Iterator[Store]:
    """A Store whose repositories talk HTTP to a real server over ``server_store``."""
    with serving_remote(server_store, tmp_path / "client-home") as store:
        yield store


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def store(request: pytest.FixtureRequest) -> Store:
    """The repository contract against every backend, the remote one included."""
    name = {"sqlite": "sqlite_store", "postgres": "pg_store", "remote": "remote_store"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


@dataclasses.dataclass
class AuthWorld:
    """An auth-on app with an admin, a project ``team`` and users of each role."""

    client: Any
    store: Store
    tokens: dict[str, str]
    project_id: int

    def as_(self, user: str | None) -> dict[str, str]:
        return {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture
def auth_world(server_store: Store) -> Iterator[AuthWorld]:
    users = server_store.users
    team = server_store.projects.get_or_create("team")
    tokens: dict[str, str] = {}
    for name, role in [
        ("root", None),
        ("rita", "reader"),
        ("walt", "writer"),
        ("ada", "admin"),
        ("out", None),
    ]:
        user = users.create_user(name, is_admin=name == "root")
        tokens[name] = users.create_token(user.id, "t")[1]
        if role:
            users.set_role(team.id, user.id, role)
    app = create_app(server_store.settings, AUTH_OPTIONS, store=server_store)
    with TestClient(app) as c:
        yield AuthWorld(c, server_store, tokens, team.id)


#: base URL of each running ``keel_server`` -> its KEEL_HOME (to inspect its database)
SERVER_HOMES: dict[str, Path] = {}


@pytest.fixture(scope="module")
def keel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real ``keel server`` process per test module (authentication off)."""
    home = tmp_path_factory.mktemp("keel-server") / "home"
    with server_process(home) as url:
        SERVER_HOMES[url] = home
        yield url
        del SERVER_HOMES[url]


@pytest.fixture
def keel_server_store(keel_server: str) -> Iterator[Store]:
    """The running server's own database, opened directly (SQLite in WAL: safe to share)."""
    store = open_store(Settings.for_home(SERVER_HOMES[keel_server]))
    yield store
    store.close()
