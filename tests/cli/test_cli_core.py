"""The core CLI commands, run as a user runs them (a real `keel` process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import keel


def keel_cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "keel.cli", *args], capture_output=True, text=True, env=env
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def seeded(keel_home: Path) -> list[str]:
    keel.init(home=keel_home)
    ids = []
    for model, auc in [("rf", 0.91), ("gbm", 0.95)]:
        with keel.start_run(experiment="cli", capture_env=False) as run:
            run.log_params({"model": model})
            run.log_metric("auc", auc)
            run.log_text("hi", "notes/hello.txt")
            ids.append(run.id)
    return ids


def test_runs_list_search_show_json(keel_home: Path, seeded: list[str]) -> None:
    listed = json.loads(keel_cli(keel_home, "runs", "list", "--json").stdout)
    assert {r["info"]["id"] for r in listed["runs"]} == set(seeded)
    found = json.loads(keel_cli(keel_home, "runs", "search", "metrics.auc > 0.92", "--json").stdout)
    assert [r["info"]["id"] for r in found["runs"]] == [seeded[1]]
    shown = keel_cli(keel_home, "runs", "show", seeded[0][:8]).stdout
    assert "auc" in shown and "notes/hello.txt" in shown
    table = keel_cli(keel_home, "runs", "compare", seeded[0], seeded[1]).stdout
    assert "(best)" in table and "model" in table


def test_bad_filter_is_a_clear_error(keel_home: Path, seeded: list[str]) -> None:
    proc = keel_cli(keel_home, "runs", "search", "metrics.auc >", check=False)
    assert proc.returncode == 2
    assert "ends early" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_run_is_a_clear_error(keel_home: Path, seeded: list[str]) -> None:
    proc = keel_cli(keel_home, "runs", "show", "ffffffffffffffffffffffffffffffff", check=False)
    assert proc.returncode == 3 and "does not exist" in proc.stderr


def test_artifacts_download_and_gc(keel_home: Path, seeded: list[str], tmp_path: Path) -> None:
    keel_cli(keel_home, "artifacts", "download", seeded[0], "--dest", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "notes" / "hello.txt").read_text() == "hi"
    report = json.loads(keel_cli(keel_home, "gc", "--grace-hours", "0", "--json").stdout)
    assert report["deleted"] == []  # everything is referenced
    status = json.loads(keel_cli(keel_home, "db", "status", "--json").stdout)
    assert status["up_to_date"] is True


def test_experiments_commands(keel_home: Path) -> None:
    keel_cli(keel_home, "experiments", "create", "fresh")
    dup = keel_cli(keel_home, "experiments", "create", "fresh", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    keel_cli(keel_home, "experiments", "rename", "fresh", "renamed")
    names = [
        e["name"] for e in json.loads(keel_cli(keel_home, "experiments", "list", "--json").stdout)
    ]
    assert names == ["renamed"]
