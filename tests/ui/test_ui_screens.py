"""Every page at desktop (1400x900) and phone (390x844) size in Chromium: no sideways
scrolling of the page itself, no console errors, no legend over a chart; dark mode follows
the system setting. Screenshots land in test-artifacts/ui/screen-*.png."""

from __future__ import annotations

import re
import statistics
from typing import Any
from urllib.parse import quote

import pytest
from uikit import Session, UIWorld  # type: ignore[import-not-found]

from keel.models import Registry

MODEL = "breast-cancer-classifier"
DONE = re.compile(r"^[1-9]\d*$")


def _pages(world: UIWorld) -> list[tuple[str, str, str | None]]:
    """(name, path under /ui, selector whose data-done must be set) for every page."""
    store = world.store()
    try:
        pid = store.projects.get("default").id
        exp = store.experiments.get_by_name(pid, "quickstart-breast-cancer")
        pipeline = store.pipeline_runs.list(pid, limit=1)[0].id
        report = store.reports.list(pid)[-1].id  # the quickstart's comparison report
        # a candidate run: a dataset input, this machine's long platform name
        candidate = store.runs.search([exp.id], "name = 'logistic-regression'").runs[0].id
        # a model card holding data (as AutoML's leaderboard does), shown as a block of JSON
        leaderboard = [{"family": "linear", "run_id": candidate, "params": {"C": 0.149227}}]
        Registry(store).set_card(f"{MODEL}@2", {"leaderboard": leaderboard})
    finally:
        store.close()
    p = "/ui/p/default"
    run = world.ids["evil_run"]
    twins = ",".join(world.ids["twins"])
    return [
        ("projects", "/ui/", None),
        ("experiments", f"{p}/experiments", None),
        ("runs", f"{p}/experiments/{world.ids['many_exp']}", None),
        ("runs-quickstart", f"{p}/experiments/{exp.id}", None),
        ("run", f"{p}/runs/{run}", "#run-charts"),
        ("run-candidate", f"{p}/runs/{candidate}", "#run-charts"),
        ("artifact", f"{p}/runs/{run}/artifact?path={quote('data/table.csv', safe='')}", None),
        ("compare", f"{p}/compare?runs={twins}", "#compare-charts"),
        ("compare-grouped", f"{p}/compare?runs={twins}&group=tags.arm", "#compare-charts"),
        ("datasets", f"{p}/datasets", None),
        ("dataset", f"{p}/datasets/breast-cancer", None),
        ("dataset-diff", f"{p}/datasets/breast-cancer/diff?a=1&b=2", None),
        ("dataset-explore", f"{p}/datasets/breast-cancer/explore", None),
        ("pipelines", f"{p}/pipelines", None),
        ("pipeline-run", f"{p}/pipelines/runs/{pipeline}", None),
        ("sweeps", f"{p}/sweeps", None),
        ("sweep", f"{p}/sweeps/quickstart-logreg", None),
        ("models", f"{p}/models", None),
        ("model", f"{p}/models/{MODEL}", "#history-chart"),
        ("model-version", f"{p}/models/{MODEL}/1", None),
        ("model-version-card", f"{p}/models/{MODEL}/2", None),
        ("lineage", f"{p}/lineage?model={MODEL}&version=1", None),
        ("deployments", f"{p}/deployments", None),
        ("deployment", f"{p}/deployments/quickstart", "#requests-chart"),
        ("monitoring", f"{p}/monitoring", None),
        ("monitor", f"{p}/monitoring/quickstart?window=1d", "#performance"),
        ("labeling", f"{p}/labeling", None),
        ("label", f"{p}/label/quickstart-review", None),
        ("search", f"{p}/search?q=quickstart", None),
        ("reports", f"{p}/reports", None),
        ("report", f"{p}/reports/{report}", None),
        ("not-found", f"{p}/no-such-page", None),
    ]


#: Ids (or classes) of legends whose box crosses a chart's drawing area.
OVERLAPS = """() => {
  const boxes = sel => [...document.querySelectorAll(sel)].map(n => [n, n.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && r.height > 0);
  const cross = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
    && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const charts = boxes("canvas, svg.chart, #parallel svg");
  return boxes(".legend").filter(([, l]) => charts.some(([, c]) => cross(l, c)))
    .map(([n]) => n.id || n.className);
}"""


