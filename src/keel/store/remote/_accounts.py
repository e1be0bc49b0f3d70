"""Users, comments and logged models over HTTP, beside their SQL repositories.

Each class implements its protocol (:mod:`keel.store.protocols`) and inherits nothing from
the SQL side. The server records a comment's author from the caller's token when
authentication is on; logged-model files reference blobs already uploaded with a receipt,
like run artifacts.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from keel.store.blobs import BlobRef
from keel.store.comments import Comment
from keel.store.entities import ArtifactInfo
from keel.store.logged_models import LoggedModel
from keel.store.remote._http import Http
from keel.store.remote._repos import receipted
from keel.store.users import ApiToken, Membership, Role, User
from keel.store.wire import load

V1 = "/api/v1"


def _q(value: str | int) -> str:
    return quote(str(value), safe="")


class RemoteUserRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _name(self, user_id: int) -> str:
        return str(self._http.get(f"{V1}/users/by-id/{int(user_id)}")["name"])

    def create_user(
        self, name: str, *, password: str | None = None, is_admin: bool = False
    ) -> User:
        body = {"name": name, "password": password, "is_admin": is_admin}
        return load(User, self._http.post(f"{V1}/users", body))

    def get_user(self, name: str) -> User:
        return load(User, self._http.get(f"{V1}/users/{_q(name)}"))

    def list_users(self) -> builtins.list[User]:
        return load(list[User], self._http.get(f"{V1}/users")["users"])

    def update_user(
        self,
        name: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
    ) -> User:
        body = {"password": password, "is_admin": is_admin, "is_active": is_active}
        return load(User, self._http.patch(f"{V1}/users/{_q(name)}", body))

    def delete_user(self, name: str) -> None:
        self._http.delete(f"{V1}/users/{_q(name)}")

    def create_token(
        self, user_id: int, name: str, *, expires_at: int | None = None
    ) -> tuple[ApiToken, str]:
        path = f"{V1}/users/{_q(self._name(user_id))}/tokens"
        data = self._http.post(path, {"name": name, "expires_at": expires_at})
        return load(ApiToken, data["token"]), str(data["secret"])

    def list_tokens(self, user_id: int) -> builtins.list[ApiToken]:
        data = self._http.get(f"{V1}/users/{_q(self._name(user_id))}/tokens")
        return load(list[ApiToken], data["tokens"])

    def revoke_token(self, token_id: int) -> None:
        self._http.delete(f"{V1}/users/tokens/{int(token_id)}")

    def set_role(self, project_id: int, user_id: int, role: Role | str) -> Membership:
        path = f"{V1}/projects/{int(project_id)}/members/{_q(self._name(user_id))}"
        out = self._http.put(path, {"role": str(role)})
        return Membership(int(project_id), out["user_id"], out["user"], Role(out["role"]))

    def remove_member(self, project_id: int, user_id: int) -> None:
        self._http.delete(f"{V1}/projects/{int(project_id)}/members/{_q(self._name(user_id))}")

    def members(self, project_id: int) -> builtins.list[Membership]:
        data = self._http.get(f"{V1}/projects/{int(project_id)}/members")["members"]
        return [Membership(int(project_id), m["user_id"], m["user"], Role(m["role"])) for m in data]


class RemoteCommentRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def add(
        self,
        project_id: int,
        subject_kind: str,
        subject_id: str,
        body: str,
        *,
        author: str = "",
        context: str = "",
    ) -> Comment:
        sent = {
            "subject_kind": subject_kind,
            "subject_id": subject_id,
            "body": body,
            "author": author,
            "context": context,
        }
        return load(Comment, self._http.post(f"{V1}/projects/{int(project_id)}/comments", sent))

    def get(self, project_id: int, comment_id: int) -> Comment:
        path = f"{V1}/projects/{int(project_id)}/comments/{int(comment_id)}"
        return load(Comment, self._http.get(path))

    def list(self, project_id: int, subject_kind: str, subject_id: str) -> builtins.list[Comment]:
        data = self._http.get(
            f"{V1}/projects/{int(project_id)}/comments",
            subject_kind=subject_kind,
            subject_id=subject_id,
        )
        return load(list[Comment], data["comments"])

    def delete(self, project_id: int, comment_id: int) -> None:
        self._http.delete(f"{V1}/projects/{int(project_id)}/comments/{int(comment_id)}")


class RemoteLoggedModelRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _path(self, model_id: str, tail: str = "") -> str:
        return f"{V1}/logged-models/{_q(model_id)}{tail}"

    def create(
        self,
        experiment_id: int,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str = "",
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "source_run_id": source_run_id,
            "model_type": model_type,
            "params": dict(params or {}),
            "tags": dict(tags or {}),
        }
        return load(LoggedModel, self._http.post(f"{V1}/logged-models", body))

    def get(self, model_id: str) -> LoggedModel:
        return load(LoggedModel, self._http.get(self._path(model_id)))

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        return load(
            LoggedModel, self._http.post(self._path(model_id, "/finalize"), {"status": status})
        )

    def set_tags(self, model_id: str, tags: Mapping[str, str]) -> LoggedModel:
        return load(
            LoggedModel, self._http.post(self._path(model_id, "/tags"), {"items": dict(tags)})
        )

    def delete_tag(self, model_id: str, key: str) -> None:
        self._http.delete(self._path(model_id, "/tags"), key=key)

    def log_params(self, model_id: str, params: Mapping[str, str]) -> LoggedModel:
        body = {"items": dict(params)}
        return load(LoggedModel, self._http.post(self._path(model_id, "/params"), body))

    def delete(self, model_id: str) -> None:
        self._http.delete(self._path(model_id))

    def search(
        self,
        experiment_ids: Sequence[int],
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        max_results: int = 100,
        offset: int = 0,
    ) -> tuple[builtins.list[LoggedModel], bool]:
        body = {
            "experiment_ids": [int(i) for i in experiment_ids],
            "name": name,
            "source_run_id": source_run_id,
            "max_results": max_results,
            "offset": offset,
        }
        data = self._http.post(f"{V1}/logged-models/search", body)
        return load(list[LoggedModel], data["models"]), bool(data["has_more"])

    def add_files(
        self, model_id: str, items: builtins.list[tuple[str, BlobRef]]
    ) -> builtins.list[ArtifactInfo]:
        body = {"items": receipted(self._http, [(p, r.sha) for p, r in items])}
        data = self._http.post(self._path(model_id, "/files"), body)
        return load(list[ArtifactInfo], data["files"])

    def list_files(self, model_id: str, prefix: str | None = None) -> builtins.list[ArtifactInfo]:
        data = self._http.get(self._path(model_id, "/files"), prefix=prefix)
        return load(list[ArtifactInfo], data["files"])

    def delete_files(self, model_id: str, path: str) -> int:
        return int(self._http.delete(self._path(model_id, "/files"), path=path)["deleted"])


__all__ = ["RemoteCommentRepository", "RemoteLoggedModelRepository", "RemoteUserRepository"]
