"""Users, comments and logged models over HTTP, generated from their protocols and
:data:`keel.store.wire_routes.ROUTES`.

Written here: what addresses a user by id (the API names users by name, so these look the
name up first) and project members (rows carry the project only in the path). The server
records a comment's author from the caller's token when authentication is on.
"""

from __future__ import annotations

import builtins
from urllib.parse import quote

from keel.store._area_values import ApiToken, Membership, Role
from keel.store.protocols import Comments, LoggedModels, Users
from keel.store.remote._generate import remote_repository
from keel.store.remote._http import V1, Http
from keel.store.wire import load
from keel.store.wire_routes import ROUTES


class _Users(Users):
    _http: Http

    def _name(self, user_id: int) -> str:
        return quote(str(self._http.get(f"{V1}/users/by-id/{int(user_id)}")["name"]), safe="")

    def _member(self, project_id: int, user_id: int) -> str:
        return f"{V1}/projects/{int(project_id)}/members/{self._name(user_id)}"

    def create_token(
        self, user_id: int, name: str, *, expires_at: int | None = None
    ) -> tuple[ApiToken, str]:
        path = f"{V1}/users/{self._name(user_id)}/tokens"
        data = self._http.post(path, {"name": name, "expires_at": expires_at})
        return load(ApiToken, data["token"]), str(data["secret"])

    def list_tokens(self, user_id: int) -> builtins.list[ApiToken]:
        return load(
            list[ApiToken], self._http.get(f"{V1}/users/{self._name(user_id)}/tokens")["tokens"]
        )

    def set_role(self, project_id: int, user_id: int, role: Role | str) -> Membership:
        out = self._http.put(self._member(project_id, user_id), {"role": str(role)})
        return Membership(int(project_id), out["user_id"], out["user"], Role(out["role"]))

    def remove_member(self, project_id: int, user_id: int) -> None:
        self._http.delete(self._member(project_id, user_id))

    def members(self, project_id: int) -> builtins.list[Membership]:
        data = self._http.get(f"{V1}/projects/{int(project_id)}/members")["members"]
        return [Membership(int(project_id), m["user_id"], m["user"], Role(m["role"])) for m in data]


RemoteUsers = remote_repository(Users, ROUTES["users"], _Users)
RemoteComments = remote_repository(Comments, ROUTES["comments"])
RemoteLoggedModels = remote_repository(LoggedModels, ROUTES["logged_models"])

__all__ = ["RemoteComments", "RemoteLoggedModels", "RemoteUsers"]
