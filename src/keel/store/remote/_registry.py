"""The model registry over HTTP: the :class:`~keel.store.protocols.Registry` protocol,
one request each. Registering a version quotes the upload receipt of
its package blob, which proves this client sent the bytes (see ``PUT /api/v1/blobs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel.store.registry import ModelVersion, NewVersion, RegisteredModel
from keel.store.remote._http import Http
from keel.store.wire import jsonable, load

V1 = "/api/v1"


class RemoteRegistryRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _models(self, project_id: int, tail: str = "") -> str:
        return f"{V1}/projects/{int(project_id)}/models{tail}"

    @staticmethod
    def _version_path(version_id: int, tail: str = "") -> str:
        return f"{V1}/model-versions/{int(version_id)}{tail}"

    # -- registered models -----------------------------------------------------------------
    def create_model(
        self,
        project_id: int,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        body = {
            "name": name,
            "description": description,
            "tags": {k: str(v) for k, v in (tags or {}).items()},
        }
        return load(RegisteredModel, self._http.post(self._models(project_id), body))

    def get_or_create_model(self, project_id: int, name: str) -> RegisteredModel:
        data = self._http.post(self._models(project_id, "/get-or-create"), {"name": name})
        return load(RegisteredModel, data)

    def get_model(self, project_id: int, name: str) -> RegisteredModel:
        data = self._http.get(self._models(project_id, "/lookup"), name=name)
        return load(RegisteredModel, data)

    def list_models(self, project_id: int) -> list[RegisteredModel]:
        data = self._http.get(self._models(project_id))
        return load(list[RegisteredModel], data["models"])

    def update_model(self, project_id: int, name: str, *, description: str) -> RegisteredModel:
        body = {"name": name, "description": description}
        return load(RegisteredModel, self._http.patch(self._models(project_id), body))

    def set_model_tags(self, project_id: int, name: str, tags: Mapping[str, str]) -> None:
        body = {"name": name, "tags": {k: str(v) for k, v in tags.items()}}
        self._http.post(self._models(project_id, "/tags"), body)

    def delete_model_tag(self, project_id: int, name: str, key: str) -> None:
        self._http.delete(self._models(project_id, "/tags"), name=name, key=key)

    def rename_model(self, project_id: int, name: str, new_name: str) -> RegisteredModel:
        body = {"name": name, "new_name": new_name}
        return load(RegisteredModel, self._http.post(self._models(project_id, "/rename"), body))

    def delete_model(self, project_id: int, name: str) -> None:
        self._http.delete(self._models(project_id), name=name)

    # -- versions --------------------------------------------------------------------------
    def create_version(self, project_id: int, name: str, new: NewVersion) -> ModelVersion:
        body = {
            "name": name,
            "receipt": self._http.receipt(new.blob_sha),
            **jsonable(new),
            "tags": {k: str(v) for k, v in new.tags.items()},
        }
        data = self._http.post(self._models(project_id, "/versions"), body)
        return load(ModelVersion, data)

    def get_version_by_id(self, version_id: int) -> ModelVersion:
        return load(ModelVersion, self._http.get(self._version_path(version_id)))

    def get_version(self, project_id: int, name: str, version: int) -> ModelVersion:
        data = self._http.get(self._models(project_id, "/version"), name=name, version=version)
        return load(ModelVersion, data)

    def get_by_alias(self, project_id: int, name: str, alias: str) -> ModelVersion:
        data = self._http.get(self._models(project_id, "/alias"), name=name, alias=alias)
        return load(ModelVersion, data)

    def latest_version(self, project_id: int, name: str) -> ModelVersion:
        return load(ModelVersion, self._http.get(self._models(project_id, "/latest"), name=name))

    def versions(self, project_id: int, name: str) -> list[ModelVersion]:
        data = self._http.get(self._models(project_id, "/versions"), name=name)
        return load(list[ModelVersion], data["versions"])

    def update_version(
        self,
        version_id: int,
        *,
        description: str | None = None,
        card: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        body = {
            "description": description,
            "card": None if card is None else dict(card),
        }
        return load(ModelVersion, self._http.patch(self._version_path(version_id), body))

    def set_version_tags(self, version_id: int, tags: Mapping[str, str]) -> None:
        body = {"tags": {k: str(v) for k, v in tags.items()}}
        self._http.post(self._version_path(version_id, "/tags"), body)

    def delete_version_tag(self, version_id: int, key: str) -> None:
        self._http.delete(self._version_path(version_id, "/tags"), key=key)

    def delete_version(self, version_id: int) -> None:
        self._http.delete(self._version_path(version_id))

    # -- aliases ---------------------------------------------------------------------------
    def set_alias(self, project_id: int, name: str, alias: str, version_id: int) -> ModelVersion:
        body = {"name": name, "alias": alias, "version_id": version_id}
        data = self._http.put(self._models(project_id, "/alias"), body)
        return load(ModelVersion, data)

    def delete_alias(self, project_id: int, name: str, alias: str) -> None:
        self._http.delete(self._models(project_id, "/alias"), name=name, alias=alias)

    # -- search ----------------------------------------------------------------------------
    def search_versions(
        self,
        project_id: int,
        filter_string: str | None = None,
        *,
        max_results: int = 1000,
    ) -> list[ModelVersion]:
        body = {"filter": filter_string, "max_results": max_results}
        data = self._http.post(f"{V1}/projects/{int(project_id)}/model-versions/search", body)
        return load(list[ModelVersion], data["versions"])


__all__ = ["RemoteRegistryRepository"]
