"""What the server checks on every request: credentials, project roles, server keys.

SQL only, like :mod:`keel.store.ownership`: a client never checks a token or a password
itself, it asks the server, which answers 401/403/404. Account administration (users,
tokens, roles) is :class:`keel.store.users.UserRepository`, which has an HTTP twin.
Thread-safe: every method runs its own transaction.
"""

from __future__ import annotations

import hmac
import secrets
from functools import cache

from sqlalchemy import select, update

from keel.store._db import SqlRepository, now_ms
from keel.store._upsert import upsert
from keel.store.users import (
    _LAST_USED_EVERY_MS,
    PM,
    SK,
    TOKEN_PREFIX,
    K,
    Role,
    U,
    User,
    _user,
    check_password,
    hash_password,
    token_digest,
)


class CredentialRepository(SqlRepository):
    """Authenticate tokens and passwords, look up project roles, keep server keys."""

    def verify_password(self, name: str, password: str) -> User | None:
        """The active user whose password this is, or None (same cost either way)."""
        with self._db.read() as conn:
            row = conn.execute(select(U).where(U.c.name == name)).first()
        stored = row.password_hash if row is not None and row.password_hash else _dummy_hash()
        ok = check_password(password, stored)
        if row is None or not row.password_hash or not ok or not row.is_active:
            return None
        return _user(row)

    def authenticate_token(self, secret: str) -> User | None:
        """The active user a valid, unexpired, unrevoked token belongs to; else None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        digest = token_digest(secret)
        token = K.c.id.label("token_id")  # ``id`` is the user's (the User is read by name)
        with self._db.read() as conn:
            row = conn.execute(
                select(token, K.c.digest, K.c.expires_at, K.c.revoked, K.c.last_used_at, U)
                .join(U, U.c.id == K.c.user_id)
                .where(K.c.digest == digest)
            ).first()
        if row is None or not hmac.compare_digest(row.digest, digest):
            return None
        now = now_ms()
        if row.revoked or not row.is_active or (row.expires_at and row.expires_at <= now):
            return None
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_EVERY_MS:
            with self._db.write() as conn:
                conn.execute(update(K).where(K.c.id == row.token_id).values(last_used_at=now))
        return _user(row)

    def role_of(self, project_id: int, user_id: int) -> Role | None:
        with self._db.read() as conn:
            role = conn.execute(
                select(PM.c.role).where(PM.c.project_id == project_id, PM.c.user_id == user_id)
            ).scalar()
        return None if role is None else Role(role)

    def memberships(self, user_id: int) -> dict[int, Role]:
        """Project id -> role for every project the user belongs to."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(PM.c.project_id, PM.c.role).where(PM.c.user_id == user_id)
            ).all()
        return {r[0]: Role(r[1]) for r in rows}

    def server_key(self, name: str) -> bytes:
        """A random secret shared by every server process; created on first use."""
        with self._db.read() as conn:
            found = conn.execute(select(SK.c.secret).where(SK.c.name == name)).scalar()
        if found is None:
            with self._db.write() as conn:
                upsert(
                    conn,
                    SK,
                    [{"name": name, "secret": secrets.token_hex(32), "created_at": now_ms()}],
                    keys=("name",),
                )
                found = conn.execute(select(SK.c.secret).where(SK.c.name == name)).scalar_one()
        return bytes.fromhex(found)


@cache
def _dummy_hash() -> str:
    """Checked against when the user is unknown, so timing does not reveal who exists."""
    return hash_password(secrets.token_hex(8))


__all__ = ["CredentialRepository"]
