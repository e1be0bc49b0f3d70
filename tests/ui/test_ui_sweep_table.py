"""The sweep page's trial table in Chromium, at desktop and phone size: the runs' filter
language, sorting by a header, a bad filter as one line, each swapping the table alone in
place (the page is not reloaded) and "back" bringing the previous table; no sideways page
scroll, no console errors. Screenshots land in test-artifacts/ui/sweep-table-*.png."""

from __future__ import annotations

from typing import Any

import pytest
from uikit import Session, UIWorld  # type: ignore[import-not-found]

SWEEP = "/sweeps/quickstart-logreg"  # the quickstart's sweep: 12 trials of C, class_weight


def _column(session: Session, index: int) -> list[str]:
    cells = session.page.locator(f"#trials tbody tr td:nth-child({index})")
    return [t.strip() for t in cells.all_inner_texts()]


def _fits(session: Session) -> bool:
    wide, inner = session.page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    return bool(wide <= inner)


@pytest.mark.parametrize("viewport", [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_trial_table_filters_sorts_and_reports_a_bad_filter(
    browser: Any, ui_world: UIWorld, viewport: tuple[int, int]
) -> None:
    size = f"{viewport[0]}x{viewport[1]}"
    session = Session(browser, ui_world, "rita", viewport=viewport)
    page = session.page
    try:
        session.goto(SWEEP)
        trials = _column(session, 1)
        assert len(trials) == 12 and "1\u201312 of 12 trials" in page.content()
        auc = [float(v) for v in _column(session, 3)]
        assert auc == sorted(auc, reverse=True)  # maximize: the best first
        assert _fits(session), f"the sweep page scrolls sideways at {size}"
        page.evaluate("() => { window.keelKept = 1; }")  # gone if the page reloads

        page.fill('#trial-filter input[name="filter"]', "params.class_weight = 'balanced'")
        page.click("#trial-filter button")
        page.wait_for_url("**filter=*")
        weights = _column(session, 5)
        assert weights and set(weights) == {"balanced"} and len(weights) < 12
        session.shot(f"sweep-table-filtered-{size}")
        assert page.evaluate("() => window.keelKept") == 1  # the table swapped in place

        header = page.locator("#trials thead").get_by_role("link", name="C", exact=True)
        header.click()
        page.wait_for_url("**order=*")
        first = _column(session, 4)
        header.click()
        page.wait_for_url("**ASC*")
        assert _column(session, 4) == list(reversed(first)) and set(_column(session, 5)) == {
            "balanced"
        }

        page.fill('#trial-filter input[name="filter"]', "metrics.auc >>> 1")
        page.click("#trial-filter button")
        error = page.locator("#trial-filter-error")
        assert "metrics.auc >>> 1" in error.inner_text() and "\n" not in error.inner_text()
        assert page.locator("#history").count() == 1  # the rest of the page is still there
        assert _fits(session), f"the page with a filter error scrolls sideways at {size}"
        session.shot(f"sweep-table-error-{size}")
        assert page.evaluate("() => window.keelKept") == 1  # every request: the table alone
        page.go_back()  # the previous table (sorted by C, ascending) comes back
        page.wait_for_function("() => !document.getElementById('trial-filter-error')")
        assert _column(session, 4) == list(reversed(first))
        assert session.errors == []
    finally:
        session.close()
