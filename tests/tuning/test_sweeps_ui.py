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


def line(p: dict[str, Any]) -> float:
    return p["x"] + p["n"]


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
    keel.sweep(line, space, trials=30, sampler="random", seed=0, client=client)
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
    found = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', html)
    assert found is not None
    lines = json.loads(found.group(1))["parallel"]["runs"]
    assert len(lines) == 100 and lines[0]["name"] == f"trial {best}"  # the best come first
    assert "has no run" in html  # trials stored without runs: the table says why it is empty
    found = re.search(r'id="importances">.*?</table>', html, re.S)
    assert found is not None and "<td>x</td>" in found.group(0)
    assert ">big<" in listing and "1078" in listing


def _table(html: str) -> list[tuple[int, float, str]]:
    """(trial, value, n) of each row of the trial table."""
    body = html.split('id="trials"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<td class="sticky-a name"><a href="[^"]+">(\d+)</a></td>.*?'
        r'<td class="num">(?:<span title="([^"]+)">[^<]*</span>|([^<]*))</td>\s*'
        r'<td class="clip" title="(\d+)">',
        body,
        re.S,
    )
    return [(int(n), float(full or short), p) for n, full, short, p in rows]


def test_the_trial_table_filters_sorts_and_pages_like_the_runs_table(ui: Any) -> None:
    """Best first; the runs' filter language; a header sorts; keyset pages of 25."""
    first = ui.get("/ui/p/default/sweeps/line?size=25")
    assert first.status_code == 200
    rows = _table(first.text)
    assert len(rows) == 25 and "1\u201325 of 30 trials" in first.text
    assert [v for _, v, _ in rows] == sorted(v for _, v, _ in rows)  # minimize: lowest first
    token = re.search(r'id="trial-next" href="([^"]+)"', first.text)
    assert token is not None
    second = ui.get("/ui/p/default/sweeps/line" + token.group(1).replace("&amp;", "&"))
    rest = _table(second.text)
    assert len(rest) == 5 and "26\u201330 of 30 trials" in second.text
    assert {n for n, _, _ in rows} | {n for n, _, _ in rest} == set(range(30))
    assert 'id="trial-prev"' in second.text

    wanted = "metrics.objective < 2 and params.n = '1'"
    picked = ui.get("/ui/p/default/sweeps/line", params={"filter": wanted})
    found = _table(picked.text)
    assert found and all(v < 2 and n == "1" for _, v, n in found)
    everything = _table(ui.get("/ui/p/default/sweeps/line?size=50").text)
    assert len(found) == sum(1 for _, v, n in everything if v < 2 and n == "1")

    by_n = _table(ui.get("/ui/p/default/sweeps/line", params={"order": "params.n DESC"}).text)
    assert [n for _, _, n in by_n] == sorted((n for _, _, n in by_n), reverse=True)


def test_a_bad_trial_filter_is_one_line_on_the_page_not_an_error_page(ui: Any) -> None:
    page = ui.get("/ui/p/default/sweeps/line", params={"filter": "metrics.objective >>> 1"})
    assert page.status_code == 200
    error = re.search(r'<p class="error-message" id="trial-filter-error">([^<]*)</p>', page.text)
    assert error is not None and "metrics.objective &gt;&gt;&gt; 1" in error.group(1)
    assert "parent_id" not in error.group(1)  # the user's filter, not the table's own clause
    assert 'id="history"' in page.text  # the rest of the page is there
    order = ui.get("/ui/p/default/sweeps/line", params={"order": "nonsense.x"})
    assert order.status_code == 200 and 'id="trial-filter-error"' in order.text


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


def test_the_trial_table_alone_is_the_page_s_table_without_the_charts(ui: Any) -> None:
    """The filter, sort and page links' fragment: the same rows, links and counts as the
    page's table, and nothing else (no page frame, history or slices)."""
    wanted = {"filter": "metrics.objective < 3", "order": "params.n DESC", "size": "25"}
    whole = ui.get("/ui/p/default/sweeps/line", params=wanted)
    alone = ui.get("/ui/p/default/sweeps/line/trials", params=wanted)
    assert alone.status_code == 200 and alone.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in alone.headers
    html = alone.text
    assert html.lstrip().startswith('<div id="trial-table"')
    assert "<html" not in html and 'id="history"' not in html and "compare-data" not in html
    assert _table(html) == _table(whole.text) and _table(html)
    assert 'data-fragment="/ui/p/default/sweeps/line/trials"' in html
    table = whole.text.split('<div id="trial-table"', 1)[1]
    assert html.split('<div id="trial-table"', 1)[1].strip() in table  # the page's own
    token = re.search(
        r'id="trial-next" href="([^"]+)"', ui.get("/ui/p/default/sweeps/line/trials?size=25").text
    )
    assert token is not None and token.group(1).startswith("?")  # links stay the page's
    rest = ui.get("/ui/p/default/sweeps/line/trials" + token.group(1).replace("&amp;", "&"))
    assert len(_table(rest.text)) == 5 and "26\u201330 of 30 trials" in rest.text

    bad = ui.get("/ui/p/default/sweeps/line/trials", params={"filter": "metrics.x >>> 1"})
    assert bad.status_code == 200 and 'id="trial-filter-error"' in bad.text
    assert ui.get("/ui/p/default/sweeps/nope/trials").status_code == 404
    assert ui.get("/ui/p/default/sweeps/line/trials?generation=9").status_code == 404


def test_the_trial_count_is_exact_without_counting_when_every_match_is_on_the_page(
    ui: Any,
) -> None:
    small = ui.get("/ui/p/default/sweeps/line/trials", params={"filter": "params.n = '1'"})
    rows = _table(small.text)
    assert rows and f"1\u2013{len(rows)} of {len(rows)} trial" in small.text
    assert ui.get("/ui/p/default/sweeps/line/trials?size=25").text.count("of 30 trials") == 1
