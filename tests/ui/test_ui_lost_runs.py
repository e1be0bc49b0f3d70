"""A run whose process died without ending it shows as ``lost`` in Chromium: in the runs
table and on its page (with how to end it), while a live RUNNING run stays ``running``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

from uikit import Session, UIWorld  # type: ignore[import-not-found]

from keel.config import Settings
from keel.store import open_store


def _lost_and_live(ui_world: UIWorld) -> dict[str, Any]:
    """Two RUNNING runs: one owned by a process that has exited, one by this test."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    store = open_store(Settings.for_home(ui_world.home))
    try:
        project = store.projects.get("default")
        exp = store.experiments.get_or_create(project.id, "lost-and-live")
        host = socket.gethostname()
        gone = {"keel.pid": dead.stdout.strip(), "keel.host": host}
        lost = store.runs.create(exp.id, name="crashed", tags=gone)
        live = store.runs.create(
            exp.id, name="training", tags={"keel.pid": str(os.getpid()), "keel.host": host}
        )
        return {"exp": exp.id, "lost": lost.id, "live": live.id}
    finally:
        store.close()


def test_a_lost_run_shows_lost_in_the_table_and_on_its_page(
    as_reader: Session, ui_world: UIWorld
) -> None:
    ids = _lost_and_live(ui_world)
    page = as_reader.page
    as_reader.goto(f"/experiments/{ids['exp']}")
    rows = page.locator("#runs-table tbody tr")
    shown = {
        rows.nth(i).locator("td:nth-child(2) a").inner_text(): rows.nth(i)
        .locator("td:nth-child(3) .status")
        .inner_text()
        for i in range(rows.count())
    }
    assert shown == {"crashed": "lost", "training": "running"}

    as_reader.goto(f"/runs/{ids['lost']}")
    badge = page.locator("#run-name .status").first
    assert badge.inner_text() == "lost"
    assert f"keel runs end {ids['lost']}" in (badge.get_attribute("title") or "")
    as_reader.goto(f"/runs/{ids['live']}")
    assert page.locator("#run-name .status").first.inner_text() == "running"
    assert as_reader.errors == []
