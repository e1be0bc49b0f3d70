"""``keel pipeline`` and ``keel schedule`` as a user runs them (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FLOW = """
import keel

@keel.step
def base(n: int) -> list[int]:
    return list(range(n))

@keel.step
def scaled(xs: list[int], lr: float) -> float:
    if lr < 0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    return sum(xs) * lr

@keel.pipeline
def train(n: int = 4, lr: float = 0.5):
    return scaled(base(n), lr)
"""


def keel_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args], capture_output=True, text=True, env=env
    )


def test_pipeline_run_show_runs_and_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flow = tmp_path / "train.py"
    flow.write_text(FLOW)
    target = f"{flow}:train"

    first = keel_cli(home, "pipeline", "run", target, "-p", "lr=0.1", "--json")
    assert first.returncode == 0, first.stderr
    assert [s["status"] for s in json.loads(first.stdout)["steps"]] == ["ran", "ran"]
    second = keel_cli(home, "pipeline", "run", target, "-p", "lr=0.1")
    assert second.returncode == 0 and "Every step came from the cache" in second.stdout

    unknown = keel_cli(home, "pipeline", "run", target, "-p", "lrate=1")
    assert unknown.returncode == 2
    assert "no parameter 'lrate'" in unknown.stderr and "Did you mean 'lr'" in unknown.stderr
    failing = keel_cli(home, "pipeline", "run", target, "-p", "lr=-1")
    assert failing.returncode == 1
    assert (
        "step 'scaled' failed" in failing.stderr and "lr must be >= 0, got -1.0" in failing.stderr
    )

    mermaid = keel_cli(home, "pipeline", "show", target, "--format", "mermaid")
    assert mermaid.stdout.startswith("flowchart TD") and "-->" in mermaid.stdout

    runs = json.loads(keel_cli(home, "pipeline", "runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["FAILED", "FINISHED", "FINISHED"]
    assert runs[1]["n_cached"] == 2
    inspect = keel_cli(home, "pipeline", "inspect", runs[0]["id"][:8])
    assert inspect.returncode == 0 and "ValueError" in inspect.stdout

    added = keel_cli(
        home, "schedule", "add", "nightly", "--pipeline", target, "--cron", "0 3 * * *"
    )
    assert added.returncode == 0 and "Added schedule nightly" in added.stdout, added.stderr


def test_a_fully_cached_rerun_needs_no_sqlalchemy(tmp_path: Path) -> None:
    """The no-op re-run is driver-level SQL end to end: importing SQLAlchemy and building the
    schema would cost more than the whole re-run (see benchmarks/bench_pipelines.py)."""
    home = tmp_path / "home"
    (tmp_path / "train.py").write_text(FLOW)
    first = keel_cli(home, "pipeline", "run", str(tmp_path / "train.py:train"))
    assert first.returncode == 0, first.stderr
    probe = (
        "import sys\n"
        "from keel.cli import main\n"
        f"sys.argv = ['keel', 'pipeline', 'run', {str(tmp_path / 'train.py:train')!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('SQLALCHEMY' if 'sqlalchemy' in sys.modules else 'NO-SQLALCHEMY')\n"
    )
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "Every step came from the cache" in out.stdout
    assert out.stdout.strip().endswith("NO-SQLALCHEMY"), out.stdout
