"""Stored reports in the UI, in Chromium: the list, a report rendered from its Markdown with
live links to runs and models, versions, and a discussion a reader can join; desktop
(1400x900) and phone (390x844) sizes. Screenshots land in test-artifacts/ui/."""

from __future__ import annotations

from typing import Any

import pytest
from uikit import Session, UIWorld  # type: ignore[import-not-found]

from keel.store import RunStatus

MODEL = "breast-cancer-classifier"


def _second_version(ui_world: UIWorld) -> tuple[int, str, str]:
    """The quickstart's stored report gets a second version naming a live and a gone run."""
    if "report_refs" in ui_world.ids:  # made once per session
        done: tuple[int, str, str] = ui_world.ids["report_refs"]
        return done
    store = ui_world.store()
    try:
        pid = store.projects.get("default").id
        [report] = [r for r in store.reports.list(pid) if r.title.startswith("Champion vs")]
        exp = store.experiments.get_or_create(pid, "report-refs")
        live = store.runs.create(exp.id, name="kept-run")
        store.runs.update(live.id, status=RunStatus.FINISHED)
        gone = store.runs.create(exp.id, name="gone-run")
        store.runs.delete(gone.id)
        if report.version == 1:
            text = report.markdown + (
                f"\n\nFollow-up: {live.id} beats {gone.id}; ship {MODEL}@champion "
                "(<script>window.__pwned = 1</script>)\n"
            )
            store.reports.revise(pid, report.id, text, title="Champion vs candidates, v2")
        ui_world.ids["report_refs"] = (report.id, live.id, gone.id)
        return report.id, live.id, gone.id
    finally:
        store.close()


@pytest.mark.parametrize("viewport", [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_report_page_renders_live_links_versions_and_comments(
    browser: Any, ui_world: UIWorld, viewport: tuple[int, int]
) -> None:
    report_id, live, gone = _second_version(ui_world)
    size = f"{viewport[0]}x{viewport[1]}"
    session = Session(browser, ui_world, "rita", viewport=viewport)  # a reader
    page = session.page
    try:
        session.goto("/reports")
        link = page.locator(f'table.reports a[href$="/reports/{report_id}"]')
        assert link.inner_text() == "Champion vs candidates, v2"
        session.shot(f"reports-{size}")
        link.click()
        page.wait_for_url(f"**/reports/{report_id}")
        body = page.locator("article.report-body")
        assert body.locator("table").count() >= 2  # metrics and parameters as tables
        assert body.locator(f'a[href="/ui/p/default/runs/{live}"]').count() == 1
        assert body.locator(f'a[href="/ui/p/default/models/{MODEL}"]').count() >= 1
        assert "keel-report" not in body.inner_html() and "<details>" not in body.inner_text()
        side = page.locator("aside.report-side")
        assert "kept-run" in side.inner_text() and "finished" in side.inner_text()
        assert side.locator("tr", has_text=gone[:8]).inner_text().endswith("deleted")
        assert side.locator("ul.versions li").count() == 2
        assert session.pwned()[0] is None  # the report's <script> is text
        wide, inner = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        assert wide <= inner, f"the report page scrolls sideways at {size}"
        session.shot(f"report-{size}")
        page.fill(".comment-form textarea", f"Reviewed at {size}: **ship it**")
        page.click(".comment-form button")
        page.wait_for_selector(f".comment:has-text('Reviewed at {size}') strong")
        assert f"/reports/{report_id}" in page.url
        page.click("ul.versions a")  # the earlier version
        page.wait_for_url(f"**/reports/{report_id}?version=1")
        assert page.locator("h1").inner_text().startswith("Champion vs the quickstart")
        assert "see the latest" in page.locator("main").inner_text()
        assert session.errors == []
    finally:
        session.close()


def test_a_report_of_another_project_or_version_is_a_clear_404(
    as_reader: Session, ui_world: UIWorld
) -> None:
    assert as_reader.goto("/reports/999999").status == 404
    report_id, _, _ = _second_version(ui_world)
    missing = as_reader.goto(f"/reports/{report_id}?version=99")
    assert missing.status == 404
    assert f"report {report_id} has no version 99" in as_reader.page.inner_text("main")
