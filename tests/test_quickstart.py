"""`keel quickstart` runs end to end on the embedded default, as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from keel.config import Settings
from keel.store import open_store


def test_quickstart_tours_the_product(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["COLUMNS"] = "120"
    cmd = [sys.executable, "-m", "keel.cli", "quickstart", "--fast"]
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "breast-cancer@1" in first.stdout
    assert "Best candidate" in first.stdout and "Try next" in first.stdout
    home = tmp_path / ".keel"  # the default KEEL_HOME is ./.keel
    store = open_store(Settings.for_home(home))
    project = store.projects.get("default")
    exp = store.experiments.get_by_name(project.id, "quickstart-breast-cancer")
    runs = store.runs.search([exp.id], "tags.quickstart = 'true'").runs
    assert len(runs) >= 3 and all(r.metrics["auc"] > 0.9 for r in runs)
    assert "it is in the shared store" in first.stdout  # team mode: the SDK over keel server
    team = store.experiments.get_by_name(project.id, "quickstart-team")
    shared = store.runs.search([team.id]).runs
    assert [(r.info.name, r.metrics["auc"]) for r in shared] == [("colleague-run", 0.97)]
    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "breast-cancer@1" in second.stdout  # same data: no new dataset version
