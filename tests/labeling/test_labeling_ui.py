"""The labeling pages in headless Chromium against a real server: keyboard answers, skips
and undo go through without a page load, progress moves, task text holding HTML/JS is shown
as text (nothing runs); spans, multi-label, boxes and free-text projects are answered on the
same page; the project list and status page show progress and agreement. Screenshots of
each page go to ``KEEL_TEST_SCREENSHOTS`` when it is set."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keel import labeling
from keel.store import Store
from keel.store.labeling import NewTask

DONE = re.compile(r"\bdone\b")
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
        page.keyboard.press("u")  # take the answer back: the same task again
        expect(text).to_have_text(EVIL)
        expect(page.locator("#undo")).to_be_disabled()
        page.keyboard.press("2")
        expect(text).to_have_text("a tabby")
        page.fill("#skip-reason", "cannot tell")
        page.press("#skip-reason", "Enter")
        expect(text).to_have_text("x")
        page.keyboard.press("1")
        expect(page.locator("#labeler")).to_have_class(DONE)
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


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("KEEL_TEST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


BOX_IMAGE = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='200' height='100'%3E"
    "%3Crect width='200' height='100' fill='%23cde'/%3E%3Ccircle cx='50' cy='50' r='30' "
    "fill='%23a53'/%3E%3C/svg%3E"
)
KINDS = {
    "ner": ({"kind": "spans", "labels": ["PER", "ORG"]}, {"text": "Ada 😀 met <b>Babbage</b>"}),
    "tags": ({"kind": "multilabel", "labels": ["funny", "rude", "spam"]}, {"text": "lol buy now"}),
    "cars": ({"kind": "boxes", "labels": ["car", "dog"]},
             {"image": BOX_IMAGE, "width": 400, "height": 200}),
    "notes": ({"kind": "text"}, {"text": "Summarise: <i>cats</i> purr."}),
}  # fmt: skip


@pytest.fixture
def every_kind(sqlite_store: Store, remote_server: Any) -> Iterator[tuple[str, Store, int]]:
    pid = sqlite_store.projects.get_or_create("default").id
    for name, (config, data) in KINDS.items():
        labeling.create_project(sqlite_store, pid, name, config, overlap=2)
        sqlite_store.labeling.add_tasks(pid, name, [NewTask(data)])
    with remote_server(sqlite_store) as url:
        yield url, sqlite_store, pid


def _select(page: Any, start: int, end: int) -> None:
    """Select characters [start, end) of the task text (UTF-16 units, as the DOM counts)."""
    page.evaluate(
        """([s, e]) => {
          const walk = document.createTreeWalker(document.getElementById("task-text"), 4);
          const r = document.createRange();
          let at = 0;
          for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            const len = n.data.length;
            if (s >= at && s <= at + len) r.setStart(n, s - at);
            if (e >= at && e <= at + len) { r.setEnd(n, e - at); break; }
            at += len;
          }
          const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r); }""",
        [start, end],
    )


def test_every_kind_is_answered_on_the_page(
    every_kind: tuple[str, Store, int], browser: Any
) -> None:
    url, store, pid = every_kind
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1000, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{url}/ui/p/default/label/ner")
        expect(page.locator("#task-text")).to_have_text(KINDS["ner"][1]["text"])
        _select(page, 0, 3)  # "Ada"
        page.keyboard.press("1")
        _select(page, 4 + 2 + 5, 4 + 2 + 5 + 14)  # "<b>Babbage</b>", after the emoji (2 units)
        page.keyboard.press("2")
        expect(page.locator("#task-text mark")).to_have_count(2)
        assert page.locator("#task-text b").count() == 0
        _shot(page, "label-spans")
        page.keyboard.press("Enter")
        expect(page.locator("#labeler")).to_have_class(DONE)

        page.goto(f"{url}/ui/p/default/label/tags")
        expect(page.locator("#task-text")).to_have_text("lol buy now")
        page.keyboard.press("1")
        page.keyboard.press("3")
        page.keyboard.press("1")
        page.keyboard.press("1")  # on, off, on again
        expect(page.locator('.label-key[aria-pressed="true"]')).to_have_count(2)
        _shot(page, "label-multilabel")
        page.keyboard.press("Enter")
        expect(page.locator("#labeler")).to_have_class(DONE)
        page.keyboard.press("u")  # undo fills the answer back in
        expect(page.locator('.label-key[aria-pressed="true"]')).to_have_count(2)
        page.keyboard.press("3")
        page.keyboard.press("Enter")
        expect(page.locator("#labeler")).to_have_class(DONE)

        page.goto(f"{url}/ui/p/default/label/cars")
        image = page.locator("#task-image")
        expect(image).to_be_visible()
        page.wait_for_function("() => document.getElementById('task-image').naturalWidth > 0")
        box = image.bounding_box()
        assert box is not None
        x0, y0 = box["x"], box["y"]
        sx = box["width"] / 400
        page.mouse.move(x0 + 40 * sx, y0 + 20 * sx)
        page.mouse.down()
        page.mouse.move(x0 + 140 * sx, y0 + 120 * sx, steps=4)
        page.mouse.up()
        page.keyboard.press("2")  # the next box is a dog, drawn past the image's edge
        page.mouse.move(x0 + 300 * sx, y0 + 100 * sx)
        page.mouse.down()
        page.mouse.move(x0 + box["width"] + 50, y0 + box["height"] + 50, steps=4)
        page.mouse.up()
        expect(page.locator("#box-layer .box")).to_have_count(2)
        _shot(page, "label-boxes")
        page.keyboard.press("Enter")
        expect(page.locator("#labeler")).to_have_class(DONE)

        page.goto(f"{url}/ui/p/default/label/notes")
        expect(page.locator("#task-text")).to_have_text(KINDS["notes"][1]["text"])
        page.fill("#answer-text", "Cats purr. <script>x</script>")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#labeler")).to_have_class(DONE)
    finally:
        context.close()
    got = {n: [a.result for a in store.labeling.annotations(pid, n)] for n in KINDS}
    assert got["ner"] == [
        {
            "spans": [
                {"start": 0, "end": 3, "label": "PER"},
                {"start": 10, "end": 24, "label": "ORG"},
            ]
        }
    ]
    assert got["tags"] == [{"labels": ["funny"]}]  # spam taken off after the undo
    (answer,) = got["cars"]
    car, dog = answer["boxes"]
    assert car["label"] == "car" and abs(car["x"] - 40) <= 2 and abs(car["width"] - 100) <= 3
    assert (
        dog["label"] == "dog" and dog["x"] + dog["width"] == 400 and dog["y"] + dog["height"] == 200
    )
    assert got["notes"] == [{"text": "Cats purr. <script>x</script>"}]


def test_project_list_and_status_pages(served: tuple[str, Store, int], browser: Any) -> None:
    url, store, pid = served
    tasks = [t.id for t in store.labeling.list_tasks(pid, "pets")]
    for who, labels in [("ann", "ccd"), ("bob", "cdd")]:
        for task_id, label in zip(tasks, labels, strict=True):
            labeling.submit(
                store, pid, "pets", task_id, who, {"label": "cat" if label == "c" else "dog"}
            )
    from playwright.sync_api import expect

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{url}/ui/p/default/labeling")
        row = page.locator("#label-projects tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(3)).to_have_text("3")  # tasks
        _shot(page, "labeling-projects")
        row.locator("a").first.click()
        expect(page.locator("#agreement")).to_contain_text("Krippendorff's alpha")
        expect(page.locator("#pairs tbody tr")).to_have_count(1)
        expect(page.locator("#pairs tbody td").nth(3)).to_have_text("0.667")
        expect(page.locator("#review tbody tr")).to_have_count(1)
        assert "<b>bold?</b>" in (page.locator(".instructions").text_content() or "")
        _shot(page, "labeling-status")
    finally:
        context.close()
