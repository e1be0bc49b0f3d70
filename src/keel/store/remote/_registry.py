"""The model registry over HTTP: every public method of the SQL one, one request each.

Like the other remote repositories it subclasses its SQL counterpart only to share its
type, and never calls the SQL code. Registering a version quotes the upload receipt of
its package blob, which proves this client sent the bytes (see ``PUT /api/v1/blobs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel.store.registry import ModelVersion, NewVersion, RegisteredModel, RegistryRepository
from keel.store.remote import codec
from keel.store.remote._http import Http

V1 = "/api/v1"


class RemoteRegistryRepository(RegistryRepository):
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
        return codec.to_registered_model(self._http.post(self._models(project_id), body))

    def get_or_create_model(self, project_id: int, name: str) -> RegisteredModel:
        data = self._http.post(self._models(project_id, "/get-or-create"), {"name": name})
        return codec.to_registered_model(data)

    def get_model(self, project_id: int, name: str) -> RegisteredModel:
        data = self._http.get(self._models(project_id, "/lookup"), name=name)
        return codec.to_registered_model(data)

    def list_models(self, project_id: int) -> list[RegisteredModel]:
        data = self._http.get(self._models(project_id))
        return [codec.to_registered_model(m) for m in data["models"]]

    def update_model(self, project_id: int, name: str, *, description: str) -> RegisteredModel:
        body = {"name": name, "description": description}
        return codec.to_registered_model(self._http.patch(self._models(project_id), body))

    def set_model_tags(self, project_id: int, name: str, tags: Mapping[str, str]) -> None:
        body = {"name": name, "tags": {k: str(v) for k, v in tags.items()}}
        self._http.post(self._models(project_id, "/tags"), body)

    def delete_model_tag(self, project_id: int, name: str, key: str) -> None:
        self._http.delete(self._models(project_id, "/tags"), name=name, key=key)

    def rename_model(self, project_id: int, name: str, new_name: str) -> RegisteredModel:
        body = {"name": name, "new_name": new_name}
        return codec.to_registered_model(self._http.post(self._models(project_id, "/rename"), body))

    def delete_model(self, project_id: int, name: str) -> None:
        self._http.delete(self._models(project_id), name=name)

    # -- versions --------------------------------------------------------------------------
    def create_version(self, project_id: int, name: str, new: NewVersion) -> ModelVersion:
        body = {
            "name": name,
            "receipt": self._http.receipt(new.blob_sha),
            **codec.new_version(new),
        }
        data = self._http.post(self._models(project_id, "/versions"), body)
        return codec.to_model_version(data)

    def get_version_by_id(self, version_id: int) -> ModelVersion:
        return codec.to_model_version(self._http.get(self._version_path(version_id)))

    def get_version(self, project_id: int, name: str, version: int) -> ModelVersion:
        data = self._http.get(self._models(project_id, "/version"), name=name, version=version)
        return codec.to_model_version(data)

    def get_by_alias(self, project_id: int, name: str, alias: str) -> ModelVersion:
        data = self._http.get(self._models(project_id, "/alias"), name=name, alias=alias)
        return codec.to_model_version(data)

    def latest_version(self, project_id: int, name: str) -> ModelVersion:
        return codec.to_model_version(
            self._http.get(self._models(project_id, "/latest"), name=name)
        )

    def versions(self, project_id: int, name: str) -> list[ModelVersion]:
        data = self._http.get(self._models(project_id, "/versions"), name=name)
        return [codec.to_model_version(v) for v in data["versions"]]

    def update_version(
        self,
        version_id: int,
        *,
        description: str | None = None,
        card: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        body = {
            "description": description,
            "card": None if card is None else codec.jsonable(card),
        }
        return codec.to_model_version(self._http.patch(self._version_path(version_id), body))

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
        data = self._http.request("PUT", self._models(project_id, "/alias"), json=body)
        return codec.to_model_version(data)

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
        return [codec.to_model_version(v) for v in data["versions"]]


__all__ = ["RemoteRegistryRepository"]
