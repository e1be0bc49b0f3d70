"""Several machines pull trials from one sweep through a real ``keel server`` process: one
runs ``keel sweep run`` in its own process, another at the same time with two worker
processes (``--runner processes``); they join one generation and no trial runs twice."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

from server_helpers import keel_cli  # type: ignore[import-not-found]

from keel.store import Store
from keel.store.sweeps import TrialState

OBJECTIVE = """
import time

def slow(params):
    time.sleep(0.2)
    return (params["x"] - 1.0) ** 2
"""
SPACE = "x: {type: float, low: -5.0, high: 5.0}\n"


def test_two_machines_and_worker_processes_share_one_sweep_through_a_server(
    keel_server: str, keel_server_store: Store, tmp_path: Path
) -> None:
    (tmp_path / "train.py").write_text(OBJECTIVE)
    (tmp_path / "space.yaml").write_text(SPACE)
    run = ["sweep", "run", f"{tmp_path / 'train.py'}:slow", "--space", str(tmp_path / "space.yaml")]
    run += ["--trials", "12", "--json"]
    machines = {
        "ann": [*run, "--seed", "0"],
        "bob": [*run, "--seed", "1", "--runner", "processes", "--parallel", "2"],
    }
    done: dict[str, subprocess.CompletedProcess[str]] = {}

    def machine(name: str) -> None:
        done[name] = keel_cli(*machines[name], home=tmp_path / name, KEEL_SERVER_URL=keel_server)

    threads = [threading.Thread(target=machine, args=(m,)) for m in machines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, proc in done.items():
        assert proc.returncode == 0, f"{name}: {proc.stdout}{proc.stderr}"
        assert json.loads(proc.stdout)["sweep"]["generation"] == 1
    assert not (tmp_path / "ann" / "keel.db").exists()  # everything went to the server

    pid = keel_server_store.projects.get("default").id
    generations = keel_server_store.sweeps.list(pid, name="slow")
    assert len(generations) == 1  # both machines joined one generation
    trials = keel_server_store.sweeps.trials(pid, generations[0].id)
    # the budget, give or take one trial per worker that raced for the last one
    assert 12 <= len(trials) <= 14 and len({t.number for t in trials}) == len(trials)
    assert all(t.state is TrialState.COMPLETE for t in trials)
    runs = keel_server_store.runs.children(generations[0].run_id or "")
    assert len(runs) == len(trials) and len({t.run_id for t in trials}) == len(trials)
    workers = {keel_server_store.runs.get(r.id).tags["keel.pid"] for r in runs}
    assert len(workers) >= 2, workers  # more than one process pulled trials
