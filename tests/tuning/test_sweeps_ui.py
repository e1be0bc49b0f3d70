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


def test_a_big_sweep_page_draws_bounded_samples_and_the_true_best(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from keel.store.sweeps import TrialPatch, TrialState

    store = open_store(Settings.for_home(tmp_path_factory.mktemp("big") / "home"))
    pid = store.projects.get_or_create("default").id
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    dist = json.dumps(
        {"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 1.0, "log": False}}
    )
    sweep = store.sweeps.create(pid, "big", directions=["minimize"], spec={"space": space})
    for i in range(1100):
        x = (i * 7919 % 1100) / 1100
        failed = i % 50 == 49
        store.sweeps.add_trial(
            pid,
            sweep.id,
            TrialPatch(
                state=TrialState.FAIL if failed else TrialState.COMPLETE,
                values=None if failed else [(x - 0.3) ** 2],
                params={"x": x},
                distributions={"x": dist},
            ),
        )
    app = create_app(store.settings, OPTIONS, store=store)
    with TestClient(app) as c:
        html = c.get("/ui/p/default/sweeps/big").text
        listing = c.get("/ui/p/default/sweeps").text
    store.close()
    assert "1078 complete, 0 pruned, 22 failed" in html
    assert 0 < html.count('class="trial"') <= 500  # the history: an even sample
    assert 0 < html.count('class="slice-point"') <= 301  # a slice: a sample and the best
    best = min(
        range(1100), key=lambda i: ((i * 7919 % 1100) / 1100 - 0.3) ** 2 if i % 50 != 49 else 9
    )
    rows = re.findall(r'<tr><td class="num">(\d+)</td>', html)
    assert len(rows) == 100 and rows[0] == str(best)  # the best trial heads the table
    found = re.search(r'id="importances">.*?</table>', html, re.S)
    assert found is not None and "<td>x</td>" in found.group(0)
    assert ">big<" in listing and "1078" in listing


def test_main_effects_give_the_parameter_that_decides_the_value_its_share() -> None:
    from types import SimpleNamespace

    from keel.tuning._sweep_importance import main_effects

    trials = [
        SimpleNamespace(
            values=[float(i % 3)],
            params={"kind": float(i % 3), "noise": float(i % 7)},
            distributions={"kind": '{"name": "CategoricalDistribution"}', "noise": "{}"},
        )
        for i in range(210)
    ]
    found = main_effects(trials)
    assert list(found) == ["kind", "noise"] and found["kind"] > 0.9
    assert abs(sum(found.values()) - 1.0) < 1e-9
    flat = [SimpleNamespace(values=[1.0], params={"a": 1.0}, distributions={}) for _ in range(3)]
    assert main_effects(flat) == {}
