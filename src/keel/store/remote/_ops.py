"""The registry, deployments, monitors and alerts over HTTP, generated from their protocols
and :data:`keel.store.wire_routes.ROUTES`.

Written here: claiming and finishing notification deliveries lease rows in the server's database for
the process that sends them, so those two stay where the database is and raise a
:class:`~keel.exceptions.ConfigError` here.
"""

from __future__ import annotations

from keel.store.protocols import Alerts, Deployments, Monitors, Registry
from keel.store.remote._generate import ServerOnly, remote_repository
from keel.store.wire_routes import ROUTES

_LEASES = (
    "store.alerts.{} leases notification deliveries in the server's database, so it runs "
    "only where that database is: run `keel alerts deliver` on the server host without "
    "KEEL_SERVER_URL set"
)


class _Alerts:
    claim_due = ServerOnly(_LEASES.format("claim_due"))
    finish_delivery = ServerOnly(_LEASES.format("finish_delivery"))


RemoteRegistry = remote_repository(Registry, ROUTES["registry"])
RemoteDeployments = remote_repository(Deployments, ROUTES["deployments"])
RemoteMonitors = remote_repository(Monitors, ROUTES["monitors"])
RemoteAlerts = remote_repository(Alerts, ROUTES["alerts"], _Alerts)

__all__ = ["RemoteAlerts", "RemoteDeployments", "RemoteMonitors", "RemoteRegistry"]
