"""The model registry over HTTP, generated from the :class:`~keel.store.protocols.Registry`
protocol and :data:`keel.store.wire_routes.ROUTES`. Written here: registering a version,
which quotes the upload receipt of its package blob (proof that this client sent the
bytes, see ``PUT /api/v1/blobs``).
"""

from __future__ import annotations

from keel.store.protocols import Registry
from keel.store.registry import ModelVersion, NewVersion
from keel.store.remote._generate import remote_repository
from keel.store.remote._http import Http
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
        data = self._http.post(f"/api/v1/projects/{int(project_id)}/models/versions", body)
        return load(ModelVersion, data)


RemoteRegistry = remote_repository(Registry, ROUTES["registry"], _Registry)

__all__ = ["RemoteRegistry"]
