"""``keel datasets`` as users and scripts run it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from keel.cli import _context, cli


def keel_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def runner(keel_home: Path) -> Iterator[CliRunner]:
    """In-process CLI; the cached settings and store are reset around each test."""
    for cached in (_context.settings, _context.store):
        cached.cache_clear()
    yield CliRunner()
    if _context.store.cache_info().currsize:
        _context.store().close()
    for cached in (_context.settings, _context.store):
        cached.cache_clear()


def invoke(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(cli, ["datasets", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_list_versions_show_diff(runner: CliRunner, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    csv = tmp_path / "users.csv"
    pd.DataFrame({"age": rng.normal(40, 10, 500), "plan": rng.choice(["a", "b"], 500)}).to_csv(
        csv, index=False
    )
    added = invoke(runner, "add", "users", str(csv), "-d", "user table")
    assert added["created"] and added["version"]["version"] == 1
    assert not invoke(runner, "add", "users", str(csv))["created"]
    pd.read_csv(csv).assign(age=lambda d: d.age + 10, extra=1).to_csv(csv, index=False)
    invoke(runner, "add", "users", str(csv))
    listed = invoke(runner, "list")
    assert [(d["dataset"]["name"], d["latest"]["version"]) for d in listed] == [("users", 2)]
    assert [v["version"] for v in invoke(runner, "versions", "users")] == [1, 2]
    shown = invoke(runner, "show", "users@1")
    assert shown["version"]["profile"]["columns"]["plan"]["distinct"] == 2
    diff = invoke(runner, "diff", "users@1", "users@2")
    assert diff["changed"] and [c["name"] for c in diff["added_columns"]] == ["extra"]
    assert {"column": "age", "stat": "mean"}.items() <= diff["stat_changes"][0].items()
    table = runner.invoke(cli, ["datasets", "show", "users"], catch_exceptions=False)
    assert "Profile" in table.stdout and "extra" in table.stdout


def test_add_sql_and_checkout(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    added = invoke(runner, "add", "prod", "--sql", "SELECT x FROM t", "--url", f"sqlite:///{db}")
    assert added["version"]["num_rows"] == 10
    out = invoke(runner, "checkout", "prod@1", str(tmp_path / "out"))
    assert out["files"] == [str(tmp_path / "out" / "data.parquet")]
    assert pd.read_parquet(tmp_path / "out" / "data.parquet")["x"].sum() == 45


def test_status_exit_codes_and_light_imports(keel_home: Path, folder: Path, tmp_path: Path) -> None:
    assert keel_cli(keel_home, "datasets", "add", "imgs", str(folder)).returncode == 0
    # -X importtime lists every module the command imported, on stderr.
    env = {**os.environ, "KEEL_HOME": str(keel_home)}
    clean = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "keel.cli", "datasets", "status", "imgs",
         str(folder), "--json"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["changed"] is False
    imported = {line.split("|")[-1].strip() for line in clean.stderr.splitlines()}
    assert not imported & {"pandas", "pyarrow", "sklearn", "numpy"}
    (folder / "new.txt").write_text("new\n")
    changed = keel_cli(keel_home, "datasets", "status", "imgs", str(folder))
    assert changed.returncode == 1
    assert "1 added" in changed.stdout and "new.txt" in changed.stdout


def test_errors_are_one_line_with_exit_codes(keel_home: Path, tmp_path: Path) -> None:
    unknown = keel_cli(keel_home, "datasets", "show", "ghost@2")
    assert unknown.returncode == 3 and "'ghost'" in unknown.stderr
    bad_ref = keel_cli(keel_home, "datasets", "show", "x@abc")
    assert bad_ref.returncode == 2 and "'x@abc'" in bad_ref.stderr
    missing = keel_cli(keel_home, "datasets", "add", "d", str(tmp_path / "nowhere"))
    assert missing.returncode == 3 and "nowhere" in missing.stderr
    neither = keel_cli(keel_home, "datasets", "add", "d")
    assert neither.returncode == 2 and "--sql" in neither.stderr
    assert "Traceback" not in unknown.stderr + bad_ref.stderr + missing.stderr