def _check(session: Session, name: str, path: str, ready: str | None, size: str) -> list[str]:
    from playwright.sync_api import expect

    page = session.page
    session.errors.clear()
    page.goto(session.world.url + path)
    if ready:
        expect(page.locator(ready)).to_have_attribute("data-done", DONE, timeout=30_000)
    problems = []
    # a function (not a string to eval) run by the driver: the page's CSP does not apply
    wide, inner = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    if wide > inner:
        problems.append(f"{name} at {size}: the page scrolls sideways ({wide} > {inner} px)")
    overlaps = page.evaluate(OVERLAPS)
    if overlaps:
        problems.append(f"{name} at {size}: legends over charts: {overlaps}")
    cramped = page.evaluate(
        "() => [...document.querySelectorAll('table.cards')]"
        ".filter(t => t.scrollWidth > t.clientWidth + 1).map(t => t.id)"
    )
    if cramped:
        problems.append(f"{name} at {size}: tables wider than the screen: {cramped}")
    # the exploration report is a standalone page: a link back instead of the UI's tabs
    nav = "p.back a[href$='/datasets/breast-cancer']" if name == "dataset-explore" else "nav.tabs"
    if page.locator(nav).count() != 1:
        problems.append(f"{name} at {size}: no navigation bar")
    problems += [f"{name} at {size}: {e}" for e in session.errors if "Blocked script" not in e]
    session.shot(f"screen-{name}-{size}")
    return problems


