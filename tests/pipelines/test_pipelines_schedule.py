"""Schedules and triggers: catch-up policy, occurrence claims, and two real scheduler
processes racing on one database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keel.exceptions import AlreadyExistsError, InvalidArgumentError, NotFoundError
from keel.pipelines._schedule import add_schedule, cron_occurrences
from keel.pipelines._scheduler import Scheduler
from keel.store import Store
from keel.store.entities import DatasetFile
from keel.store.pipelines import Schedule

MINUTE = 60_000
T0 = 1_780_000_000_000 - (1_780_000_000_000 % (60 * MINUTE))  # on the hour

FLOW = """
import keel
from pathlib import Path

@keel.step(cache=False)
def record(log: str) -> int:
    with open(log, "a") as f:
        f.write("ran\\n")
    return 1

@keel.pipeline
def job(log: str = "{log}"):
    return record(log)
"""


def _schedule(cron: str, catch_up: str, created: int = T0) -> Schedule:
    return Schedule(1, 1, "s", "f.py:p", {}, {}, cron, None, None, "", catch_up, True, created)


def test_cron_catch_up_policies() -> None:
    now = T0 + 10 * MINUTE + 30_000  # ten occurrences missed, the last 30 s ago
    latest = cron_occurrences(
        _schedule("* * * * *", "latest"), now=now, last_due=None, grace_ms=60_000
    )
    assert [o.due_at for o in latest] == [T0 + 10 * MINUTE]
    every = cron_occurrences(
        _schedule("* * * * *", "all"), now=now, last_due=T0 + 7 * MINUTE, grace_ms=0
    )
    assert [o.due_at for o in every] == [T0 + 8 * MINUTE, T0 + 9 * MINUTE, T0 + 10 * MINUTE]
    none = cron_occurrences(_schedule("* * * * *", "none"), now=now, last_due=None, grace_ms=10_000)
    assert none == []  # the newest was 30 s ago, outside the 10 s grace
    assert (
        cron_occurrences(_schedule("0 3 * * *", "latest"), now=now, last_due=None, grace_ms=0) == []
    )
    due = dt.datetime.fromtimestamp((T0 + 10 * MINUTE) / 1000, tz=dt.UTC)
    assert latest[0].key == f"cron:{due.isoformat()}"


def test_add_schedule_checks_its_inputs(sqlite_store: Store, tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(log=tmp_path / "log"))
    with pytest.raises(InvalidArgumentError, match="not valid"):
        add_schedule(sqlite_store, "default", "a", target=f"{flow}:job", cron="every day")
    with pytest.raises(InvalidArgumentError, match="exactly one of"):
        add_schedule(sqlite_store, "default", "a", target=f"{flow}:job")
    with pytest.raises(InvalidArgumentError, match="KIND:REF"):
        add_schedule(sqlite_store, "default", "a", target=f"{flow}:job", on="webhook:x")
    with pytest.raises(InvalidArgumentError, match="no parameter 'lr'"):
        add_schedule(
            sqlite_store, "default", "a", target=f"{flow}:job", cron="* * * * *", params={"lr": "1"}
        )
    add_schedule(sqlite_store, "default", "a", target=f"{flow}:job", cron="* * * * *")
    with pytest.raises(AlreadyExistsError):
        add_schedule(sqlite_store, "default", "a", target=f"{flow}:job", cron="* * * * *")


def _new_version(store: Store, name: str) -> int:
    from keel.store.registry import NewVersion

    pid = store.projects.get_or_create("default").id
    made = store.registry.create_version(
        pid, name, NewVersion("a" * 64, 1, "b" * 64, "sklearn", "sklearn", "classification")
    )
    return made.id


@pytest.mark.parametrize(
    ("on", "error", "message"),
    [
        ("dataset:customers", NotFoundError, "names dataset 'customers', which project 'default'"),
        ("model-alias:churn@prod", NotFoundError, "names model 'churn', which project"),
        ("model-alias:churn", InvalidArgumentError, "must name a model and an alias"),
        ("alert:churn/drift", NotFoundError, "names no deployment or monitor"),
        ("webhook:x", InvalidArgumentError, "KIND one of dataset, model-alias, alert"),
    ],
)
def test_a_trigger_on_something_missing_is_refused_when_added(
    sqlite_store: Store, tmp_path: Path, on: str, error: type[Exception], message: str
) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(log=tmp_path / "log"))
    with pytest.raises(error, match=message):
        add_schedule(sqlite_store, "default", "b", target=f"{flow}:job", on=on)
    assert sqlite_store.schedules.list() == []


def test_a_model_alias_trigger_fires_when_the_alias_moves(
    sqlite_store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(log=log))
    pid = sqlite_store.projects.get_or_create("default").id
    first = _new_version(sqlite_store, "churn")
    schedule = add_schedule(
        sqlite_store, "default", "b", target=f"{flow}:job", on="model-alias:churn@champion"
    )
    assert (schedule.trigger_kind, schedule.trigger_baseline) == ("model-alias", "")
    scheduler = Scheduler(sqlite_store.settings, store=sqlite_store)
    assert scheduler.tick() == []  # no champion yet
    sqlite_store.registry.set_alias(pid, "churn", "champion", first)
    fired = scheduler.tick()
    assert [f.occurrence for f in fired] == ["model-alias:churn@champion#1"]
    scheduler.wait(timeout=60)
    assert sqlite_store.schedules.get_fire(fired[0].id).status == "finished"
    assert log.read_text() == "ran\n"


def test_an_occurrence_is_claimed_once(store: Store, tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(log=tmp_path / "log"))
    schedule = add_schedule(store, "default", "nightly", target=f"{flow}:job", cron="0 3 * * *")
    first = store.schedules.claim(schedule.id, "cron:x", due_at=1, claimed_by="a", lease_ms=1000)
    second = store.schedules.claim(schedule.id, "cron:x", due_at=1, claimed_by="b", lease_ms=1000)
    assert first is not None and first.claimed_by == "a" and second is None
    assert store.schedules.expire_lost(now=first.lease_expires_at + 1) == 1
    assert store.schedules.fires(schedule.id)[0].status == "lost"


def test_a_schedule_of_a_missing_project_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="project id 424242 does not exist"):
        store.schedules.add(
            424242, "nightly", target="flow.py:job", params={}, runner={}, cron="0 3 * * *",
            trigger_kind=None, trigger_ref=None, trigger_baseline="", catch_up="latest",
        )  # fmt: skip


def test_new_dataset_version_triggers_the_pipeline_once(
    sqlite_store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(log=log))
    project = sqlite_store.projects.get_or_create("default")
    ds = sqlite_store.datasets.get_or_create(project.id, "customers")

    def add_version(c: str) -> None:
        sqlite_store.datasets.add_version(
            ds,
            content_hash=c * 64,
            kind="table",
            source={},
            schema=[],
            profile={},
            num_rows=1,
            files=[DatasetFile("a", c * 64, 1)],
        )

    add_version("a")
    add_schedule(sqlite_store, "default", "retrain", target=f"{flow}:job", on="dataset:customers")
    scheduler = Scheduler(sqlite_store.settings, store=sqlite_store)
    assert scheduler.tick() == []  # the version that existed when it was added does not fire
    add_version("b")
    fired = scheduler.tick()
    assert [f.occurrence for f in fired] == ["dataset:customers#2"]
    scheduler.wait(timeout=60)
    assert scheduler.tick() == []
    scheduler.wait(timeout=60)
    fire = sqlite_store.schedules.get_fire(fired[0].id)
    assert fire.status == "finished", fire.error
    run = sqlite_store.pipeline_runs.get(fire.pipeline_run_id or "")
    assert run.status == "FINISHED"
    assert sqlite_store.runs.get(run.id).tags["keel.schedule"] == "retrain"
    assert log.read_text() == "ran\n"


def test_two_scheduler_processes_never_fire_an_occurrence_twice(
    store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(log=log))
    schedule = add_schedule(
        store, "default", "every-second", target=f"{flow}:job", cron="* * * * * *", catch_up="all"
    )
    settings = store.settings
    env = {
        **os.environ,
        "KEEL_HOME": str(settings.home),
        "KEEL_DB_URI": settings.db_uri,
        "KEEL_ARTIFACTS_URI": settings.artifacts_uri,
    }
    cmd = [sys.executable, "-m", "keel.cli", "scheduler", "--interval", "0.2"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 30
        seen: set[str] = set()
        while time.monotonic() < deadline:
            seen.update(s.id for s in store.schedules.schedulers())
            if len(store.schedules.fires(schedule.id)) >= 3 and len(seen) == 2:
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    time.sleep(0.5)
    deadline = time.monotonic() + 30  # let launched runs finish
    while time.monotonic() < deadline and any(
        f.status in ("claimed", "running") for f in store.schedules.fires(schedule.id)
    ):
        time.sleep(0.2)
    fires = store.schedules.fires(schedule.id, limit=1000)
    assert len(seen) == 2, "both schedulers were alive"
    assert len(fires) >= 3
    assert len({f.occurrence for f in fires}) == len(fires)
    finished = [f for f in fires if f.status == "finished"]
    runs = {f.pipeline_run_id for f in finished}
    assert len(runs) == len(finished)
    assert log.read_text().count("ran") == len(finished)  # each occurrence ran exactly once
    assert store.schedules.schedulers() == []  # both left the roster on SIGTERM
