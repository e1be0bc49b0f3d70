"""The runs table in Chromium: the SDK filter language, sorting, chosen columns, pages."""

from __future__ import annotations

import math
from typing import Any

from uikit import Session, UIWorld  # type: ignore[import-not-found]


def _auc(i: int) -> float:
    """The last logged auc of run ``m<i>`` (see uikit._seed)."""
    return 0.5 + 0.008 * i - 0.1 * math.exp(-39 / 20)


def _names(session: Session) -> list[str]:
    return session.page.locator("#runs-table tbody tr td:nth-child(2) a").all_inner_texts()


def test_filter_sort_columns_and_pages(as_reader: Session, ui_world: UIWorld) -> None:
    page = as_reader.page
    as_reader.goto(f"/experiments/{ui_world.ids['many_exp']}?size=25")
    assert len(_names(as_reader)) == 25
    page.click("#next-page")
    page.wait_for_selector("#prev-page")
    assert len(_names(as_reader)) == 25 and "26\u201350 of 60 runs" in page.content()
    page.click("#next-page")
    assert len(_names(as_reader)) == 10 and page.locator("#next-page").count() == 0
    page.click("#prev-page")
    assert "26\u201350 of 60 runs" in page.content()

    page.fill('#run-filter input[name="filter"]', "metrics.auc > 0.9 and params.depth = '3'")
    page.click("#run-filter button")
    page.wait_for_url("**filter=*")
    names = _names(as_reader)
    expected = [f"m{i:02d}" for i in range(60) if i % 7 == 3 and _auc(i) > 0.9]
    assert sorted(names) == expected

    page.locator("#runs-table th a", has_text="auc").click()
    page.wait_for_url("**order=*")
    first = _names(as_reader)
    page.locator("#runs-table th a", has_text="auc").click()
    page.wait_for_url("**ASC*")
    assert _names(as_reader) == list(reversed(first))

    page.fill('#run-filter input[name="filter"]', "metrics.auc >>> 1")
    page.click("#run-filter button")
    error = page.locator("#filter-error")
    assert "metrics.auc >>> 1" in error.inner_text()
    as_reader.shot("runs-filter-error")

    as_reader.goto(f"/experiments/{ui_world.ids['many_exp']}?cols=params.lr&size=25")
    headers = page.locator("#runs-table thead th").all_inner_texts()
    assert headers[-1].strip() == "lr" and "auc" not in " ".join(headers)
    assert as_reader.errors == []


def test_column_choice_is_remembered(as_reader: Session, ui_world: UIWorld) -> None:
    from playwright.sync_api import expect

    page = as_reader.page
    path = f"/experiments/{ui_world.ids['many_exp']}?size=25"
    as_reader.goto(path)
    page.click("details.columns summary")
    for box in page.locator("#columns-form input[type=checkbox]").all():
        box.uncheck()
    page.check('#columns-form input[value="params.depth"]')
    page.click("#columns-form button")
    page.wait_for_url("**cols=params.depth*")
    as_reader.goto(path)  # no columns in the address: the remembered ones come back
    page.wait_for_url("**cols=params.depth*")
    headers = page.locator("#runs-table thead tr:last-child th")
    expect(headers).to_have_count(7)
    expect(headers.last).to_have_text("depth")
    assert as_reader.errors == []


def test_names_stay_in_view_while_the_table_scrolls_sideways(
    browser: Any, ui_world: UIWorld
) -> None:
    session = Session(browser, ui_world, "rita", viewport=(390, 844))
    page = session.page
    try:
        session.goto(f"/experiments/{ui_world.ids['many_exp']}?size=25")
        name = page.locator("#runs-table tbody td.name").first
        before = name.bounding_box()
        scroll = "el => { el.scrollLeft = 400; return el.scrollLeft; }"
        moved = page.locator(".table-wrap").evaluate(scroll)
        after = name.bounding_box()
        assert moved > 0 and before is not None and after is not None
        assert after["x"] == before["x"]  # sticky: the name column does not scroll away
        assert name.evaluate("el => getComputedStyle(el).whiteSpace") == "nowrap"
        assert session.errors == []
    finally:
        session.close()
