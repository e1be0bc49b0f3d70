"""Users, API tokens and project roles (GitLab-style reader < writer < admin).

This is account administration (the :class:`~keel.store.protocols.Users` protocol, with
an HTTP twin); what the server checks on each request is in :mod:`keel.store.credentials`.

Secrets are stored as digests only. A token is ``keel_`` plus 32 random bytes, shown once
by :meth:`UserRepository.create_token`; it is looked up by its sha256 digest and compared
in constant time. Passwords use scrypt with a per-user salt. Thread-safe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store._area_values import ApiToken, Membership, Role, User
from keel.store._db import SqlRepository, given, now_ms
from keel.store._rows import entity
from keel.store._schema import table
from keel.store._schema_auth import ApiTokenRow, ProjectMemberRow, ServerKeyRow, UserRow
from keel.store._upsert import upsert
from keel.store._validate import check_name

U = table(UserRow)
K = table(ApiTokenRow)
PM = table(ProjectMemberRow)
SK = table(ServerKeyRow)

TOKEN_PREFIX = "keel_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_LAST_USED_EVERY_MS = 10 * 60 * 1000
MIN_PASSWORD = 12


def _user(row: Row) -> User:
    return entity(User, row, is_admin=bool(row.is_admin), is_active=bool(row.is_active))


def _token(row: Row) -> ApiToken:
    return entity(ApiToken, row, revoked=bool(row.revoked))


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time comparison of ``password`` with a :func:`hash_password` string."""
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
        salt = base64.urlsafe_b64decode(salt_b64)
        expected = base64.urlsafe_b64decode(digest_b64)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, **_SCRYPT)
    return hmac.compare_digest(got, expected)


class UserRepository(SqlRepository):
    """Create users, issue and check tokens, and grant project roles."""

    # -- users -----------------------------------------------------------------------------
    def create_user(
        self, name: str, *, password: str | None = None, is_admin: bool = False
    ) -> User:
        check_name("user", name)
        if password is not None and len(password) < MIN_PASSWORD:
            raise InvalidArgumentError(
                f"the password for {name!r} is {len(password)} characters; use at least "
                f"{MIN_PASSWORD} (or no password, and sign in with a token)"
            )
        self._db.insert_new(
            insert(U).values(
                name=name,
                password_hash=hash_password(password) if password else "",
                is_admin=is_admin,
                is_active=True,
                created_at=now_ms(),
            ),
            f"user {name!r} already exists; pick another name",
        )
        return self.get_user(name)

    def get_user(self, name: str) -> User:
        query = select(U).where(U.c.name == name)
        return _user(
            self._db.one(
                query, f"user {name!r} does not exist; create it with `keel server users create`"
            )
        )

    def _user_by_id(self, user_id: int) -> User:
        return _user(
            self._db.one(select(U).where(U.c.id == user_id), f"user id {user_id} does not exist")
        )

    def list_users(self) -> list[User]:
        with self._db.read() as conn:
            return [_user(r) for r in conn.execute(select(U).order_by(U.c.name))]

    def update_user(
        self,
        name: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
    ) -> User:
        values = given(is_admin=is_admin, is_active=is_active)
        if password is not None:
            if len(password) < MIN_PASSWORD:
                raise InvalidArgumentError(
                    f"the password must have at least {MIN_PASSWORD} characters"
                )
            values["password_hash"] = hash_password(password)
        user = self.get_user(name)
        if values:
            with self._db.write() as conn:
                conn.execute(update(U).where(U.c.id == user.id).values(**values))
        return self.get_user(name)

    def delete_user(self, name: str) -> None:
        self._db.change(delete(U).where(U.c.name == name), f"user {name!r} does not exist")

    # -- tokens ----------------------------------------------------------------------------
    def create_token(
        self, user_id: int, name: str, *, expires_at: int | None = None
    ) -> tuple[ApiToken, str]:
        """A new token and its secret; the secret is returned this once and never again."""
        check_name("token", name)
        self._user_by_id(user_id)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.write() as conn:
            token_id = conn.execute(
                insert(K)
                .values(
                    user_id=user_id,
                    name=name,
                    digest=token_digest(secret),
                    prefix=secret[: len(TOKEN_PREFIX) + 4],
                    created_at=now_ms(),
                    expires_at=expires_at,
                    last_used_at=None,
                    revoked=False,
                )
                .returning(K.c.id)
            ).scalar_one()
            row = conn.execute(select(K).where(K.c.id == token_id)).one()
        return _token(row), secret

    def list_tokens(self, user_id: int) -> list[ApiToken]:
        with self._db.read() as conn:
            rows = conn.execute(select(K).where(K.c.user_id == user_id).order_by(K.c.id)).all()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: int) -> None:
        self._db.change(
            update(K).where(K.c.id == token_id).values(revoked=True),
            f"token id {token_id} does not exist",
        )

    # -- project roles ---------------------------------------------------------------------
    def set_role(self, project_id: int, user_id: int, role: Role | str) -> Membership:
        role = parse_role(role)
        user = self._user_by_id(user_id)
        try:
            with self._db.write() as conn:
                upsert(
                    conn,
                    PM,
                    [{"project_id": project_id, "user_id": user_id, "role": role.value}],
                    keys=("project_id", "user_id"),
                    update=("role",),
                )
        except IntegrityError as exc:
            raise NotFoundError(f"project id {project_id} does not exist") from exc
        return Membership(project_id, user_id, user.name, role)

    def remove_member(self, project_id: int, user_id: int) -> None:
        self._db.change(
            delete(PM).where(PM.c.project_id == project_id, PM.c.user_id == user_id),
            f"user id {user_id} is not a member of project id {project_id}",
        )

    def members(self, project_id: int) -> list[Membership]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(PM.c.project_id, PM.c.user_id, U.c.name, PM.c.role)
                .join(U, U.c.id == PM.c.user_id)
                .where(PM.c.project_id == project_id)
                .order_by(U.c.name)
            ).all()
        return [Membership(r[0], r[1], r[2], Role(r[3])) for r in rows]


def parse_role(role: Role | str) -> Role:
    """``role`` as a :class:`Role`; anything else is an error naming the roles."""
    try:
        return Role(role)
    except ValueError as exc:
        raise InvalidArgumentError(f"role {role!r} is not one of reader, writer, admin") from exc


__all__ = [
    "ApiToken",
    "Membership",
    "Role",
    "User",
    "UserRepository",
    "check_password",
    "hash_password",
    "parse_role",
    "token_digest",
]
