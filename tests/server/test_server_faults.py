"""Faults an operator meets, on a real ``keel server`` process: the database hangs or goes
down, clients send half a request and stop, the parent process is killed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faultkit import TcpProxy  # type: ignore[import-not-found]
from server_helpers import server_process  # type: ignore[import-not-found]
from sqlalchemy.engine import make_url

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