@pytest.mark.parametrize("viewport", [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_every_page_fits_and_logs_no_errors(
    browser: Any, ui_world: UIWorld, viewport: tuple[int, int]
) -> None:
    session = Session(browser, ui_world, "root", viewport=viewport)
    size = f"{viewport[0]}x{viewport[1]}"
    try:
        problems = []
        for name, path, ready in _pages(ui_world):
            problems += _check(session, name, path, ready, size)
    finally:
        session.close()
    assert problems == []


def test_compare_has_one_wrapping_legend_distinct_colours_and_unique_labels(
    browser: Any, ui_world: UIWorld
) -> None:
    from playwright.sync_api import expect

    ids = ui_world.ids["twins"]
    session = Session(browser, ui_world, "root", viewport=(1400, 900))
    page = session.page
    try:
        page.goto(ui_world.page_url(f"/compare?runs={','.join(ids)}"))
        expect(page.locator("#compare-charts")).to_have_attribute("data-done", "2")
        legend = page.locator("#compare-legend .item")
        expect(legend).to_have_count(6)
        labels = legend.all_inner_texts()
        assert len(set(labels)) == 6 and f"twin · {ids[0][:6]}" in labels
        colours = page.locator("#compare-legend .swatch").evaluate_all(
            "nodes => nodes.map(n => getComputedStyle(n).backgroundColor)"
        )
        assert len(set(colours)) == 6
        assert page.locator("#compare-charts .legend").count() == 0  # no per-chart legends
        box = page.locator("#compare-legend").bounding_box()
        charts = page.locator("#compare-charts").bounding_box()
        assert box is not None and charts is not None and box["y"] + box["height"] <= charts["y"]
        # every run keeps its line in parallel coordinates, runs without depth at "missing"
        page.select_option("#pc-metric", "val_loss")
        expect(page.locator("#parallel svg polyline")).to_have_count(6)
        expect(page.locator("#parallel svg text.missing")).to_have_count(1)
        ticks = page.locator("#parallel svg text.tick").all_text_contents()
        assert not any(t.startswith("-0.9") for t in ticks), ticks
        best = page.locator("#diff-table td.best").all_inner_texts()
        assert any(t.startswith("0.9") for t in best)  # final_accuracy: highest is best
        images = page.locator("#image-gallery img")
        expect(images).to_have_count(3)
        images.first.scroll_into_view_if_needed()
        expect(images.first).to_have_js_property("naturalWidth", 16)
        session.shot("compare-twins")
        assert session.errors == []
    finally:
        session.close()


def test_compare_groups_runs_by_a_tag_with_mean_and_band(browser: Any, ui_world: UIWorld) -> None:
    from playwright.sync_api import expect

    ids = ui_world.ids["twins"]
    session = Session(browser, ui_world, "root", viewport=(1400, 900))
    page = session.page
    try:
        page.goto(ui_world.page_url(f"/compare?runs={','.join(ids)}"))
        expect(page.locator("#compare-charts")).to_have_attribute("data-done", "2")
        page.select_option("#group-form select[name=group]", "tags.arm")  # submits itself
        expect(page.locator("#compare-legend .item")).to_have_count(2)
        assert [
            " ".join(t.split()) for t in page.locator("#compare-legend .item").all_inner_texts()
        ] == [
            "arm=control (3)",
            "arm=new (3)",
        ]
        expect(page.locator("#compare-charts")).to_have_attribute("data-done", "2")
        colours = page.locator("#diff-table .swatch").evaluate_all(
            "nodes => nodes.map(n => getComputedStyle(n).backgroundColor)"
        )
        assert len(set(colours[:3])) == 1 and len(set(colours)) == 2  # runs take their group's
        # the mean and band the charts draw: val_loss = 1/(s+1+i) for i in the group
        lines = page.evaluate(
            """() => KeelCharts.aggregate(
                [0, 1, 2].map(i => ({run: 'r' + i, xs: [0, 2], ys: [1 / (1 + i), 1 / (3 + i)]}))
                  .concat([{run: 'r3', xs: [1], ys: [9]}]),
                [{label: 'g', color: '#000', runs: ['r0', 'r1', 'r2']}])"""
        )
        (line,) = lines
        assert line["xs"] == [0, 2] and line["runs"] == 3
        assert line["ys"][0] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
        sd = statistics.stdev([1, 1 / 2, 1 / 3])
        assert line["hi"][0] - line["ys"][0] == pytest.approx(sd)
        assert line["ys"][0] - line["lo"][0] == pytest.approx(sd)
        page.goto(ui_world.page_url(f"/compare?runs={','.join(ids)}&group=tags.nosuch"))
        assert "cannot group these runs by 'tags.nosuch'" in page.content()
        session.shot("compare-grouped")
        assert [e for e in session.errors if "400" not in e] == []
    finally:
        session.close()


def test_dark_mode_follows_the_system(browser: Any, ui_world: UIWorld) -> None:
    from playwright.sync_api import expect

    session = Session(browser, ui_world, "root", viewport=(1400, 900), color_scheme="dark")
    page = session.page
    try:
        page.goto(ui_world.page_url(f"/compare?runs={','.join(ui_world.ids['twins'])}"))
        expect(page.locator("#compare-charts")).to_have_attribute("data-done", "2")
        expect(page.locator("body")).to_have_css("background-color", "rgb(15, 23, 42)")
        session.shot("dark-compare")
        page.goto(ui_world.page_url(f"/experiments/{ui_world.ids['many_exp']}"))
        expect(page.locator("body")).to_have_css("color", "rgb(229, 231, 235)")
        session.shot("dark-runs")
        # component colours too, not only the page's: a light badge with light text is unreadable
        page.goto(ui_world.page_url("/pipelines"))
        badge = page.locator(".status.finished").first
        expect(badge).to_have_css("background-color", "rgb(20, 83, 45)")
        page.goto(ui_world.page_url("/monitoring/quickstart?window=1d"))
        expect(page.locator("#drift-heatmap .cell.none").first).to_have_css(
            "background-color", "rgb(31, 41, 55)"
        )
        assert session.errors == []
    finally:
        session.close()


@pytest.mark.parametrize("viewport", [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_heatmap_dates_stay_on_one_line(
    browser: Any, ui_world: UIWorld, viewport: tuple[int, int]
) -> None:
    session = Session(browser, ui_world, "root", viewport=viewport)
    page = session.page
    try:
        page.goto(ui_world.page_url("/monitoring/quickstart?window=7d"))
        lines = page.evaluate(
            """() => [...document.querySelectorAll('#drift-heatmap thead th')]
              .filter(th => th.textContent.trim())
              .map(th => { const r = document.createRange(); r.selectNodeContents(th);
                           return [th.textContent.trim(), r.getClientRects().length]; })"""
        )
        assert lines and all(n == 1 for _date, n in lines), lines
    finally:
        session.close()
