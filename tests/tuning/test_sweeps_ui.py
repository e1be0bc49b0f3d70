"""The web UI's sweep pages, served by a real app over a store with two sweeps."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import keel
from keel.config import Settings
from keel.server import ServerOptions, create_app
from keel.store import open_store
from keel.tracking import TrackingClient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient

OPTIONS = ServerOptions(allowed_hosts=("testserver",))


def quad(p: dict[str, Any]) -> float:
    return (p["x"] - 1.0) ** 2 + p["n"] / 10


def broken(p: dict[str, Any]) -> float:
    raise RuntimeError("no data")


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sqlite_store = open_store(Settings.for_home(tmp_path_factory.mktemp("ui") / "home"))
    client = TrackingClient(sqlite_store, "default")
    space = {
        "x": {"type": "float", "low": -3.0, "high": 3.0},
        "n": {"type": "int", "low": 0, "high": 4},
    }
    keel.sweep(quad, space, trials=8, seed=2, client=client)
    keel.sweep(broken, space, trials=2, client=client)
    app = create_app(sqlite_store.settings, OPTIONS, store=sqlite_store)
    with TestClient(app) as c:
        yield c
    sqlite_store.close()


def test_the_sweeps_tab_lists_every_sweep(ui: Any) -> None:
    page = ui.get("/ui/p/default/sweeps")
    assert page.status_code == 200
    assert 'href="/ui/p/default/sweeps/quad"' in page.text
    assert ">failed<" in page.text and ">finished<" in page.text


def test_a_sweep_page_draws_history_importances_and_trials(ui: Any) -> None:
    page = ui.get("/ui/p/default/sweeps/quad")
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert html.count('class="trial"') == 8  # one history point per completed trial
    assert 'id="importances"' in html and ">x<" in html
    slices = re.findall(r"<figcaption>(\w+)", html)
    assert slices == ["n", "x"] and html.count('class="slice-point"') == 16  # 8 trials x 2
    assert html.count('href="/ui/p/default/runs/') >= 9  # 8 trials and the sweep run
    found = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', html)
    assert found is not None
    parallel = json.loads(found.group(1))["parallel"]
    assert len(parallel["runs"]) == 8 and [a["key"] for a in parallel["axes"]] == ["n", "x"]
    failed = ui.get("/ui/p/default/sweeps/broken").text
    assert "all 2 trials failed; the first: RuntimeError: no data" in failed
    assert ui.get("/ui/p/default/sweeps/nope").status_code == 404
