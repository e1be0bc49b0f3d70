"""Upload receipts: proof that a caller sent a blob's bytes before it references the blob.

Blobs are deduplicated by hash across projects, so "record artifact X = blob <sha>" must
not let someone who merely knows a hash read another project's file. The server answers
every upload with ``HMAC(key, user:sha)``; a later reference from a non-admin must carry
it. The key lives in the database, so every worker and host agrees without shared memory.
"""

from __future__ import annotations

import hashlib
import hmac

from keel.exceptions import PermissionDeniedError
from keel.server._auth import Principal
from keel.server._state import AppState


def receipt(st: AppState, who: Principal, sha: str) -> str:
    subject = f"{who.user.id if who.user else 0}:{sha}".encode()
    return hmac.new(st.receipt_key, subject, hashlib.sha256).hexdigest()


def check_reference(st: AppState, who: Principal, sha: str, token: str | None) -> None:
    """Allow referencing ``sha`` to an admin, the uploader, or a reader of a project using it."""
    if who.is_admin:
        return
    if token and hmac.compare_digest(token, receipt(st, who, sha)):
        return
    if any(who.role_in(pid) is not None for pid in st.store.ownership.projects_referencing(sha)):
        return
    raise PermissionDeniedError(
        f"blob {sha[:12]}... was not uploaded by you; upload the file first (PUT /api/v1/blobs)"
    )


def can_read(st: AppState, who: Principal, sha: str) -> bool:
    if who.is_admin:
        return True
    return any(who.role_in(pid) is not None for pid in st.store.ownership.projects_referencing(sha))


__all__ = ["can_read", "check_reference", "receipt"]
