"""Every serving process shows up in the store: one picture of what is deployed.

A server started on a spec that was never applied (``keel serve churn@champion``, ``keel
serve -f deploy.yaml``, the quickstart's) registers an *ad-hoc* deployment with the address
it listens on; a server of an applied deployment (``keel serve -d``) only reports in. Both
then heartbeat every :data:`HEARTBEAT_S` seconds, so ``keel deploy list``, the Deployments
page and the monitoring links see the same deployments and whether anything serves them.
A clean exit marks an ad-hoc deployment ``stopped``; a killed one stops being seen.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from keel.exceptions import KeelError
from keel.store.projects import existing_project

if TYPE_CHECKING:
    from keel.config import Settings
    from keel.serving._spec import DeploymentSpec
    from keel.store import Store
    from keel.store.deployments import Deployment

log = logging.getLogger("keel.serving")
HEARTBEAT_S = 15.0
#: A deployment not seen for this long is shown as not live.
LIVE_FOR_S = 3 * HEARTBEAT_S


class Presence:
    """Registers one serving process's deployment and keeps it seen while it serves.

    Nothing happens until :meth:`start` (the constructor does no I/O). A conflict with an
    applied deployment of the same name raises from :meth:`start`; later store errors are
    logged, never fatal to serving.
    """

    def __init__(
        self,
        settings: Settings,
        spec: DeploymentSpec,
        *,
        adhoc: bool,
        note: str = "",
        store: Store | None = None,
        every_s: float = HEARTBEAT_S,
    ) -> None:
        self._settings = settings
        self._spec = spec
        self._adhoc = adhoc
        self._note = note
        self._store = store
        self._own_store = store is None
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._served = spec
        self._pid = 0

    def start(self, host: str, port: int) -> None:
        """Record the deployment as served at ``host:port`` and start the heartbeat."""
        if self._store is None:
            from keel.store import open_store

            self._store = open_store(self._settings)
        self._pid = existing_project(  # its models came from it
            self._store.projects, self._settings.project
        ).id
        server = self._spec.server.model_copy(update={"host": host, "port": port})
        self._served = self._spec.model_copy(update={"server": server})
        self._report()
        self._thread = threading.Thread(target=self._beat, name="keel-presence", daemon=True)
        self._thread.start()

    def _report(self) -> None:
        assert self._store is not None
        deployments = self._store.deployments
        name = self._spec.name
        if not self._adhoc and deployments.heartbeat(self._pid, name):
            return
        found = deployments.find(self._pid, name)
        if not self._adhoc and (found is None or found.status != "stopped"):
            return  # deleted while it serves; a stopped ad-hoc one served by name is revived
        same = found is not None and _same_spec(found, self._served)
        if same and deployments.heartbeat(self._pid, name):  # False when stopped or deleted
            return
        from keel.serving._spec import targets_of

        deployments.register(
            self._pid, name, self._served.to_dict(), targets_of(self._served), note=self._note
        )

    def _beat(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._report()
            except (KeelError, OSError) as exc:  # the store is away: serving goes on
                log.warning("could not report deployment %r to the store: %s", self._spec.name, exc)

    def stop(self) -> None:
        """Stop the heartbeat; an ad-hoc deployment is marked ``stopped`` (an applied one
        stays as it is: its spec is still what should run)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._store is None:
            return
        if self._thread is not None:  # only an ad-hoc deployment changes
            with contextlib.suppress(KeelError, OSError):
                self._store.deployments.stop(self._pid, self._spec.name)
        if self._own_store:
            self._store.close()
            self._store = None


def _same_spec(dep: Deployment, served: DeploymentSpec) -> bool:
    """The stored spec is the one served (its listening address aside for applied ones)."""
    from keel.serving._spec import load_spec

    try:
        stored = load_spec(dep.spec)
    except KeelError:
        return False
    if dep.adhoc:
        return stored == served
    return stored.model_copy(update={"server": served.server}) == served


def liveness(dep: Deployment, now_ms: int | None = None) -> str:
    """``live``, ``stopped``, ``not seen`` or ``last seen N s/min/h ago``, for listings."""
    if dep.status == "stopped":
        return "stopped"
    seen = dep.last_seen
    if seen is None:
        return "not seen"
    age_s = max(0.0, ((now_ms or int(time.time() * 1000)) - seen) / 1000)
    if age_s <= LIVE_FOR_S:
        return "live"
    if age_s < 3600:
        return f"last seen {age_s / 60:.0f} min ago"
    if age_s < 86_400:
        return f"last seen {age_s / 3600:.0f} h ago"
    return f"last seen {age_s / 86_400:.0f} d ago"


__all__ = ["HEARTBEAT_S", "LIVE_FOR_S", "Presence", "liveness"]
