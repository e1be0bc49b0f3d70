"""A misspelt ``-P`` on a read is a one-line error listing the projects, and leaves nothing
behind; writes create the project; the default project reads fine on a fresh home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import keel
from keel.config import Settings
from keel.store import open_store

if TYPE_CHECKING:
    from tests.conftest import KeelCli

READS = [
    ("experiments", "list"),
    ("runs", "list"),
    ("runs", "list", "-e", "x"),
    ("models", "list"),
    ("alerts", "list"),
    ("datasets", "list"),
    ("deploy", "list"),
    ("sql", "SELECT 1"),
    ("label", "status", "x"),
    ("monitor", "list"),
    ("schedule", "list"),
    # changes to something already in the project need the project too
    ("schedule", "remove", "nightly"),
    ("schedule", "enable", "nightly"),
    ("schedule", "disable", "nightly"),
    ("schedule", "fires", "nightly"),
    ("pipeline", "cache"),
    ("pipeline", "cache", "--clear"),
    ("report", "compare", "--base", "run:abcdef12", "--head", "run:abcdef34"),
    ("sweep", "promote", "tune", "--name", "churn-model"),
    ("predict", "churn-model@champion", "--input", "in.csv", "--output", "out.parquet"),
    ("sweep", "list"),
    ("pipeline", "runs"),
    ("search", "x"),
    ("report", "list"),
    ("feedback", "list", "churn-api"),
    ("label", "import", "x", "tasks.json"),  # into a labeling project, which must exist
    ("synth", "sample", "x-copula@1"),  # its model is a version in the project
    ("automl", "--data", "x@1", "--target", "y"),  # learns from a dataset of the project
]


def _projects(home: Path) -> list[str]:
    store = open_store(Settings.for_home(home))
    try:
        return [p.name for p in store.projects.list()]
    finally:
        store.close()


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_read_of_a_missing_project_fails_and_creates_nothing(
    run_keel: KeelCli, keel_home: Path, command: tuple[str, ...]
) -> None:
    keel.init(project="churn", home=keel_home)
    keel.init(home=keel_home)
    proc = run_keel("-P", "typo", *command, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "project 'typo' does not exist; projects: churn" in lines[0]
    assert "typo" not in _projects(keel_home)


def test_writes_create_the_project_and_a_fresh_home_reads_the_default(
    run_keel: KeelCli, keel_home: Path, tmp_path: Path
) -> None:
    assert "no experiments" in run_keel("experiments", "list").stdout.lower()
    run_keel("runs", "list")
    data = tmp_path / "toy.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    run_keel("-P", "fresh", "datasets", "add", "toy", str(data))
    assert sorted(_projects(keel_home)) == ["default", "fresh"]
    run_keel("-P", "fresh", "datasets", "list")  # now it exists, reads work
    listed = json.loads(run_keel("projects", "list", "--json").stdout)
    assert sorted(p["name"] for p in listed) == ["default", "fresh"]
    assert "fresh (current)" in run_keel("projects", "list", "-P", "fresh").stdout


def test_pipeline_inspect_sees_only_the_runs_of_its_project(
    run_keel: KeelCli, keel_home: Path
) -> None:
    """Another project's run does not exist here, and a short id prefix that runs of two
    projects share names the current project's (the store's get is scoped to it)."""
    keel.init(project="other", home=keel_home)
    store = open_store(Settings.for_home(keel_home))
    try:
        churn, other = (store.projects.get_or_create(name) for name in ("churn", "other"))
        run_id = store.runs.create(store.experiments.create(churn.id, "e").id).id
        twin = run_id[:8] + "f" * 24  # a uuid4's 13th digit is 4: never the run's own id
        for rid, pid in ((run_id, churn.id), (twin, other.id)):
            store.pipeline_runs.start(
                rid, project_id=pid, pipeline="p", target="", runner="", params={}, n_steps=0
            )
    finally:
        store.close()
    for ref in (run_id, run_id[:8]):  # the prefix is ambiguous across projects, not in one
        assert run_id in run_keel("-P", "churn", "pipeline", "inspect", ref, "--json").stdout
    assert twin in run_keel("-P", "other", "pipeline", "inspect", run_id[:8], "--json").stdout
    proc = run_keel("-P", "other", "pipeline", "inspect", run_id, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and f"pipeline run {run_id!r} does not exist in project 'other'" in lines[0]
    )


#: writes whose input is bad: refused before the project is made -> (command, exit code,
#: what the one-line error says)
BAD_WRITES = [
    (("monitor", "reference", "ref"), 2, "give exactly one of --model"),
    (("monitor", "reference", "ref", "--file", "missing.csv"), 2, "missing.csv"),
    (("datasets", "training-set", "ts", "-e", "labels.csv", "-p", "no-keys"), 2, "no-keys"),
    (("label", "create", "lp", "--kind", "bogus"), 2, "bogus"),
    (("models", "import", "missing.onnx", "--name", "m"), 3, "missing.onnx"),
    (("monitor", "set", "api", "--window", "bogus"), 2, "window 'bogus' is not a duration"),
    (("monitor", "set", "api", "--numeric-test", "bogus"), 2, "numeric_test='bogus'"),
    (("monitor", "set", "api", "-r", "model:churn/1"), 3, "no reference profile"),
    (("monitor", "set", "api", "--label-project", "lp"), 3, "project 'fresh' does not exist"),
    (("alerts", "notifiers", "add", "n", "--log", "--min-severity", "bad"), 2, "'bad'"),
    (("alerts", "notifiers", "add", "n", "--webhook", "http://x", "--format", "x"), 2, "format"),
    (("experiments", "create", ""), 2, "experiment name must be a non-empty string"),
    (("synth", "fit", "rows.csv", "--method", "bogus"), 2, "unknown method 'bogus'"),
    (("synth", "fit", "customers@1"), 3, "project 'fresh' does not exist"),
    (("datasets", "add", "toy", "missing.csv"), 3, "path 'missing.csv' does not exist"),
    (("datasets", "add", "a@b", "toy.csv"), 2, "dataset name 'a@b' contains '@'"),
    (("server", "roles", "set", "fresh", "nobody", "reader"), 3, "user 'nobody' does not exist"),
]


@pytest.mark.parametrize(
    ("command", "code", "message"), BAD_WRITES, ids=[" ".join(c) for c, _, _ in BAD_WRITES]
)
def test_a_write_with_bad_input_leaves_no_project_behind(
    run_keel: KeelCli, keel_home: Path, command: tuple[str, ...], code: int, message: str
) -> None:
    keel.init(home=keel_home)
    proc = run_keel("-P", "fresh", *command, check=False)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert message in proc.stderr.strip().splitlines()[-1], proc.stderr  # the error line
    assert "fresh" not in _projects(keel_home)


def test_every_command_takes_the_project_option_too() -> None:
    """``keel runs list -P churn`` works as ``keel -P churn runs list`` does, on every command."""
    from keel.cli import COMMANDS, cli

    missing = []
    for name in COMMANDS:
        todo = [(name, cli.get_command(None, name))]
        while todo:
            path, command = todo.pop()
            subs = getattr(command, "commands", None)
            if subs is not None:
                todo += [(f"{path} {n}", c) for n, c in subs.items()]
            elif not {"-P", "--project"} <= {o for p in command.params for o in p.opts}:
                missing.append(path)
    assert not missing, missing


def test_the_project_given_after_the_command_wins(run_keel: KeelCli, keel_home: Path) -> None:
    keel.init(project="churn", home=keel_home)
    proc = run_keel("runs", "list", "-P", "typo", check=False)
    assert proc.returncode == 3 and "project 'typo' does not exist" in proc.stderr
    run_keel("experiments", "create", "baseline", "--project", "churn")
    listed = run_keel("-P", "typo", "experiments", "list", "-P", "churn", "--json").stdout
    assert "baseline" in listed
    assert "typo" not in _projects(keel_home)
