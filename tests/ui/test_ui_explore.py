"""The Explore form on a dataset version page, in real Chromium: the report opens sandboxed."""

from __future__ import annotations

from uikit import Session, UIWorld  # type: ignore[import-not-found]


def test_explore_a_version_against_a_target_and_another_version(
    as_reader: Session, ui_world: UIWorld
) -> None:
    page = as_reader.page
    as_reader.goto("/datasets/breast-cancer")
    page.select_option('#explore-form select[name="target"]', "target")
    page.select_option('#explore-form select[name="compare"]', "1")
    with page.expect_response("**/explore?*") as info:
        page.click("#explore-form button")
    response = info.value
    page.wait_for_load_state("load")  # the report is large: count headings once it is all parsed
    assert response.status == 200
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert page.locator("h1", has_text="Exploration of breast-cancer@2").count() == 1
    assert page.locator("h2", has_text="Target: target").count() == 1
    assert page.locator("h2", has_text="Comparison").count() == 1
    assert page.locator("svg").count() > 30  # histograms, heatmaps: inline SVG drawn
    assert page.locator("script").count() == 0
    as_reader.shot("dataset-explore")
    assert as_reader.errors == []
