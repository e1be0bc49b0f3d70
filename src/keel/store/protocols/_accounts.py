"""Users, the server's credentials, comments and MLflow 3 logged models.

Part of :mod:`keel.store.protocols` (import them from there)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from keel.store.entities import (
    ArtifactInfo,
)

if TYPE_CHECKING:
    from keel.store.blobs import BlobRef
    from keel.store.comments import Comment
    from keel.store.logged_models import LoggedModel
    from keel.store.users import ApiToken, Membership, Role, User


class Users(Protocol):
    """Accounts, API tokens and project roles: administration. What the server checks on
    each request (tokens, passwords, roles, its keys) is :class:`Credentials`."""

    def create_user(
        self, name: str, *, password: str | None = None, is_admin: bool = False
    ) -> User: ...
    def get_user(self, name: str) -> User: ...
    def list_users(self) -> builtins.list[User]: ...
    def update_user(
        self,
        name: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
    ) -> User: ...
    def delete_user(self, name: str) -> None: ...
    def create_token(
        self, user_id: int, name: str, *, expires_at: int | None = None
    ) -> tuple[ApiToken, str]: ...
    def list_tokens(self, user_id: int) -> builtins.list[ApiToken]: ...
    def revoke_token(self, token_id: int) -> None: ...
    def set_role(self, project_id: int, user_id: int, role: Role | str) -> Membership: ...
    def remove_member(self, project_id: int, user_id: int) -> None: ...
    def members(self, project_id: int) -> builtins.list[Membership]: ...


class Credentials(Protocol):
    """The server's per-request checks. SQL only (a client sends its token and the server
    answers 401/403/404), like :class:`Ownership`."""

    def verify_password(self, name: str, password: str) -> User | None: ...
    def authenticate_token(self, secret: str) -> User | None: ...
    def role_of(self, project_id: int, user_id: int) -> Role | None: ...
    def memberships(self, user_id: int) -> dict[int, Role]: ...
    def server_key(self, name: str) -> bytes: ...


class Comments(Protocol):
    """Markdown comments on runs, model versions and comparisons of one project."""

    def add(
        self,
        project_id: int,
        subject_kind: str,
        subject_id: str,
        body: str,
        *,
        author: str = "",
        context: str = "",
    ) -> Comment: ...
    def get(self, project_id: int, comment_id: int) -> Comment: ...
    def list(
        self, project_id: int, subject_kind: str, subject_id: str
    ) -> builtins.list[Comment]: ...
    def delete(self, project_id: int, comment_id: int) -> None: ...


class LoggedModels(Protocol):
    """MLflow 3 logged models: create, finalize, tag, search, delete; index their files."""

    def create(
        self,
        experiment_id: int,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str = "",
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel: ...
    def get(self, model_id: str) -> LoggedModel: ...
    def finalize(self, model_id: str, status: str) -> LoggedModel: ...
    def set_tags(self, model_id: str, tags: Mapping[str, str]) -> LoggedModel: ...
    def delete_tag(self, model_id: str, key: str) -> None: ...
    def log_params(self, model_id: str, params: Mapping[str, str]) -> LoggedModel: ...
    def delete(self, model_id: str) -> None: ...
    def search(
        self,
        experiment_ids: Sequence[int],
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        max_results: int = 100,
        offset: int = 0,
    ) -> tuple[builtins.list[LoggedModel], bool]: ...
    def add_files(
        self, model_id: str, items: builtins.list[tuple[str, BlobRef]]
    ) -> builtins.list[ArtifactInfo]: ...
    def list_files(
        self, model_id: str, prefix: str | None = None
    ) -> builtins.list[ArtifactInfo]: ...
    def delete_files(self, model_id: str, path: str) -> int: ...
