"""The scheduler: a loop that claims due occurrences and runs their pipelines.

Any number of schedulers may serve one database. Each occurrence is claimed by inserting
its unique ``(schedule, occurrence)`` row, so exactly one scheduler fires it. The fired
pipeline runs in a child process (``python -m keel.pipelines._fire``), which picks up the
current code and cannot take the scheduler down; while it runs, its scheduler renews the
occurrence's lease, and a fire whose lease lapsed (its scheduler died) is marked ``lost``.

Embed it in another process (``keel server``) with :meth:`Scheduler.start_in_thread`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from keel.config import Settings
from keel.pipelines._schedule import Occurrence, cron_occurrences, trigger_occurrence
from keel.store import Store, open_store
from keel.store._db import now_ms
from keel.store.pipelines import Schedule, ScheduleFire

Event = Callable[[str], None]


@dataclass
class _Child:
    fire: ScheduleFire
    schedule: Schedule
    process: subprocess.Popen[bytes]


class Scheduler:
    """Fires the schedules of every project in the database ``settings`` point at."""

    def __init__(
        self,
        settings: Settings,
        *,
        interval: float = 5.0,
        max_parallel: int = 2,
        lease_s: float = 60.0,
        on_event: Event | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self._own_store = store is None
        self.interval = interval
        self.max_parallel = max_parallel
        self.lease_ms = int(lease_s * 1000)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.started_at = now_ms()
        self._children: list[_Child] = []
        self._warned: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._say = on_event or (lambda _msg: None)

    # -- one pass ----------------------------------------------------------------------------
    def tick(self) -> list[ScheduleFire]:
        """Heartbeat, reap finished runs, claim and launch due occurrences."""
        now = now_ms()
        self.store.schedules.heartbeat(
            self.id, host=socket.gethostname(), pid=os.getpid(), started_at=self.started_at
        )
        self._reap()
        self._renew(now)
        self.store.schedules.expire_lost(now)
        fired: list[ScheduleFire] = []
        for schedule in self.store.schedules.list(enabled_only=True):
            for occurrence in self._due(schedule, now):
                if len(self._children) >= self.max_parallel:
                    return fired
                fire = self._claim(schedule, occurrence)
                if fire is not None:
                    fired.append(fire)
                    self._launch(schedule, fire)
        return fired

    def _due(self, schedule: Schedule, now: int) -> list[Occurrence]:
        if schedule.cron is not None:
            grace = int(max(60.0, 2 * self.interval) * 1000)
            last = self.store.schedules.last_due(schedule.id)
            return cron_occurrences(schedule, now=now, last_due=last, grace_ms=grace)
        found = trigger_occurrence(self.store, schedule)
        if isinstance(found, str):
            if schedule.id not in self._warned:
                self._warned.add(schedule.id)
                self._say(f"schedule {schedule.name!r}: {found}")
            return []
        if found is None or self.store.schedules.has_occurrence(schedule.id, found.key):
            return []
        return [found]

    def _claim(self, schedule: Schedule, occurrence: Occurrence) -> ScheduleFire | None:
        return self.store.schedules.claim(
            schedule.id,
            occurrence.key,
            due_at=occurrence.due_at,
            claimed_by=self.id,
            lease_ms=self.lease_ms,
        )

    def _launch(self, schedule: Schedule, fire: ScheduleFire) -> None:
        project = self.store.projects.get_by_id(schedule.project_id).name
        env = dict(os.environ)
        env.update(
            KEEL_HOME=str(self.settings.home),
            KEEL_DB_URI=self.settings.db_uri,
            KEEL_ARTIFACTS_URI=self.settings.artifacts_uri,
            KEEL_PROJECT=project,
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "keel.pipelines._fire", str(fire.id)],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        self._children.append(_Child(fire, schedule, process))
        self._say(f"fired {schedule.name!r} for {fire.occurrence} (pid {process.pid})")

    def _reap(self) -> None:
        for child in list(self._children):
            code = child.process.poll()
            if code is None:
                continue
            self._children.remove(child)
            fire = self.store.schedules.get_fire(child.fire.id)
            if fire.status in ("claimed", "running"):  # the child died before recording
                self.store.schedules.update_fire(
                    fire.id,
                    status="failed",
                    error=f"the run process exited with {code}",
                    ended=True,
                )
            outcome = fire.status if code == 0 else "failed"
            self._say(f"{child.schedule.name!r} {fire.occurrence}: {outcome}")

    def _renew(self, now: int) -> None:
        for child in self._children:
            self.store.schedules.update_fire(child.fire.id, lease_expires_at=now + self.lease_ms)

    # -- loops -------------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> None:
        """Tick every ``interval`` seconds until :meth:`stop` (or once, waiting for its runs)."""
        try:
            while not self._stop.is_set():
                self.tick()
                if once:
                    self.wait()
                    return
                self._stop.wait(self.interval)
        finally:
            self.close()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the runs this scheduler launched to end."""
        for child in list(self._children):
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
        self._reap()

    def start_in_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="keel-scheduler", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 30)

    def close(self) -> None:
        """Leave the roster; running pipeline processes finish on their own."""
        self._reap()
        self.store.schedules.leave(self.id)
        if self._own_store:
            self.store.close()
