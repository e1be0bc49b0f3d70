"""What a user meets at the command line: the project option, one help style, output that can be
pasted when piped, and one-line errors for bad sort clauses and missing experiments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import keel

if TYPE_CHECKING:
    from tests.conftest import KeelCli


def _seed(home: Path, project: str, experiment: str) -> str:
    keel.init(project=project, home=home)
    with keel.start_run(experiment=experiment, capture_env=False) as run:
        run.log_metric("auc", 0.9)
        run.log_param("a_rather_long_parameter_name_that_would_wrap", "x" * 60)
    keel.init(home=home)  # back to the default project for the next caller
    return run.id


def test_project_option_and_keel_project_choose_the_same_project(
    run_keel: KeelCli, keel_home: Path
) -> None:
    rid = _seed(keel_home, "churn", "baseline")
    by_option = json.loads(run_keel("-P", "churn", "runs", "list", "--json").stdout)
    assert [r["info"]["id"] for r in by_option["runs"]] == [rid]
    by_long = json.loads(run_keel("--project", "churn", "runs", "list", "--json").stdout)
    assert [r["info"]["id"] for r in by_long["runs"]] == [rid]
    default = json.loads(run_keel("runs", "list", "--json").stdout)
    assert default["runs"] == []


def test_missing_experiment_names_the_project(run_keel: KeelCli, keel_home: Path) -> None:
    _seed(keel_home, "churn", "baseline")
    proc = run_keel("-P", "churn", "runs", "list", "-e", "nosuch", check=False)
    assert proc.returncode == 3
    assert "experiment 'nosuch' does not exist in project 'churn'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_project_is_refused(run_keel: KeelCli) -> None:
    proc = run_keel("-P", " ", "runs", "list", check=False)
    assert proc.returncode == 2 and "--project is empty" in proc.stderr


def test_bad_sort_direction_is_an_error_not_ignored(run_keel: KeelCli, keel_home: Path) -> None:
    _seed(keel_home, "default", "baseline")
    for clause in ("metrics.auc BOGUS", "metrics.auc DESCENDING"):
        proc = run_keel("runs", "list", "-o", clause, check=False)
        assert proc.returncode == 2, proc.stdout
        assert "unknown sort direction" in proc.stderr and "Traceback" not in proc.stderr
    run_keel("runs", "list", "-o", "metrics.auc desc")


def test_one_help_style_without_completion_noise(run_keel: KeelCli) -> None:
    root = run_keel("--help").stdout
    sub = run_keel("runs", "--help").stdout
    for text in (root, sub):
        assert text.startswith("Usage: keel")
        assert "╭" not in text  # no Rich panels in one place and plain text in another
    assert "--install-completion" not in sub
    assert "-P, --project NAME" in root


def test_piped_output_does_not_wrap(keel_home: Path) -> None:
    rid = _seed(keel_home, "default", "baseline")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["KEEL_HOME"] = str(keel_home)
    out = subprocess.run(
        [sys.executable, "-m", "keel.cli", "runs", "show", rid],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if "a_rather_long_parameter_name" in x)
    assert "x" * 60 in line, out


def test_history_of_a_metric_the_run_never_logged(run_keel: KeelCli, keel_home: Path) -> None:
    rid = _seed(keel_home, "default", "baseline")
    proc = run_keel("runs", "history", rid, "nosuchmetric", check=False)
    assert proc.returncode == 3
    assert "has no metric 'nosuchmetric'; it has: auc" in proc.stderr
    assert "auc" in run_keel("runs", "history", rid, "auc").stdout


def test_names_print_as_typed_not_as_emoji(run_keel: KeelCli, keel_home: Path) -> None:
    keel.init(home=keel_home)
    with keel.start_run(experiment="baseline", name="model:fire:v2", capture_env=False):
        pass
    out = run_keel("runs", "list").stdout
    assert "model:fire:v2" in out and "\N{FIRE}" not in out, out
