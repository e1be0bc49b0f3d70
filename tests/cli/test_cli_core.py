"""The core CLI commands, run as a user runs them (a real `keel` process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import keel

if TYPE_CHECKING:
    from tests.conftest import KeelCli


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


def test_runs_list_search_show_json(run_keel: KeelCli, seeded: list[str]) -> None:
    listed = json.loads(run_keel("runs", "list", "--json").stdout)
    assert {r["info"]["id"] for r in listed["runs"]} == set(seeded)
    found = json.loads(run_keel("runs", "search", "metrics.auc > 0.92", "--json").stdout)
    assert [r["info"]["id"] for r in found["runs"]] == [seeded[1]]
    shown = run_keel("runs", "show", seeded[0][:8]).stdout
    assert "auc" in shown and "notes/hello.txt" in shown
    table = run_keel("runs", "compare", seeded[0], seeded[1]).stdout
    assert "(best)" in table and "model" in table


def test_bad_filter_is_a_clear_error(run_keel: KeelCli, seeded: list[str]) -> None:
    proc = run_keel("runs", "search", "metrics.auc >", check=False)
    assert proc.returncode == 2
    assert "ends early" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_run_is_a_clear_error(run_keel: KeelCli, seeded: list[str]) -> None:
    proc = run_keel("runs", "show", "ffffffffffffffffffffffffffffffff", check=False)
    assert proc.returncode == 3 and "does not exist" in proc.stderr


def test_artifacts_download_and_gc(run_keel: KeelCli, seeded: list[str], tmp_path: Path) -> None:
    run_keel("artifacts", "download", seeded[0], "--dest", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "notes" / "hello.txt").read_text() == "hi"
    report = json.loads(run_keel("gc", "--grace-hours", "0", "--json").stdout)
    assert report["deleted"] == []  # everything is referenced
    status = json.loads(run_keel("db", "status", "--json").stdout)
    assert status["up_to_date"] is True


def test_experiments_commands(run_keel: KeelCli) -> None:
    run_keel("experiments", "create", "fresh")
    dup = run_keel("experiments", "create", "fresh", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    run_keel("experiments", "rename", "fresh", "renamed")
    names = [e["name"] for e in json.loads(run_keel("experiments", "list", "--json").stdout)]
    assert names == ["renamed"]
