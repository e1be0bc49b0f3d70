"""Web UI fixtures: a real ``keel server --auth`` over a seeded store (see uikit.py),
headless Chromium, and one signed-in browser session per role."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from uikit import (  # type: ignore[import-not-found]
    Session,
    UIWorld,
    free_port,
    seed_home,
    server_env,
    wait_ready,
)


@pytest.fixture(scope="session")
def ui_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIWorld]:
    """``keel server --auth`` as a real subprocess over a freshly seeded KEEL_HOME."""
    home = tmp_path_factory.mktemp("ui") / "home"
    ids, tokens = seed_home(home)
    port = free_port()
    log = home.parent / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "keel.cli", "server", "--auth", "--port", str(port),
             "--log-level", "warning"],
            env=server_env(home), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log)
        yield UIWorld(url, home, tokens, ids)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def as_admin(browser: Any, ui_world: UIWorld) -> Iterator[Session]:
    s = Session(browser, ui_world, "root")
    yield s
    s.close()


@pytest.fixture
def as_reader(browser: Any, ui_world: UIWorld) -> Iterator[Session]:
    s = Session(browser, ui_world, "rita")
    yield s
    s.close()


@pytest.fixture
def as_writer(browser: Any, ui_world: UIWorld) -> Iterator[Session]:
    s = Session(browser, ui_world, "walt")
    yield s
    s.close()


@pytest.fixture
def anonymous(browser: Any, ui_world: UIWorld) -> Iterator[Session]:
    s = Session(browser, ui_world, None)
    yield s
    s.close()


@pytest.fixture
def ui_client(sqlite_store: Any) -> Iterator[Any]:
    """The server app in-process (no auth) over a fresh SQLite store."""
    from keel.server import ServerOptions, create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient

    options = ServerOptions(allowed_hosts=("testserver",))
    with TestClient(create_app(sqlite_store.settings, options, store=sqlite_store)) as client:
        yield client
