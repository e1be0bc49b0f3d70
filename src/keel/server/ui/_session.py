"""Browser sessions and CSRF tokens for the web UI.

A session is a sealed cookie (AES-GCM under a key kept in the database, so every server
worker can open it): a random nonce, the API token the user signed in with (empty when
authentication is off) and an expiry. The token is checked again on every request, so a
revoked or expired token ends its sessions at once. The cookie is ``HttpOnly`` and
``SameSite=Strict``; state changes also need the synchronizer token
``HMAC(key, nonce)``, sent by the page's script in the ``X-Keel-CSRF`` header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from keel.exceptions import AuthenticationError, PermissionDeniedError
from keel.server._auth import Principal
from keel.server._state import get_state

COOKIE = "keel_ui"
CSRF_HEADER = "x-keel-csrf"
SESSION_MS = 12 * 3600 * 1000
_AAD = b"keel-ui-session-v1"


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    token: str  # the API token signed in with; "" for an anonymous browser
    expires_ms: int

    @classmethod
    def new(cls, token: str = "") -> Session:
        nonce = base64.urlsafe_b64encode(os.urandom(18)).decode()
        return cls(nonce, token, int(time.time() * 1000) + SESSION_MS)


class SessionCodec:
    """Seals and opens session cookies; derives the CSRF token of a session."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(hashlib.sha256(b"seal:" + key).digest())
        self._mac = hashlib.sha256(b"csrf:" + key).digest()

    def seal(self, session: Session) -> str:
        iv = os.urandom(12)
        data = json.dumps([session.nonce, session.token, session.expires_ms]).encode()
        return base64.urlsafe_b64encode(iv + self._aead.encrypt(iv, data, _AAD)).decode()

    def open(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if it is absent, forged or expired."""
        if not value or len(value) > 4096:
            return None
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.urlsafe_b64decode(value.encode())
            nonce, token, expires = json.loads(self._aead.decrypt(raw[:12], raw[12:], _AAD))
        except (binascii.Error, ValueError, InvalidTag, TypeError):
            return None
        if not isinstance(expires, int) or expires < time.time() * 1000:
            return None
        return Session(str(nonce), str(token), expires)

    def csrf(self, session: Session) -> str:
        return hmac.new(self._mac, session.nonce.encode(), hashlib.sha256).hexdigest()


def codec(request: Request) -> SessionCodec:
    found: SessionCodec = request.app.state.keel_ui.codec
    return found


def session_of(request: Request) -> Session:
    found: Session = request.state.ui_session
    return found


async def load_session(request: Request) -> None:
    """Router-wide: open the cookie and, when it carries a valid token, set the caller.

    Runs before each route's access decision (``reader``, ``writer`` ...), which then
    finds the principal already set. A browser without a session gets an anonymous one
    (sent back with the response) so that even its first form carries a CSRF token.
    """
    st = get_state(request)
    session = codec(request).open(request.cookies.get(COOKIE))
    if session is None:
        session = Session.new()
        request.state.ui_set_cookie = session
    request.state.ui_session = session
    if st.options.auth and session.token:
        user = st.store.credentials.authenticate_token(session.token)
        if user is not None:
            request.state.principal = Principal(user, user.is_admin, st)


async def csrf_ok(request: Request) -> None:
    """Refuse a state change without this session's synchronizer token (403)."""
    sent = request.headers.get(CSRF_HEADER, "")
    expected = codec(request).csrf(session_of(request))
    if not sent or not hmac.compare_digest(sent, expected):
        raise PermissionDeniedError(
            "this change was refused: its CSRF token is missing or stale. Reload the page "
            "and try again."
        )


def start_session(request: Request, token: str) -> None:
    """Sign in: a fresh nonce (no session fixation) carrying the checked token."""
    st = get_state(request)
    if st.options.auth:
        user = st.store.credentials.authenticate_token(token.strip()) if token.strip() else None
        if user is None:
            raise AuthenticationError(
                "that token is not valid (wrong, expired or revoked); create one with "
                "`keel server tokens create <user>`"
            )
    request.state.ui_set_cookie = Session.new(token.strip() if st.options.auth else "")


def end_session(request: Request) -> None:
    request.state.ui_set_cookie = Session.new()


def apply_cookie(request: Request, response: Response) -> Response:
    """Send the session cookie chosen during this request, if any."""
    session: Session | None = getattr(request.state, "ui_set_cookie", None)
    if session is not None:
        response.set_cookie(
            COOKIE,
            codec(request).seal(session),
            max_age=SESSION_MS // 1000,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "Session",
    "SessionCodec",
    "apply_cookie",
    "codec",
    "csrf_ok",
    "end_session",
    "load_session",
    "session_of",
    "start_session",
]
