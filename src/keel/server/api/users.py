"""``/api/v1/users``: accounts (administrators) and API tokens (everyone, their own)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, StringConstraints

from keel.exceptions import NotFoundError
from keel.server._auth import Principal, authenticated, site_admin
from keel.server._json import JSON
from keel.server._state import AppState, state
from keel.server._types import Id, Millis, Name
from keel.store.users import ApiToken, User

router = APIRouter(prefix="/api/v1/users", tags=["users"])
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserIn(BaseModel):
    name: Name
    password: Password | None = None
    is_admin: bool = False


class UserPatch(BaseModel):
    password: Password | None = None
    is_admin: bool | None = None
    is_active: bool | None = None


class TokenIn(BaseModel):
    name: Name
    expires_at: Millis | None = None


def user_json(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "is_admin": u.is_admin,
        "is_active": u.is_active,
        "created_at": u.created_at,
    }


def token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "last_used_at": t.last_used_at,
        "revoked": t.revoked,
    }


@router.get("/me")
def whoami(who: Principal = Depends(authenticated)) -> JSON:
    if who.user is None:
        return JSON({"user": None, "is_admin": True, "auth": False})
    return JSON({"user": user_json(who.user), "is_admin": who.is_admin, "auth": True})


@router.get("")
def list_users(_: Principal = Depends(site_admin), st: AppState = Depends(state)) -> JSON:
    return JSON({"users": [user_json(u) for u in st.store.users.list_users()]})


@router.post("")
def create_user(
    body: UserIn, _: Principal = Depends(site_admin), st: AppState = Depends(state)
) -> JSON:
    user = st.store.users.create_user(body.name, password=body.password, is_admin=body.is_admin)
    return JSON(user_json(user))


@router.patch("/{name}")
def update_user(
    name: Name, body: UserPatch, _: Principal = Depends(site_admin), st: AppState = Depends(state)
) -> JSON:
    user = st.store.users.update_user(
        name, password=body.password, is_admin=body.is_admin, is_active=body.is_active
    )
    return JSON(user_json(user))


@router.delete("/{name}")
def delete_user(
    name: Name, _: Principal = Depends(site_admin), st: AppState = Depends(state)
) -> JSON:
    st.store.users.delete_user(name)
    return JSON({})


@router.get("/me/tokens")
def list_my_tokens(who: Principal = Depends(authenticated), st: AppState = Depends(state)) -> JSON:
    user = _me(who)
    return JSON({"tokens": [token_json(t) for t in st.store.users.list_tokens(user.id)]})


@router.post("/me/tokens")
def create_my_token(
    body: TokenIn, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> JSON:
    """A new token for the caller; its secret is in this answer and never again."""
    token, secret = st.store.users.create_token(_me(who).id, body.name, expires_at=body.expires_at)
    return JSON({"token": token_json(token), "secret": secret})


@router.delete("/me/tokens/{token_id}")
def revoke_my_token(
    token_id: Id, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> JSON:
    user = _me(who)
    token = st.store.users.get_token(token_id)
    if token.user_id != user.id:
        raise NotFoundError(f"token id {token_id} does not exist")
    st.store.users.revoke_token(token_id)
    return JSON({})


@router.post("/{name}/tokens")
def create_token_for(
    name: Name, body: TokenIn, _: Principal = Depends(site_admin), st: AppState = Depends(state)
) -> JSON:
    user = st.store.users.get_user(name)
    token, secret = st.store.users.create_token(user.id, body.name, expires_at=body.expires_at)
    return JSON({"token": token_json(token), "secret": secret})


def _me(who: Principal) -> User:
    if who.user is None:
        raise NotFoundError(
            "authentication is off on this server, so there is no user to hold tokens; "
            "start it with --auth"
        )
    return who.user
