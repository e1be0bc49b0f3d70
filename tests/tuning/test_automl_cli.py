"""The real `keel automl` and `keel roi` command lines: JSON, reports written, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from tests.conftest import KeelCli


def _dataset(run_keel: KeelCli, tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"tenure": rng.integers(1, 72, n), "plan": rng.choice(["a", "b"], n)})
    frame["churned"] = ((frame.tenure < 20) ^ (rng.random(n) < 0.1)).astype(int)
    path = tmp_path / "customers.parquet"
    frame.to_parquet(path)
    run_keel("datasets", "add", "customers", str(path))
    return "customers@1"


def test_automl_and_roi_from_the_command_line(run_keel: KeelCli, tmp_path: Path) -> None:
    ref = _dataset(run_keel, tmp_path)
    proc = run_keel(
        "automl", "--data", ref, "--target", "churned", "--metric", "roc_auc",
        "--budget", "3s", "--family", "linear", "--json",
    )  # fmt: skip
    out = json.loads(proc.stdout)
    assert out["task"] == "binary" and out["registered"] == "churned-automl@1"
    assert out["data"] == ref and out["leaderboard"][0]["family"] == "linear"
    shown = run_keel("models", "show", "churned-automl@1")
    assert "churned-automl" in shown.stdout

    report = tmp_path / "out" / "roi.html"
    proc = run_keel(
        "roi", "--data", ref, "--target", "churned", "--value-per-correct", "12",
        "--cost-per-error", "40", "--predictions-per-month", "50000", "--budget", "2s",
        "--out", str(report),
    )  # fmt: skip
    assert "Recommendation:" in proc.stdout
    assert report.read_text().startswith("<!doctype html>")


def test_bad_arguments_exit_2_with_one_line(run_keel: KeelCli, tmp_path: Path) -> None:
    ref = _dataset(run_keel, tmp_path)
    proc = run_keel(
        "automl", "--data", ref, "--target", "churned", "--metric", "auc_pr", check=False
    )
    assert proc.returncode == 2
    assert "unknown metric 'auc_pr'" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run_keel("automl", "--data", "nope@1", "--target", "x", check=False)
    assert proc.returncode == 3


def test_the_live_view_is_a_budget_bar_over_the_leaderboard() -> None:
    """What `keel automl` shows on a terminal while it searches (rendered here to text)."""
    from rich.console import Console

    from keel.cli.automl import _Leaderboard
    from keel.tuning import LeaderboardRow

    board = _Leaderboard(60.0)
    board.update([LeaderboardRow(1, 3, "lightgbm", 0.93, 1.2, {}, None)], 5.0)
    console = Console(record=True, width=100, color_system=None)
    console.print(board)
    text = console.export_text()
    assert "automl: 1 candidates" in text and "of 60 s" in text
    assert "lightgbm" in text and "0.9300" in text
    assert "━" in text  # the budget bar
