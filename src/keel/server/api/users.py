"""``/api/v1/users``: accounts (administrators) and API tokens (everyone, their own)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, StringConstraints

from keel.exceptions import NotFoundError
from keel.server._auth import Principal, authenticated, site_admin
from keel.server._state import AppState, state
from keel.server._types import Id, Millis, Name
from keel.store.users import ApiToken, User
from keel.store.wire import Empty, envelope

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


class Me(BaseModel):
    user: User | None
    is_admin: bool
    auth: bool


class NewToken(BaseModel):
    """A token's metadata and its secret, which no later answer shows again."""

    token: ApiToken
    secret: str


async def admin_state(
    _: Principal = Depends(site_admin), st: AppState = Depends(state)
) -> AppState:
    """The server's state, for a site administrator only."""
    return st


@router.get("/me")
def whoami(who: Principal = Depends(authenticated)) -> Me:
    if who.user is None:
        return Me(user=None, is_admin=True, auth=False)
    return Me(user=who.user, is_admin=who.is_admin, auth=True)


@router.get("", response_model=envelope("users", list[User]))
def list_users(st: AppState = Depends(admin_state)) -> dict[str, Any]:
    return {"users": st.store.users.list_users()}


@router.post("")
def create_user(body: UserIn, st: AppState = Depends(admin_state)) -> User:
    return st.store.users.create_user(body.name, password=body.password, is_admin=body.is_admin)


@router.patch("/{name}")
def update_user(name: Name, body: UserPatch, st: AppState = Depends(admin_state)) -> User:
    return st.store.users.update_user(
        name, password=body.password, is_admin=body.is_admin, is_active=body.is_active
    )


@router.delete("/{name}")
def delete_user(name: Name, st: AppState = Depends(admin_state)) -> Empty:
    st.store.users.delete_user(name)
    return Empty()


@router.get("/me/tokens", response_model=envelope("tokens", list[ApiToken]))
def list_my_tokens(
    who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> dict[str, Any]:
    return {"tokens": st.store.users.list_tokens(_me(who).id)}


@router.post("/me/tokens")
def create_my_token(
    body: TokenIn, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> NewToken:
    """A new token for the caller; its secret is in this answer and never again."""
    token, secret = st.store.users.create_token(_me(who).id, body.name, expires_at=body.expires_at)
    return NewToken(token=token, secret=secret)


@router.delete("/me/tokens/{token_id}")
def revoke_my_token(
    token_id: Id, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> Empty:
    if token_id not in {t.id for t in st.store.users.list_tokens(_me(who).id)}:
        raise NotFoundError(f"token id {token_id} does not exist")
    st.store.users.revoke_token(token_id)
    return Empty()


@router.post("/{name}/tokens")
def create_token_for(name: Name, body: TokenIn, st: AppState = Depends(admin_state)) -> NewToken:
    user = st.store.users.get_user(name)
    token, secret = st.store.users.create_token(user.id, body.name, expires_at=body.expires_at)
    return NewToken(token=token, secret=secret)


@router.get("/by-id/{user_id}")
def get_user_by_id(
    user_id: Id, _: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> User:
    """A user's name by id (what a project admin needs to grant a role by id)."""
    found = [u for u in st.store.users.list_users() if u.id == user_id]
    if not found:
        raise NotFoundError(f"user id {user_id} does not exist")
    return found[0]


@router.get("/{name}")
def get_user(name: Name, st: AppState = Depends(admin_state)) -> User:
    return st.store.users.get_user(name)


@router.get("/{name}/tokens", response_model=envelope("tokens", list[ApiToken]))
def list_tokens_of(name: Name, st: AppState = Depends(admin_state)) -> dict[str, Any]:
    return {"tokens": st.store.users.list_tokens(st.store.users.get_user(name).id)}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Id, st: AppState = Depends(admin_state)) -> Empty:
    st.store.users.revoke_token(token_id)
    return Empty()


def _me(who: Principal) -> User:
    if who.user is None:
        raise NotFoundError(
            "authentication is off on this server, so there is no user to hold tokens; "
            "start it with --auth"
        )
    return who.user
