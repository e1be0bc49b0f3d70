"""The registry, deployments, monitors and alerts over HTTP, generated from their protocols
and :data:`keel.store.wire_routes.ROUTES`.

Written here: registering a model version, which quotes the upload receipt of its package
blob (proof that this client sent the bytes, see ``PUT /api/v1/blobs``).
Claiming and finishing notification deliveries lease rows in the server's database for
the process that sends them, so those two stay where the database is and raise a
:class:`~keel.exceptions.ConfigError` here.
"""

from __future__ import annotations

from keel.store.protocols import Alerts, Deployments, Monitors, Registry
from keel.store.registry import ModelVersion, NewVersion
from keel.store.remote._generate import ServerOnly, remote_repository
from keel.store.remote._http import V1, Http
from keel.store.wire import jsonable, load
from keel.store.wire_routes import ROUTES


class _Registry(Registry):
    _http: Http

    def create_version(self, project_id: int, name: str, new: NewVersion) -> ModelVersion:
        body = {
            "name": name,
            "receipt": self._http.receipt(new.blob_sha),
            **jsonable(new),
            "tags": {k: str(v) for k, v in new.tags.items()},
        }
        data = self._http.post(f"{V1}/projects/{int(project_id)}/models/versions", body)
        return load(ModelVersion, data)


_LEASES = (
    "store.alerts.{} leases notification deliveries in the server's database, so it runs "
    "only where that database is: run `keel alerts deliver` on the server host without "
    "KEEL_SERVER_URL set"
)


class _Alerts:
    claim_due = ServerOnly(_LEASES.format("claim_due"))
    finish_delivery = ServerOnly(_LEASES.format("finish_delivery"))


RemoteRegistry = remote_repository(Registry, ROUTES["registry"], _Registry)
RemoteDeployments = remote_repository(Deployments, ROUTES["deployments"])
RemoteMonitors = remote_repository(Monitors, ROUTES["monitors"])
RemoteAlerts = remote_repository(Alerts, ROUTES["alerts"], _Alerts)

__all__ = ["RemoteAlerts", "RemoteDeployments", "RemoteMonitors", "RemoteRegistry"]
