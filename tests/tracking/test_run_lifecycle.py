"""Runs that end however their process does, runs whose process died, resuming and ending
runs by hand. Every script here is a real Python process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from keel.config import Settings
from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store import Run, RunStatus, open_store
from keel.tracking import TrackingClient, display_status, is_lost

PRELUDE = """
import sys, time, keel
keel.init(project="demo")
run = keel.start_run("script", capture_env=False)
run.log_metric("m", 1.0)
print(run.id, flush=True)
"""


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(PRELUDE + body)
    return path


def _run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=120
    )


def _get(run_id: str) -> Run:
    store = open_store(Settings.from_env().with_project("demo"))
    try:
        return TrackingClient(store, "demo").get_run(run_id)
    finally:
        store.close()


def test_a_run_started_without_with_finishes_at_exit(tmp_path: Path) -> None:
    out = _run(_script(tmp_path, ""))
    assert out.returncode == 0, out.stderr
    run = _get(out.stdout.split()[0])
    assert run.status is RunStatus.FINISHED and run.info.end_time
    assert run.metrics == {"m": 1.0}


def test_an_unhandled_exception_fails_the_run_and_keeps_the_error(tmp_path: Path) -> None:
    out = _run(_script(tmp_path, "raise RuntimeError('disk full')\n"))
    assert out.returncode == 1 and "disk full" in out.stderr  # the traceback still prints
    run = _get(out.stdout.split()[0])
    assert run.status is RunStatus.FAILED
    assert run.tags["keel.error"] == "RuntimeError: disk full"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_kill_the_run(tmp_path: Path, sig: signal.Signals) -> None:
    path = _script(tmp_path, "time.sleep(60)\n")
    proc = subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job (nohup, `&` without job control) ignores SIGINT, and the
        # child would inherit that: give it the default disposition a terminal gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    run = _get(run_id)
    assert run.status is RunStatus.KILLED
    assert run.tags["keel.error"] in ("terminated by SIGTERM", "KeyboardInterrupt")


def test_a_run_whose_process_died_is_lost_and_can_be_ended(tmp_path: Path) -> None:
    path = _script(tmp_path, "import os; os.kill(os.getpid(), 9)\n")
    out = _run(path)
    assert out.returncode == -9
    run_id = out.stdout.split()[0]
    run = _get(run_id)
    assert run.status is RunStatus.RUNNING and is_lost(run) and display_status(run) == "LOST"

    keel = [sys.executable, "-m", "keel.cli"]
    env = {**os.environ, "KEEL_PROJECT": "demo", "COLUMNS": "200"}
    listed = subprocess.run([*keel, "runs", "list"], capture_output=True, text=True, env=env)
    assert "LOST" in listed.stdout, listed.stdout + listed.stderr
    ended = subprocess.run(
        [*keel, "runs", "end", run_id[:8]], capture_output=True, text=True, env=env
    )
    assert ended.returncode == 0 and f"Ended run {run_id} KILLED" in ended.stdout, ended.stderr
    assert _get(run_id).status is RunStatus.KILLED

    again = subprocess.run(
        [*keel, "runs", "end", run_id, "--status", "FINISHED"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert again.returncode != 0
    lines = [line for line in (again.stdout + again.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "already ended KILLED; nothing changed" in lines[0], lines
    assert _get(run_id).status is RunStatus.KILLED


def test_a_live_run_is_not_lost(tmp_path: Path) -> None:
    client = TrackingClient(open_store(Settings.from_env()), "demo")
    import keel

    keel.init(project="demo")
    with keel.start_run(capture_env=False) as run:
        assert not is_lost(client.get_run(run.id))
        stale = client.get_run(run.id)
        beat = int(stale.tags["keel.heartbeat"])
        later = beat + 10 * 60 * 1000
        stale.tags["keel.host"] = "elsewhere"  # another host: only the heartbeat can tell
        assert is_lost(stale, now_ms=later) and not is_lost(stale, now_ms=beat + 1000)
    client.store.close()


def test_resume_reopens_a_run_and_refuses_another_projects(tmp_path: Path) -> None:
    import keel

    keel.init(project="demo")
    with keel.start_run(capture_env=False) as first:
        first.log_metric("epoch", 1)
    assert keel.get_run(first.id).status is RunStatus.FINISHED
    with keel.start_run(run_id=first.id) as again:
        assert keel.active_run() is again
        assert keel.get_run(first.id).status is RunStatus.RUNNING
        again.log_metric("epoch", 2, step=1)
    resumed = keel.get_run(first.id)
    assert resumed.status is RunStatus.FINISHED and resumed.metrics["epoch"] == 2
    assert resumed.tags["keel.resumed_from"] == "FINISHED"

    keel.init(project="other")
    with pytest.raises(NotFoundError, match="does not exist in project 'other'"):
        keel.start_run(run_id=first.id)
    assert keel.active_run() is None
    keel.init(project="demo")
    assert keel.get_run(first.id).status is RunStatus.FINISHED  # nothing changed


def test_close_run_refuses_a_status_that_does_not_end_it(tmp_path: Path) -> None:
    import keel

    client = keel.init(project="demo")
    run = client.create_run(name="open")
    with pytest.raises(InvalidArgumentError, match="'RUNNING' is not one of them"):
        client.close_run(run.id, "RUNNING")
    assert client.close_run(run.id, "failed").status is RunStatus.FAILED
    assert json.loads(json.dumps(client.get_run(run.id).tags))["keel.ended_by"] == "keel runs end"
