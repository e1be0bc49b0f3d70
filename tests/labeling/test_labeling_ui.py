"""The annotator page in headless Chromium against a real server: keyboard answers and
skips go through without a page load, progress moves, and task text holding HTML/JS is
shown as text (nothing runs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keel import labeling
from keel.store import Store
from keel.store.labeling import NewTask

EVIL = (
    "<script>window.__pwned=1;document.title='pwned'</script>"
    '<img src=x onerror="window.__pwned=1">'
)


@pytest.fixture
def served(sqlite_store: Store, remote_server: Any) -> Iterator[tuple[str, Store, int]]:
    pid = sqlite_store.projects.get_or_create("default").id
    labeling.create_project(
        sqlite_store, pid, "pets", {"kind": "classification", "labels": ["cat", "dog"]},
        instructions="<b>bold?</b> Cat or dog",
    )  # fmt: skip
    sqlite_store.labeling.add_tasks(
        pid, "pets", [NewTask({"text": EVIL}), NewTask({"text": "a tabby"}), NewTask({"text": "x"})]
    )
    with remote_server(sqlite_store) as url:
        yield url, sqlite_store, pid


def test_annotator_page_keyboard_and_escaping(served: tuple[str, Store, int], browser: Any) -> None:
    url, store, pid = served
    from playwright.sync_api import expect

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{url}/ui/p/default/label/pets")
        text = page.locator("#task-text")
        expect(text).to_have_text(EVIL)  # shown as text, not parsed
        assert page.locator("#task-text *").count() == 0
        assert page.locator(".instructions").text_content() == "<b>bold?</b> Cat or dog"
        page.evaluate("() => { window.__stay = 1; }")  # survives only if no page load happens
        page.keyboard.press("2")
        expect(text).to_have_text("a tabby")
        page.fill("#skip-reason", "cannot tell")
        page.press("#skip-reason", "Enter")
        expect(text).to_have_text("x")
        page.keyboard.press("1")
        expect(page.locator("#labeler")).to_have_class("labeler done")
        assert page.evaluate("() => window.__stay") == 1
        assert page.evaluate("() => window.__pwned") is None and page.title() != "pwned"
        assert "2 answered by you" in (page.locator("#progress").text_content() or "")
    finally:
        context.close()
    answers = store.labeling.annotations(pid, "pets")
    assert [(a.annotator, a.result) for a in answers] == [
        ("local", {"label": "dog"}),
        ("local", {"label": "cat"}),
    ]
    assert answers[0].lead_ms is not None
    assert store.labeling.progress(pid, "pets").skipped == 1
